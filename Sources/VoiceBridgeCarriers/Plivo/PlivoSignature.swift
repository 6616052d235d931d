/// Plivo's `X-Plivo-Signature-V3`: base64(HMAC-SHA256(auth token, signed string + "." + nonce)),
/// where the signed string is built from the URL and the parameters (carriers.md §2.4, after
/// Plivo's own helper):
///
/// - GET (the media socket's upgrade): the URL without its query, then `?` and the query
///   parameters merged with the request's, sorted by name (values sorted too), as `k=v&k=v`.
/// - POST with an empty form: the URL as requested.
/// - POST with a form: the URL without its query, `?`, the sorted query as `k=v&…`, a `.` if there
///   was a query, then every form field as `name + value`, sorted, with no separators.
///
/// The header may carry several comma-separated signatures (one per key Plivo holds); any
/// matching one is enough.
public struct PlivoSignature: Sendable {
    public static let signatureHeader = "X-Plivo-Signature-V3"
    public static let nonceHeader = "X-Plivo-Signature-V3-Nonce"

    public enum Method: Sendable {
        case get, post
    }

    private let key: [UInt8]

    public init(authToken: String) {
        key = Array(authToken.utf8)
    }

    public func compute(method: Method, url: String, parameters: [(String, String)], nonce: String) -> String {
        let message = Self.signedString(method: method, url: url, parameters: parameters) + "." + nonce
        return Base64Fast.encode(CryptoPrimitives.hmac(.sha256, key: key, message: Array(message.utf8)))
    }

    /// True if any of the comma-separated signatures in `header` matches; every candidate costs
    /// the same whichever one matches.
    public func isValid(header: String, nonce: String, method: Method, url: String, parameters: [(String, String)]) -> Bool {
        guard !nonce.isEmpty else { return false }
        let expected = Array(compute(method: method, url: url, parameters: parameters, nonce: nonce).utf8)
        var valid = false
        for candidate in header.split(separator: ",") {
            let presented = Array(candidate.trimmingCharacters(in: " ").utf8)
            valid = CryptoPrimitives.constantTimeEquals(expected, presented) || valid
        }
        return valid
    }

    public static func signedString(method: Method, url: String, parameters: [(String, String)]) -> String {
        let (base, query) = split(url)
        let queryPairs = query.map(FormURLEncoded.parse) ?? []
        switch method {
        case .get:
            let rendered = sorted(queryPairs + parameters).map { "\($0.0)=\($0.1)" }.joined(separator: "&")
            return rendered.isEmpty ? base : base + "?" + rendered
        case .post:
            guard !parameters.isEmpty else { return url }
            var text = base + "?" + sorted(queryPairs).map { "\($0.0)=\($0.1)" }.joined(separator: "&")
            if !queryPairs.isEmpty { text += "." }
            for (name, value) in sorted(parameters) { text += name + value }
            return text
        }
    }

    /// By name, then by value, comparing UTF-8 bytes as Plivo's helper compares Python strings.
    private static func sorted(_ pairs: [(String, String)]) -> [(String, String)] {
        pairs.sorted { lhs, rhs in
            lhs.0 == rhs.0 ? lhs.1.utf8.lexicographicallyPrecedes(rhs.1.utf8) : lhs.0.utf8.lexicographicallyPrecedes(rhs.0.utf8)
        }
    }

    private static func split(_ url: String) -> (base: String, query: String?) {
        guard let mark = url.firstIndex(of: "?") else { return (url, nil) }
        let query = String(url[url.index(after: mark)...])
        return (String(url[..<mark]), query.isEmpty ? nil : query)
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> Substring {
        var s = self
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return s
    }
}
