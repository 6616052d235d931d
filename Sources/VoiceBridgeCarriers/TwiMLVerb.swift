/// The TwiML verbs VoiceBridge writes or its phone simulator understands.
public enum TwiMLVerb: Sendable, Equatable {
    /// `<Connect><Stream …>`: a bidirectional media stream; blocks until the server closes it.
    case connectStream(TwiMLStream)
    case say(text: String, voice: String?, language: String?)
    case play(url: String, loop: Int)
    case pause(seconds: Int)
    case dial(TwiMLDial)
    case redirect(url: String, method: String?)
    case hangup

    /// This verb as TwiML, with every attribute and text escaped.
    public func render() -> String {
        switch self {
        case .connectStream(let stream):
            return "<Connect\(Self.attributes([("action", stream.connectAction)]))>\(stream.render())</Connect>"
        case .say(let text, let voice, let language):
            return "<Say\(Self.attributes([("voice", voice), ("language", language)]))>\(XMLEscaping.text(text))</Say>"
        case .play(let url, let loop):
            let loopAttribute = loop == 1 ? "" : Self.attributes([("loop", String(loop))])
            return "<Play\(loopAttribute)>\(XMLEscaping.text(url))</Play>"
        case .pause(let seconds):
            return "<Pause\(Self.attributes([("length", String(seconds))]))/>"
        case .dial(let dial):
            return dial.render()
        case .redirect(let url, let method):
            return "<Redirect\(Self.attributes([("method", method)]))>\(XMLEscaping.text(url))</Redirect>"
        case .hangup:
            return "<Hangup/>"
        }
    }

    /// ` name="value"` for each pair with a value, in the given order.
    static func attributes(_ pairs: [(String, String?)]) -> String {
        var output = ""
        for (name, value) in pairs {
            guard let value else { continue }
            output += " \(name)=\"\(XMLEscaping.attribute(value))\""
        }
        return output
    }
}

public struct TwiMLParameter: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// `<Stream>` inside `<Connect>`. Twilio drops a query string from `url`, so per-call data
/// belongs in the path or in `parameters` (delivered as `start.customParameters`).
public struct TwiMLStream: Sendable, Equatable {
    public var url: String
    public var name: String?
    public var track: String?
    public var statusCallback: String?
    public var statusCallbackMethod: String?
    public var parameters: [TwiMLParameter]
    /// The enclosing `<Connect action="…">`: where Twilio asks for the next TwiML once the socket
    /// closes (a transfer the flow decided on, or a hang-up).
    public var connectAction: String?

    public init(
        url: String,
        name: String? = nil,
        track: String? = nil,
        statusCallback: String? = nil,
        statusCallbackMethod: String? = nil,
        parameters: [TwiMLParameter] = [],
        connectAction: String? = nil
    ) {
        self.connectAction = connectAction
        self.url = url
        self.name = name
        self.track = track
        self.statusCallback = statusCallback
        self.statusCallbackMethod = statusCallbackMethod
        self.parameters = parameters
    }

    public func render() -> String {
        let attributes = TwiMLVerb.attributes([
            ("url", url), ("name", name), ("track", track),
            ("statusCallback", statusCallback), ("statusCallbackMethod", statusCallbackMethod),
        ])
        guard !parameters.isEmpty else { return "<Stream\(attributes)/>" }
        var output = "<Stream\(attributes)>"
        for parameter in parameters {
            output += "<Parameter\(TwiMLVerb.attributes([("name", parameter.name), ("value", parameter.value)]))/>"
        }
        return output + "</Stream>"
    }
}

/// `<Dial>`: the target is the element's text or one nested noun (`<Number>`, `<Sip>`, `<Client>`).
public struct TwiMLDial: Sendable, Equatable {
    public var target: String
    /// The nested noun's element name, or nil when the number is the `<Dial>` text itself.
    public var noun: String?
    /// `<Dial>`'s own attributes (callerId, action, timeout, …), in document order.
    public var attributes: [TwiMLParameter]

    public init(target: String, noun: String? = nil, attributes: [TwiMLParameter] = []) {
        self.target = target
        self.noun = noun
        self.attributes = attributes
    }

    public func attribute(_ name: String) -> String? {
        attributes.first { $0.name == name }?.value
    }

    public func render() -> String {
        let dialAttributes = TwiMLVerb.attributes(attributes.map { ($0.name, $0.value) })
        let body = XMLEscaping.text(target)
        if let noun {
            return "<Dial\(dialAttributes)><\(noun)>\(body)</\(noun)></Dial>"
        }
        return "<Dial\(dialAttributes)>\(body)</Dial>"
    }
}
