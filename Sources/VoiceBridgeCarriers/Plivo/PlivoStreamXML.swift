/// The Plivo XML answer that bridges a call to our media socket (carriers.md §2.1):
///
/// `<Response><Stream bidirectional="true" keepCallAlive="true" contentType="audio/x-mulaw;rate=8000"
/// statusCallbackUrl="…">wss://…/plivo/media/TOKEN</Stream><Redirect method="POST">…</Redirect></Response>`
///
/// - The URL is the element's text, not an attribute.
/// - `bidirectional="true"` is what lets our audio reach the caller.
/// - `keepCallAlive="true"`: the stream runs alone and the next element runs only when the
///   socket closes. Without it the call either ends or runs on while the bridge talks.
/// - `contentType` is always set: Plivo's pages disagree on its default.
/// - The `<Redirect>` after the stream asks us for the rest of the call (a flow's transfer, or a
///   hang-up), as Twilio's `<Connect action>` does.
public struct PlivoStreamXML: Sendable, Equatable {
    public var url: String
    public var contentType: String
    public var statusCallback: String?
    /// Where Plivo fetches what follows the stream; nil: the call ends with the stream.
    public var afterStream: String?

    public init(url: String, contentType: String = PlivoDialect.contentType(.mulaw8kMono), statusCallback: String? = nil, afterStream: String? = nil) {
        self.url = url
        self.contentType = contentType
        self.statusCallback = statusCallback
        self.afterStream = afterStream
    }

    static let head = #"<?xml version="1.0" encoding="UTF-8"?><Response>"#

    public func render() -> String {
        var xml = Self.head + #"<Stream bidirectional="true" keepCallAlive="true" contentType=""#
        xml += XMLEscaping.attribute(contentType) + "\""
        if let statusCallback {
            xml += #" statusCallbackUrl=""# + XMLEscaping.attribute(statusCallback) + #"" statusCallbackMethod="POST""#
        }
        xml += ">" + XMLEscaping.text(url) + "</Stream>"
        if let afterStream {
            xml += #"<Redirect method="POST">"# + XMLEscaping.text(afterStream) + "</Redirect>"
        }
        return xml + "</Response>"
    }

    /// What follows a stream in Plivo XML: a `<Dial><Number>` transfer, the flow's own markup,
    /// or a hang-up.
    public static func document(dial number: String?, markup: String?) -> String {
        if let markup { return markup.contains("<Response") ? markup : head + markup + "</Response>" }
        if let number {
            let target = number.hasPrefix("sip:") ? "User" : "Number"
            return head + "<Dial><\(target)>" + XMLEscaping.text(number) + "</\(target)></Dial></Response>"
        }
        return head + "<Hangup/></Response>"
    }

    /// Reads an answer as the simulator's Plivo does: one bidirectional `<Stream>` that keeps the
    /// call alive, optionally followed by a `<Redirect>`. Anything else is refused, so a mistake
    /// in the XML we generate fails loudly.
    public static func parse(_ xml: String) throws(TwiMLError) -> PlivoStreamXML {
        let root = try XMLMiniParser.parse(xml)
        guard root.name == "Response" else { throw .notTwiML(root: root.name) }
        let elements = root.elementChildren
        guard let stream = elements.first, stream.name == "Stream" else {
            throw .invalidContent(element: "Response", reason: "expected <Stream> first")
        }
        guard stream.elementChildren.isEmpty else { throw .invalidContent(element: "Stream", reason: "the URL is its only content") }
        for (attribute, required) in [("bidirectional", "true"), ("keepCallAlive", "true")] where stream.attribute(attribute) != required {
            throw .invalidAttribute(element: "Stream", attribute: attribute, value: stream.attribute(attribute) ?? "(false by default)")
        }
        if let track = stream.attribute("audioTrack"), track != "inbound" {
            throw .invalidAttribute(element: "Stream", attribute: "audioTrack", value: track)
        }
        guard let contentType = stream.attribute("contentType") else {
            throw .missingAttribute(element: "Stream", attribute: "contentType")
        }
        let url = stream.textContent.trimmingWhitespace
        guard url.hasPrefix("ws://") || url.hasPrefix("wss://") else {
            throw .invalidContent(element: "Stream", reason: "expected a ws:// or wss:// URL, got \"\(url)\"")
        }
        var answer = PlivoStreamXML(url: url, contentType: contentType, statusCallback: stream.attribute("statusCallbackUrl"))
        for element in elements.dropFirst() {
            guard element.name == "Redirect", answer.afterStream == nil else { throw .unsupportedVerb(element.name) }
            answer.afterStream = element.textContent.trimmingWhitespace
        }
        return answer
    }
}
