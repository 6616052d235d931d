#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import COpenSSL

/// Telnyx webhook signatures (carriers.md §1.4): Ed25519 over the UTF-8 bytes of
/// `"{telnyx-timestamp}|{raw body}"`, sent base64 in `telnyx-signature-ed25519`, verified with the
/// account's public key (base64, 32 bytes, from the portal). Timestamps further than `tolerance`
/// from now are refused, so a captured request cannot be replayed later (the SDKs use 300 s).
public struct TelnyxSignature: Sendable {
    public static let signatureHeader = "telnyx-signature-ed25519"
    public static let timestampHeader = "telnyx-timestamp"

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case missingHeaders
        case badTimestamp
        case staleTimestamp(skewSeconds: Int64)
        case malformedSignature
        case invalidSignature

        public var description: String {
            switch self {
            case .missingHeaders: "telnyx-signature-ed25519 or telnyx-timestamp missing"
            case .badTimestamp: "telnyx-timestamp is not Unix seconds"
            case .staleTimestamp(let skew): "telnyx-timestamp is \(skew) s away from now"
            case .malformedSignature: "telnyx-signature-ed25519 is not a base64 Ed25519 signature"
            case .invalidSignature: "telnyx-signature-ed25519 does not verify"
            }
        }
    }

    private let publicKey: [UInt8]
    public let toleranceSeconds: Int64

    /// - Parameter publicKey: base64 of the 32-byte Ed25519 public key. Nil if it is not one.
    public init?(publicKeyBase64: String, toleranceSeconds: Int64 = 300) {
        let trimmed = publicKeyBase64.filter { !$0.isWhitespace }
        guard let key = Data(base64Encoded: trimmed), key.count == 32 else { return nil }
        self.publicKey = Array(key)
        self.toleranceSeconds = toleranceSeconds
    }

    /// Nil when the request verifies; else why not.
    public func check(signature: String?, timestamp: String?, body: [UInt8], now: Int64) -> Failure? {
        guard let signature, let timestamp, !signature.isEmpty, !timestamp.isEmpty else { return .missingHeaders }
        guard let seconds = Int64(timestamp) else { return .badTimestamp }
        // A timestamp near Int64's ends would overflow `now - seconds` (a trap, fuzz-found): the
        // difference is taken with overflow reported, and an overflow is as stale as it gets.
        let (skew, overflow) = now.subtractingReportingOverflow(seconds)
        guard !overflow else { return .staleTimestamp(skewSeconds: seconds < 0 ? .max : .min) }
        guard skew.magnitude <= toleranceSeconds.magnitude else { return .staleTimestamp(skewSeconds: skew) }
        guard let raw = Data(base64Encoded: signature), raw.count == 64 else { return .malformedSignature }
        let message = Array("\(timestamp)|".utf8) + body
        return Ed25519.verify(signature: Array(raw), message: message, publicKey: publicKey) ? nil : .invalidSignature
    }
}

/// Ed25519 through libcrypto's EVP interface (OpenSSL ≥ 1.1.1).
public enum Ed25519 {
    /// A key pair from a 32-byte seed: what the simulator signs with and what its tests verify with.
    public struct PrivateKey: Sendable {
        public let seed: [UInt8]
        public let publicKey: [UInt8]

        public init?(seed: [UInt8]) {
            guard seed.count == 32 else { return nil }
            guard let key = seed.withUnsafeBufferPointer({ EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, $0.baseAddress, 32) }) else {
                return nil
            }
            defer { EVP_PKEY_free(key) }
            var length = 32
            var publicKey = [UInt8](repeating: 0, count: 32)
            guard EVP_PKEY_get_raw_public_key(key, &publicKey, &length) == 1, length == 32 else { return nil }
            self.seed = seed
            self.publicKey = publicKey
        }

        public static func random() -> PrivateKey {
            PrivateKey(seed: SecureRandom.bytes(32))!
        }

        public func sign(_ message: [UInt8]) -> [UInt8] {
            let key = seed.withUnsafeBufferPointer { EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, $0.baseAddress, 32) }
            guard let key, let context = EVP_MD_CTX_new() else { preconditionFailure("Ed25519 key setup failed") }
            defer {
                EVP_MD_CTX_free(context)
                EVP_PKEY_free(key)
            }
            var signature = [UInt8](repeating: 0, count: 64)
            var length = 64
            let ok = EVP_DigestSignInit(context, nil, nil, nil, key) == 1
                && message.withUnsafeBufferPointer { EVP_DigestSign(context, &signature, &length, $0.baseAddress, $0.count) } == 1
            precondition(ok && length == 64, "Ed25519 signing failed")
            return signature
        }

        /// The Telnyx headers for a request body signed at `timestamp` (Unix seconds).
        public func telnyxHeaders(body: [UInt8], timestamp: Int64) -> [(String, String)] {
            let signature = sign(Array("\(timestamp)|".utf8) + body)
            return [
                (TelnyxSignature.signatureHeader, Data(signature).base64EncodedString()),
                (TelnyxSignature.timestampHeader, String(timestamp)),
            ]
        }
    }

    public static func verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard signature.count == 64, publicKey.count == 32 else { return false }
        let key = publicKey.withUnsafeBufferPointer { EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, $0.baseAddress, 32) }
        guard let key, let context = EVP_MD_CTX_new() else { return false }
        defer {
            EVP_MD_CTX_free(context)
            EVP_PKEY_free(key)
        }
        guard EVP_DigestVerifyInit(context, nil, nil, nil, key) == 1 else { return false }
        return message.withUnsafeBufferPointer { m in
            signature.withUnsafeBufferPointer { s in
                EVP_DigestVerify(context, s.baseAddress, s.count, m.baseAddress, m.count)
            }
        } == 1
    }
}
