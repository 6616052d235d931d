/// Twilio's `X-Twilio-Signature`: base64(HMAC-SHA1(auth token, URL + sorted name/value pairs)).
///
/// The URL is the one Twilio requested, query string included and left encoded as sent. Form
/// parameters are sorted by name, then value, with byte-identical pairs counted once (as both
/// official helper libraries do), and appended as `name + value` with no separators.
public struct TwilioSignature: Sendable {
    private let key: [UInt8]

    public init(authToken: String) {
        key = Array(authToken.utf8)
    }

    /// The base64 signature Twilio would send for this request.
    public func compute(url: String, parameters: [(String, String)]) -> String {
        Base64Fast.encode(mac(url: url, parameters: parameters))
    }

    /// True if `signature` matches the request, with the URL as given or with its default port
    /// added or removed: Twilio's signer is inconsistent about the port, so its own helpers
    /// accept either spelling.
    public func isValid(signature: String, url: String, parameters: [(String, String)]) -> Bool {
        let presented = Array(signature.utf8)
        var valid = false
        for candidate in Self.urlVariants(url) {
            let expected = Array(compute(url: candidate, parameters: parameters).utf8)
            // No short-circuit: every variant costs the same whichever one matches.
            valid = CryptoPrimitives.constantTimeEquals(expected, presented) || valid
        }
        return valid
    }

    /// Validates a request with a JSON (non-form) body. Twilio then signs the URL alone, which
    /// carries `bodySHA256=<lowercase hex SHA-256 of the raw body>` in its query; both the
    /// signature and the hash must match.
    public func isValid(signature: String, url: String, body: [UInt8]) -> Bool {
        guard let claimedHash = FormURLEncoded.queryValue(named: "bodySHA256", in: url) else { return false }
        let actualHash = CryptoPrimitives.lowercaseHex(CryptoPrimitives.sha256(body))
        let bodyMatches = CryptoPrimitives.constantTimeEquals(Array(actualHash.utf8), Array(claimedHash.utf8))
        let signatureMatches = isValid(signature: signature, url: url, parameters: [])
        return bodyMatches && signatureMatches
    }

    public func isValid(signature: String, url: String, body: String) -> Bool {
        isValid(signature: signature, url: url, body: Array(body.utf8))
    }

    private func mac(url: String, parameters: [(String, String)]) -> [UInt8] {
        var message = Array(url.utf8)
        let pairs = parameters.map { (Array($0.0.utf8), Array($0.1.utf8)) }.sorted { lhs, rhs in
            lhs.0 == rhs.0 ? lhs.1.lexicographicallyPrecedes(rhs.1) : lhs.0.lexicographicallyPrecedes(rhs.0)
        }
        var previous: ([UInt8], [UInt8])?
        for pair in pairs {
            if let previous, previous == pair { continue }
            message += pair.0
            message += pair.1
            previous = pair
        }
        return CryptoPrimitives.hmac(.sha1, key: key, message: message)
    }

    /// The URL as given, with the scheme's default port added if it has none, and with any
    /// port removed. Everything but the authority is left byte-for-byte as it was.
    static func urlVariants(_ url: String) -> [String] {
        var variants = [url]
        guard let parts = AuthorityParts(url) else { return variants }
        if parts.port == nil {
            if let port = parts.defaultPort {
                variants.append(parts.rebuilt(port: port))
            }
        } else {
            variants.append(parts.rebuilt(port: nil))
        }
        return variants
    }

    /// `scheme://[userinfo@]host[:port]` followed by the rest, split just enough to swap the port.
    private struct AuthorityParts {
        var scheme: Substring
        var beforePort: Substring  // scheme://userinfo@host
        var port: Substring?
        var rest: Substring  // path, query, fragment

        init?(_ url: String) {
            guard let separator = url.firstRange(of: "://") else { return nil }
            scheme = url[..<separator.lowerBound]
            let authorityStart = separator.upperBound
            let authorityEnd = url[authorityStart...].firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? url.endIndex
            let authority = url[authorityStart..<authorityEnd]
            rest = url[authorityEnd...]
            let hostStart = authority.lastIndex(of: "@").map { authority.index(after: $0) } ?? authority.startIndex
            let host = authority[hostStart...]
            // An IPv6 literal has colons inside its brackets; a port can only follow the ']'.
            let portSearchStart = host.lastIndex(of: "]") ?? host.startIndex
            if let colon = host[portSearchStart...].lastIndex(of: ":") {
                beforePort = url[url.startIndex..<colon]
                port = host[host.index(after: colon)...]
            } else {
                beforePort = url[url.startIndex..<authorityEnd]
                port = nil
            }
        }

        var defaultPort: String? {
            switch scheme.lowercased() {
            case "https", "wss": return "443"
            case "http", "ws": return "80"
            default: return nil
            }
        }

        func rebuilt(port: String?) -> String {
            if let port {
                return beforePort + ":" + port + rest
            }
            return String(beforePort + rest)
        }
    }
}
