import COpenSSL

/// The few libcrypto calls this module needs, behind byte-array signatures.
enum CryptoPrimitives {
    enum Digest {
        case sha1
        case sha256

        var md: OpaquePointer? {
            switch self {
            case .sha1: return vb_evp_sha1()
            case .sha256: return vb_evp_sha256()
            }
        }
    }

    static func hmac(_ digest: Digest, key: [UInt8], message: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let result = key.withUnsafeBytes { keyBytes in
            message.withUnsafeBufferPointer { messageBytes in
                output.withUnsafeMutableBufferPointer { outputBytes in
                    HMAC(
                        digest.md,
                        keyBytes.baseAddress, Int32(keyBytes.count),
                        messageBytes.baseAddress, messageBytes.count,
                        outputBytes.baseAddress, &length
                    )
                }
            }
        }
        precondition(result != nil, "HMAC failed")
        return Array(output.prefix(Int(length)))
    }

    static func sha256(_ message: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let result = message.withUnsafeBytes { messageBytes in
            output.withUnsafeMutableBufferPointer { outputBytes in
                EVP_Digest(messageBytes.baseAddress, messageBytes.count, outputBytes.baseAddress, &length, vb_evp_sha256(), nil)
            }
        }
        precondition(result == 1, "SHA-256 failed")
        return Array(output.prefix(Int(length)))
    }

    /// Equal-length inputs are compared in time independent of their content; a length
    /// mismatch returns at once, which reveals only the length (public for MACs and hashes).
    static func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        guard !lhs.isEmpty else { return true }
        return lhs.withUnsafeBytes { a in
            rhs.withUnsafeBytes { b in CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0 }
        }
    }

    static func lowercaseHex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// Cryptographically secure random bytes from OpenSSL's CSPRNG.
public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8] {
        precondition(count >= 0)
        var output = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return output }
        let result = output.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        // Carrying on with predictable nonces would silently weaken every token.
        precondition(result == 1, "RAND_bytes failed")
        return output
    }
}

/// `Authorization: Bearer <token>` checks, in constant time (control API, emulated REST APIs).
public enum BearerToken {
    /// HMAC-SHA256 of `message` keyed with `token`, in hex: a value a browser can hold instead of
    /// the token itself (the live console's session cookie).
    public static func derived(from token: String, message: String) -> String {
        CryptoPrimitives.lowercaseHex(CryptoPrimitives.hmac(.sha256, key: Array(token.utf8), message: Array(message.utf8)))
    }

    /// Compares two secrets in time independent of their content (only the length shows).
    public static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        CryptoPrimitives.constantTimeEquals(Array(a.utf8), Array(b.utf8))
    }

    public static func matches(authorization: String?, token: String) -> Bool {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return false }
        return CryptoPrimitives.constantTimeEquals(Array(authorization.dropFirst("Bearer ".count).utf8), Array(token.utf8))
    }
}
