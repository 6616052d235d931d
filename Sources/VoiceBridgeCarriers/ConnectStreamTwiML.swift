/// The voice-webhook answer that bridges a call to our media socket:
/// `<Response><Connect><Stream url="wss://…/media/TOKEN">…</Stream></Connect></Response>`.
///
/// Verbs in `then` run after the server closes the socket (a transfer, a goodbye); with none,
/// Twilio ends the call when the socket closes.
public struct ConnectStreamTwiML: Sendable, Equatable {
    public var stream: TwiMLStream
    public var then: [TwiMLVerb]

    public var url: String {
        get { stream.url }
        set { stream.url = newValue }
    }

    public var parameters: [TwiMLParameter] {
        get { stream.parameters }
        set { stream.parameters = newValue }
    }

    public init(
        url: String,
        parameters: [(name: String, value: String)] = [],
        statusCallback: String? = nil,
        statusCallbackMethod: String? = nil,
        connectAction: String? = nil,
        then: [TwiMLVerb] = []
    ) {
        self.stream = TwiMLStream(
            url: url,
            statusCallback: statusCallback,
            statusCallbackMethod: statusCallbackMethod,
            parameters: parameters.map { TwiMLParameter(name: $0.name, value: $0.value) },
            connectAction: connectAction
        )
        self.then = then
    }

    public init(stream: TwiMLStream, then: [TwiMLVerb] = []) {
        self.stream = stream
        self.then = then
    }

    public func render() -> String {
        var output = #"<?xml version="1.0" encoding="UTF-8"?><Response>"#
        output += TwiMLVerb.connectStream(stream).render()
        for verb in then {
            output += verb.render()
        }
        return output + "</Response>"
    }
}
