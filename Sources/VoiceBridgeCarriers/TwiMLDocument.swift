/// Reads TwiML the way the phone simulator needs it: the verbs of `<Response>`, in order.
///
/// Like Twilio, it refuses what it does not understand (an unknown verb, a missing required
/// attribute) instead of skipping it, so a mistake in the TwiML we generate fails loudly.
public enum TwiMLDocument {
    public static func parse(_ xml: String) throws(TwiMLError) -> [TwiMLVerb] {
        let root = try XMLMiniParser.parse(xml)
        guard root.name == "Response" else { throw .notTwiML(root: root.name) }
        try requireNoText(in: root)
        var verbs: [TwiMLVerb] = []
        for element in root.elementChildren {
            verbs.append(try verb(from: element))
        }
        return verbs
    }

    private static func verb(from element: XMLElementNode) throws(TwiMLError) -> TwiMLVerb {
        switch element.name {
        case "Connect":
            try requireNoText(in: element)
            let nouns = element.elementChildren
            guard nouns.count == 1, let stream = nouns.first else {
                throw .invalidContent(element: "Connect", reason: "expected exactly one <Stream>")
            }
            guard stream.name == "Stream" else { throw .unsupportedVerb("Connect/\(stream.name)") }
            var parsed = try self.stream(from: stream)
            parsed.connectAction = element.attribute("action")
            return .connectStream(parsed)

        case "Say":
            guard element.elementChildren.isEmpty else {
                throw .invalidContent(element: "Say", reason: "SSML elements are not supported")
            }
            return .say(text: element.textContent, voice: element.attribute("voice"), language: element.attribute("language"))

        case "Play":
            try requireNoElements(in: element)
            let loop = try integerAttribute("loop", of: element, default: 1)
            return .play(url: trimmed(element.textContent), loop: loop)

        case "Pause":
            try requireEmpty(element)
            return .pause(seconds: try integerAttribute("length", of: element, default: 1))

        case "Dial":
            let attributes = element.attributes.map { TwiMLParameter(name: $0.name, value: $0.value) }
            let nouns = element.elementChildren
            if nouns.isEmpty {
                let target = trimmed(element.textContent)
                guard !target.isEmpty else { throw .invalidContent(element: "Dial", reason: "no number to dial") }
                return .dial(TwiMLDial(target: target, attributes: attributes))
            }
            try requireNoText(in: element)
            guard nouns.count == 1, let noun = nouns.first, ["Number", "Sip", "Client"].contains(noun.name) else {
                throw .invalidContent(element: "Dial", reason: "expected one <Number>, <Sip> or <Client>")
            }
            return .dial(TwiMLDial(target: trimmed(noun.textContent), noun: noun.name, attributes: attributes))

        case "Redirect":
            try requireNoElements(in: element)
            let url = trimmed(element.textContent)
            guard !url.isEmpty else { throw .invalidContent(element: "Redirect", reason: "no URL") }
            return .redirect(url: url, method: element.attribute("method"))

        case "Hangup":
            try requireEmpty(element)
            return .hangup

        default:
            throw .unsupportedVerb(element.name)
        }
    }

    private static func stream(from element: XMLElementNode) throws(TwiMLError) -> TwiMLStream {
        guard let url = element.attribute("url") else { throw .missingAttribute(element: "Stream", attribute: "url") }
        try requireNoText(in: element)
        var parameters: [TwiMLParameter] = []
        for child in element.elementChildren {
            guard child.name == "Parameter" else {
                throw .invalidContent(element: "Stream", reason: "unexpected <\(child.name)>")
            }
            try requireEmpty(child)
            guard let name = child.attribute("name") else {
                throw .missingAttribute(element: "Parameter", attribute: "name")
            }
            guard let value = child.attribute("value") else {
                throw .missingAttribute(element: "Parameter", attribute: "value")
            }
            parameters.append(TwiMLParameter(name: name, value: value))
        }
        return TwiMLStream(
            url: url,
            name: element.attribute("name"),
            track: element.attribute("track"),
            statusCallback: element.attribute("statusCallback"),
            statusCallbackMethod: element.attribute("statusCallbackMethod"),
            parameters: parameters
        )
    }

    private static func integerAttribute(_ name: String, of element: XMLElementNode, default defaultValue: Int) throws(TwiMLError) -> Int {
        guard let text = element.attribute(name) else { return defaultValue }
        guard let value = Int(trimmed(text)), value >= 0 else {
            throw .invalidAttribute(element: element.name, attribute: name, value: text)
        }
        return value
    }

    private static func trimmed(_ text: String) -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        guard let first = text.firstIndex(where: { !isSpace($0) }), let last = text.lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(text[first...last])
    }

    private static func requireNoText(in element: XMLElementNode) throws(TwiMLError) {
        for case .text(let text) in element.children where !trimmed(text).isEmpty {
            throw .invalidContent(element: element.name, reason: "unexpected text \"\(trimmed(text))\"")
        }
    }

    private static func requireNoElements(in element: XMLElementNode) throws(TwiMLError) {
        if let child = element.elementChildren.first {
            throw .invalidContent(element: element.name, reason: "unexpected <\(child.name)>")
        }
    }

    private static func requireEmpty(_ element: XMLElementNode) throws(TwiMLError) {
        try requireNoElements(in: element)
        try requireNoText(in: element)
    }
}

public enum TwiMLError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformedXML(String)
    case notTwiML(root: String)
    case unsupportedVerb(String)
    case missingAttribute(element: String, attribute: String)
    case invalidAttribute(element: String, attribute: String, value: String)
    case invalidContent(element: String, reason: String)

    public var description: String {
        switch self {
        case .malformedXML(let detail): return "malformed XML: \(detail)"
        case .notTwiML(let root): return "root element is <\(root)>, expected <Response>"
        case .unsupportedVerb(let verb): return "unsupported TwiML verb <\(verb)>"
        case .missingAttribute(let element, let attribute): return "<\(element)> is missing its \(attribute) attribute"
        case .invalidAttribute(let element, let attribute, let value):
            return "<\(element)> has an invalid \(attribute)=\"\(value)\""
        case .invalidContent(let element, let reason): return "<\(element)>: \(reason)"
        }
    }
}
