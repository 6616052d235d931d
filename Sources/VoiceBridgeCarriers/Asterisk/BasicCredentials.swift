/// HTTP Basic credentials, as Asterisk's `websocket_client` sends them on the upgrade
/// (`username`/`password` in websocket_client.conf).
public struct BasicCredentials: Sendable {
    private let expected: [UInt8]

    public init(username: String, password: String) {
        expected = Array("\(username):\(password)".utf8)
    }

    /// `Basic <base64(username:password)>`.
    public var headerValue: String { "Basic " + Base64Fast.encode(expected) }

    /// True when `header` carries exactly these credentials; compared in constant time.
    public func accepts(_ header: String?) -> Bool {
        guard let header else { return false }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic", let presented = Base64Fast.decode(String(parts[1])) else {
            return false
        }
        return CryptoPrimitives.constantTimeEquals(expected, presented)
    }
}
