import VoiceBridgeCarriers

extension TwiMLStream {
    /// The first `<Connect><Stream>` of a TwiML answer.
    public static func first(inTwiML xml: String) throws -> TwiMLStream {
        try connect(inTwiML: xml).stream
    }

    /// The first `<Connect><Stream>` of a TwiML answer and the verbs after it, which Twilio runs
    /// once the server closes the socket (a transfer's `<Dial>`, a goodbye `<Say>`…).
    public static func connect(inTwiML xml: String) throws -> (stream: TwiMLStream, after: [TwiMLVerb]) {
        let verbs = try TwiMLDocument.parse(xml)
        for (index, verb) in verbs.enumerated() {
            if case .connectStream(let stream) = verb { return (stream, Array(verbs[(index + 1)...])) }
        }
        throw SimulatorError.twiml("no <Connect><Stream> in the answer")
    }
}

/// Where to connect: a parsed `http`/`ws` URL.
public struct SimulatorEndpoint: Sendable, Equatable {
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
    /// A relative url (`/media/abc`) is resolved against the webhook's host, as `wss` (Twilio's only scheme).
    public static func stream(from url: String, relativeTo webhookURL: String? = nil) throws(SimulatorError) -> SimulatorEndpoint {
        var endpoint: SimulatorEndpoint
        if !url.contains("://"), let webhookURL {
            let base = try SimulatorEndpoint(parsing: webhookURL)
            guard url.hasPrefix("/") else { throw .url(url, "a relative <Stream> url must start with /") }
            endpoint = base
            endpoint.scheme = "wss"
            endpoint.target = url
        } else {
            endpoint = try SimulatorEndpoint(parsing: url)
        }
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
