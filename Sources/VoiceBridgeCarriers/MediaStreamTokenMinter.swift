/// Mints and checks the per-call token carried in the `<Stream url>` path (Twilio drops query
/// strings, so the path is where it survives).
///
/// A token is base64url (no padding) of
/// `version(1) ‖ expiresAt(Int64 big-endian) ‖ nonceLength(1) ‖ nonce ‖ callSid(UTF-8) ‖ HMAC-SHA256`,
/// the MAC covering a fixed context label and every byte before it. It is self-contained, so
/// checking it needs no lookup; single use needs state and lives in `UsedTokenRegistry`.
public struct MediaStreamTokenMinter: Sendable {
    static let version: UInt8 = 1
    static let macLength = 32
    static let headerLength = 10  // version + expiresAt + nonceLength
    /// Longer input is refused before any decoding work; real tokens are ~120 characters.
    static let maxTokenCharacters = 512
    /// Keeps these MACs distinct from anything else the same secret might ever sign.
    private static let context = Array("voicebridge.media-stream-token.v1\0".utf8)

    private let secret: [UInt8]

    public init(secret: [UInt8]) {
        precondition(secret.count >= 16, "a token secret needs at least 16 bytes")
        self.secret = secret
    }

    public func mint(callSid: String, expiresAt: Int64, nonce: [UInt8]) -> String {
        precondition((1...255).contains(nonce.count), "nonce must be 1...255 bytes")
        precondition(!callSid.isEmpty, "callSid must not be empty")
        var body: [UInt8] = [Self.version]
        withUnsafeBytes(of: expiresAt.bigEndian) { body += $0 }
        body.append(UInt8(nonce.count))
        body += nonce
        body += Array(callSid.utf8)
        return Base64Fast.encodeURLSafe(body + mac(body))
    }

    /// Mints with a fresh 16-byte random nonce.
    public func mint(callSid: String, expiresAt: Int64) -> String {
        mint(callSid: callSid, expiresAt: expiresAt, nonce: SecureRandom.bytes(16))
    }

    /// Checks shape, then MAC (constant time), then expiry. A token is valid while
    /// `now < expiresAt`.
    public func verify(_ token: String, now: Int64) throws(TokenError) -> VerifiedToken {
        guard token.utf8.count <= Self.maxTokenCharacters, let bytes = Base64Fast.decodeURLSafe(token) else {
            throw .malformed
        }
        guard bytes.count >= Self.headerLength + 2 + Self.macLength, bytes[0] == Self.version else {
            throw .malformed
        }
        let nonceLength = Int(bytes[9])
        let callSidStart = Self.headerLength + nonceLength
        let macStart = bytes.count - Self.macLength
        guard nonceLength > 0, callSidStart < macStart else { throw .malformed }

        let body = Array(bytes[..<macStart])
        guard CryptoPrimitives.constantTimeEquals(mac(body), Array(bytes[macStart...])) else {
            throw .badSignature
        }
        var expiresAt: Int64 = 0
        for byte in bytes[1..<9] {
            expiresAt = expiresAt << 8 | Int64(byte)
        }
        guard let callSid = String(validating: bytes[callSidStart..<macStart], as: UTF8.self) else {
            throw .malformed
        }
        guard now < expiresAt else { throw .expired }
        let nonce = bytes[Self.headerLength..<callSidStart]
        return VerifiedToken(callSid: callSid, expiresAt: expiresAt, nonceID: Base64Fast.encodeURLSafe(nonce))
    }

    private func mac(_ body: [UInt8]) -> [UInt8] {
        CryptoPrimitives.hmac(.sha256, key: secret, message: Self.context + body)
    }
}

public struct VerifiedToken: Sendable, Equatable {
    public let callSid: String
    /// Unix seconds.
    public let expiresAt: Int64
    /// The nonce, base64url: the key for single-use bookkeeping in `UsedTokenRegistry`.
    public let nonceID: String

    public init(callSid: String, expiresAt: Int64, nonceID: String) {
        self.callSid = callSid
        self.expiresAt = expiresAt
        self.nonceID = nonceID
    }
}

public enum TokenError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed
    case badSignature
    case expired

    public var description: String {
        switch self {
        case .malformed: return "media stream token is malformed"
        case .badSignature: return "media stream token signature does not verify"
        case .expired: return "media stream token has expired"
        }
    }
}
