import Foundation

/// The address carriers use to reach this server, as configured (never taken from a Host header).
///
/// Webhook signatures are computed over `webhookURL(path:query:)`; the `<Stream url>` in TwiML is
/// `streamURL(token:)`, whose scheme follows the public scheme: `https` → `wss`, `http` → `ws`.
public struct PublicURL: Sendable, Equatable, CustomStringConvertible {
    public enum Scheme: String, Sendable {
        case http
        case https
    }

    public var scheme: Scheme
    /// Host as written (lower-cased), IPv6 literals keep their brackets.
    public var host: String
    /// Port as written in the URL; nil when the URL had none.
    public var port: Int?
    /// A path prefix a proxy strips before forwarding (`/voice` in `https://x.com/voice`),
    /// without a trailing slash; "" when none.
    public var basePath: String

    public init(scheme: Scheme, host: String, port: Int? = nil, basePath: String = "") {
        self.scheme = scheme
        self.host = host.lowercased()
        self.port = port
        self.basePath = basePath
    }

    /// Parses `scheme://host[:port][/base]`. Query strings and fragments are refused: they have
    /// no meaning for a base URL and would end up inside signed URLs.
    public init(parsing text: String) throws(ConfigurationError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let schemeEnd = trimmed.range(of: "://") else {
            throw ConfigurationError("\(text) is not an absolute URL (expected http:// or https://)")
        }
        guard let scheme = Scheme(rawValue: trimmed[..<schemeEnd.lowerBound].lowercased()) else {
            throw ConfigurationError("\(text): scheme must be http or https")
        }
        var rest = trimmed[schemeEnd.upperBound...]
        guard !rest.contains("?"), !rest.contains("#") else {
            throw ConfigurationError("\(text): a public URL has no query or fragment")
        }
        var path = ""
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[slash...])
            rest = rest[..<slash]
        }
        while path.hasSuffix("/") { path.removeLast() }
        guard !rest.isEmpty, !rest.contains("@") else {
            throw ConfigurationError("\(text): missing host (or contains credentials)")
        }
        var host = String(rest)
        var port: Int?
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("]") {
            guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else {
                throw ConfigurationError("\(text): bad port")
            }
            port = p
            host = String(rest[..<colon])
        }
        guard !host.isEmpty else { throw ConfigurationError("\(text): missing host") }
        self.init(scheme: scheme, host: host, port: port, basePath: path)
    }

    /// `http://127.0.0.1:PORT`: what `serve` uses when PUBLIC_URL is unset.
    public static func local(port: Int) -> PublicURL {
        PublicURL(scheme: .http, host: "127.0.0.1", port: port)
    }

    private var authority: String {
        port.map { "\(host):\($0)" } ?? host
    }

    /// `https://host[:port]/base/path[?query]`, as Twilio requested (and signed) it.
    public func webhookURL(path: String, query: String? = nil) -> String {
        var url = "\(scheme.rawValue)://\(authority)\(basePath)\(path)"
        if let query, !query.isEmpty { url += "?\(query)" }
        return url
    }

    /// `wss://host[:port]/base/media/TOKEN` (`ws://` when the public URL is plain http).
    /// The token sits in the path because Twilio drops query strings from stream URLs.
    public func streamURL(token: String) -> String {
        streamURL(prefix: MediaRoute.prefix, token: token)
    }

    /// The same under another carrier's media prefix (`/telnyx/media/`).
    public func streamURL(prefix: String, token: String) -> String {
        let wsScheme = scheme == .https ? "wss" : "ws"
        return "\(wsScheme)://\(authority)\(basePath)\(prefix)\(token)"
    }

    public var description: String { webhookURL(path: "") }
}

/// The media socket's path: `/media/{token}`.
public enum MediaRoute {
    public static let prefix = "/media/"

    /// The token of a `/media/{token}` request path (query ignored), or nil for any other path.
    public static func token(fromPath uri: String, prefix: String = MediaRoute.prefix) -> String? {
        var path = Substring(uri)
        if let q = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<q] }
        guard path.hasPrefix(prefix) else { return nil }
        let token = path.dropFirst(prefix.count)
        guard !token.isEmpty, !token.contains("/") else { return nil }
        return String(token)
    }
}
