/// The TeXML answer that bridges a Telnyx call to our media socket (carriers.md §1.1):
///
/// `<Response><Connect><Stream url="wss://…/telnyx/media/TOKEN" bidirectionalMode="rtp"
/// bidirectionalCodec="PCMU" bidirectionalSamplingRate="8000"/></Connect><Redirect>…</Redirect></Response>`
///
/// - `bidirectionalMode="rtp"` is what makes our audio reach the caller; Telnyx's default (`mp3`)
///   silently drops live audio.
/// - TeXML's `<Connect>` runs synchronously and has no `action` attribute: what follows it runs
///   when the stream ends. A `<Redirect>` there asks us for the rest of the call (a flow's
///   transfer, or a hang-up), as Twilio's `<Connect action>` does.
public struct TelnyxConnectStream: Sendable, Equatable {
    public var url: String
    public var codec: String
    public var samplingRate: Int
    /// Where Telnyx fetches what follows the stream; nil: the call ends with the stream.
    public var afterStream: String?

    public init(url: String, codec: String = "PCMU", samplingRate: Int = 8000, afterStream: String? = nil) {
        self.url = url
        self.codec = codec
        self.samplingRate = samplingRate
        self.afterStream = afterStream
    }

    public func render() -> String {
        var xml = #"<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url=""#
        xml += XMLEscaping.attribute(url)
        xml += #"" track="inbound_track" bidirectionalMode="rtp" bidirectionalCodec=""#
        xml += XMLEscaping.attribute(codec)
        xml += #"" bidirectionalSamplingRate="\#(samplingRate)"/></Connect>"#
        if let afterStream {
            xml += #"<Redirect method="POST">"# + XMLEscaping.text(afterStream) + "</Redirect>"
        }
        return xml + "</Response>"
    }

    /// Reads an answer as the simulator's Telnyx does: exactly one `<Connect><Stream>` with live
    /// (RTP) audio back, optionally followed by a `<Redirect>`. Anything else is refused, so a
    /// mistake in the TeXML we generate fails loudly.
    public static func parse(_ xml: String) throws(TwiMLError) -> TelnyxConnectStream {
        let root = try XMLMiniParser.parse(xml)
        guard root.name == "Response" else { throw .notTwiML(root: root.name) }
        let verbs = root.elementChildren
        guard let connect = verbs.first, connect.name == "Connect" else {
            throw .invalidContent(element: "Response", reason: "expected <Connect> first")
        }
        guard connect.elementChildren.count == 1, let stream = connect.elementChildren.first, stream.name == "Stream" else {
            throw .invalidContent(element: "Connect", reason: "expected exactly one <Stream>")
        }
        guard let url = stream.attribute("url"), !url.isEmpty else { throw .missingAttribute(element: "Stream", attribute: "url") }
        guard stream.attribute("bidirectionalMode") == "rtp" else {
            throw .invalidAttribute(element: "Stream", attribute: "bidirectionalMode", value: stream.attribute("bidirectionalMode") ?? "(mp3 by default)")
        }
        let codec = stream.attribute("bidirectionalCodec") ?? "PCMU"
        let rateText = stream.attribute("bidirectionalSamplingRate") ?? "8000"
        guard let rate = Int(rateText) else {
            throw .invalidAttribute(element: "Stream", attribute: "bidirectionalSamplingRate", value: rateText)
        }
        var answer = TelnyxConnectStream(url: url, codec: codec, samplingRate: rate)
        for verb in verbs.dropFirst() {
            guard verb.name == "Redirect", answer.afterStream == nil else { throw .unsupportedVerb(verb.name) }
            answer.afterStream = verb.textContent.trimmingWhitespace
        }
        return answer
    }
}

extension String {
    var trimmingWhitespace: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
