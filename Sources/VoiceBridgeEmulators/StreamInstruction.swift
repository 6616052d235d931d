/// The `<Connect><Stream url>` of a TwiML answer, with its `<Parameter>`s in document order.
public struct StreamInstruction: Sendable, Equatable {
    public struct Parameter: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public var url: String
    public var parameters: [Parameter]

    public init(url: String, parameters: [Parameter]) {
        self.url = url
        self.parameters = parameters
    }

    /// Finds the first `<Connect><Stream>` in a TwiML document.
    /// A small tag scanner standing in for VoiceBridgeCarriers' `TwiMLDocument` until it lands.
    public static func parse(twiml: String) throws(SimulatorError) -> StreamInstruction {
        var tags = XMLTagScanner(twiml)
        var inConnect = false
        var stream: StreamInstruction?
        while let tag = tags.next() {
            switch (tag.name, tag.kind) {
            case ("Connect", .open): inConnect = true
            case ("Connect", .close): inConnect = false
            case ("Stream", .open), ("Stream", .selfClosing):
                guard inConnect, stream == nil else { continue }
                guard let url = tag.attributes["url"], !url.isEmpty else { throw .twiml("<Stream> has no url") }
                stream = StreamInstruction(url: url, parameters: [])
                if tag.kind == .selfClosing { return stream! }
            case ("Stream", .close):
                if let stream { return stream }
            case ("Parameter", _):
                guard stream != nil else { continue }
                guard let name = tag.attributes["name"] else { throw .twiml("<Parameter> has no name") }
                stream!.parameters.append(Parameter(name: name, value: tag.attributes["value"] ?? ""))
            default: continue
            }
        }
        if let stream { return stream }
        throw .twiml("no <Connect><Stream> in the answer")
    }
}

struct XMLTagScanner {
    enum Kind { case open, close, selfClosing }
    struct Tag {
        var name: String
        var kind: Kind
        var attributes: [String: String]
    }

    private let text: [Character]
    private var i = 0

    init(_ xml: String) { text = Array(xml) }

    mutating func next() -> Tag? {
        while i < text.count {
            guard text[i] == "<" else {
                i += 1
                continue
            }
            i += 1
            guard i < text.count else { return nil }
            if text[i] == "?" || text[i] == "!" {
                // Declarations, comments and CDATA carry nothing we need.
                if text[i...].starts(with: "!--") {
                    while i + 2 < text.count, !(text[i] == "-" && text[i + 1] == "-" && text[i + 2] == ">") { i += 1 }
                }
                while i < text.count, text[i] != ">" { i += 1 }
                continue
            }
            var kind = Kind.open
            if text[i] == "/" {
                kind = .close
                i += 1
            }
            var name = ""
            while i < text.count, !text[i].isWhitespace, text[i] != ">", text[i] != "/" {
                name.append(text[i])
                i += 1
            }
            var attributes: [String: String] = [:]
            while i < text.count {
                while i < text.count, text[i].isWhitespace { i += 1 }
                guard i < text.count else { break }
                if text[i] == ">" {
                    i += 1
                    break
                }
                if text[i] == "/" {
                    kind = .selfClosing
                    i += 1
                    continue
                }
                var key = ""
                while i < text.count, text[i] != "=", !text[i].isWhitespace, text[i] != ">", text[i] != "/" {
                    key.append(text[i])
                    i += 1
                }
                while i < text.count, text[i].isWhitespace { i += 1 }
                guard i < text.count, text[i] == "=" else { continue }
                i += 1
                while i < text.count, text[i].isWhitespace { i += 1 }
                guard i < text.count, text[i] == "\"" || text[i] == "'" else { continue }
                let quote = text[i]
                i += 1
                var value = ""
                while i < text.count, text[i] != quote {
                    value.append(text[i])
                    i += 1
                }
                i += 1
                attributes[key] = Self.unescape(value)
            }
            return Tag(name: name, kind: kind, attributes: attributes)
        }
        return nil
    }

    static func unescape(_ s: String) -> String {
        guard s.contains("&") else { return s }
        var out = ""
        var rest = Substring(s)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";") else { break }
            let entity = rest[rest.index(after: amp)..<semi]
            switch entity {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                let number = entity.hasPrefix("#x") ? UInt32(entity.dropFirst(2), radix: 16)
                    : entity.hasPrefix("#") ? UInt32(entity.dropFirst()) : nil
                if let number, let scalar = Unicode.Scalar(number) {
                    out.unicodeScalars.append(scalar)
                } else {
                    out += "&\(entity);"
                }
            }
            rest = rest[rest.index(after: semi)...]
        }
        return out + rest
    }
}

/// Where to connect: a parsed `http`/`ws` URL.
public struct Endpoint: Sendable, Equatable {
    public var scheme: String
    public var host: String
    public var port: Int
    /// Path plus query, as sent on the request line.
    public var target: String

    /// Parses `scheme://host[:port]/path?query`.
    public init(parsing url: String) throws(SimulatorError) {
        guard let colon = url.firstIndex(of: ":"), url[colon...].hasPrefix("://") else { throw .url(url, "no scheme") }
        scheme = url[..<colon].lowercased()
        let rest = url[url.index(colon, offsetBy: 3)...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        var pathAndQuery = String(rest[authorityEnd...])
        if let hash = pathAndQuery.firstIndex(of: "#") { pathAndQuery = String(pathAndQuery[..<hash]) }
        if !pathAndQuery.hasPrefix("/") { pathAndQuery = "/" + pathAndQuery }
        target = pathAndQuery
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw .url(url, "bad IPv6 host") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            portText = authority[authority.index(after: colon)...]
        } else {
            host = String(authority)
        }
        guard !host.isEmpty else { throw .url(url, "no host") }
        let defaultPort: Int? =
            switch scheme {
            case "http", "ws": 80
            case "https", "wss": 443
            default: nil
            }
        guard let defaultPort else { throw .url(url, "unsupported scheme '\(scheme)'") }
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else { throw .url(url, "bad port") }
            port = p
        } else {
            port = defaultPort
        }
    }

    public var isLoopback: Bool {
        let h = host.lowercased()
        return h == "localhost" || h == "::1" || h.hasPrefix("127.")
    }

    /// The `Host` header value.
    public var hostHeader: String {
        let h = host.contains(":") ? "[\(host)]" : host
        let defaultPort = (scheme == "https" || scheme == "wss") ? 443 : 80
        return port == defaultPort ? h : "\(h):\(port)"
    }

    /// What Twilio connects to for a `<Stream url>`: the query string dropped (Twilio drops it), and
    /// `wss` on a loopback host mapped to plain `ws`, since the simulator has no TLS.
    public static func stream(from url: String) throws(SimulatorError) -> Endpoint {
        var endpoint = try Endpoint(parsing: url)
        if let q = endpoint.target.firstIndex(of: "?") { endpoint.target = String(endpoint.target[..<q]) }
        switch endpoint.scheme {
        case "ws": break
        case "wss":
            guard endpoint.isLoopback else { throw .url(url, "wss:// needs TLS, which the simulator only skips on loopback") }
            endpoint.scheme = "ws"
        default: throw .url(url, "a <Stream> url must be ws:// or wss://")
        }
        return endpoint
    }
}

public enum SimulatorError: Error, Equatable, CustomStringConvertible {
    case url(String, String)
    case twiml(String)
    case webhook(String)
    case connect(String)
    case audio(String)

    public var description: String {
        switch self {
        case .url(let url, let why): "bad URL \(url): \(why)"
        case .twiml(let why): "TwiML: \(why)"
        case .webhook(let why): "webhook: \(why)"
        case .connect(let why): "stream connect: \(why)"
        case .audio(let why): "audio: \(why)"
        }
    }
}
