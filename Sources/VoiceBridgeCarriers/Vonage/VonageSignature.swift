import Foundation

/// Vonage's signed requests (carriers.md §4.4): `Authorization: Bearer <JWT>`, HS256 with the
/// account's signature secret. The claims may carry `payload_hash`, the SHA-256 of the body
/// (hex), which is then checked too; `iat` older than `maxAgeSeconds` is refused, as a replay.
/// With `authorization: {"type":"vonage"}` in the NCCO the same JWT signs the socket's upgrade.
public struct VonageSignature: Sendable {
    public static let header = "Authorization"
    public static let maxAgeSeconds: Int64 = 300
    private let secret: [UInt8]

    public init(secret: String) {
        self.secret = Array(secret.utf8)
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case missing
        case malformed(String)
        case badSignature
        case bodyMismatch
        case expired

        public var description: String {
            switch self {
            case .missing: "no Authorization: Bearer JWT"
            case .malformed(let why): "malformed JWT: \(why)"
            case .badSignature: "the JWT's HS256 signature does not verify with the signature secret"
            case .bodyMismatch: "the JWT's payload_hash does not match the body"
            case .expired: "the JWT is expired or older than \(VonageSignature.maxAgeSeconds) s"
            }
        }
    }

    /// Nil when `authorization` (the header's value) is a valid JWT for `body` at `now`.
    public func check(authorization: String?, body: [UInt8]?, now: Int64) -> Failure? {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return .missing }
        let token = authorization.dropFirst("Bearer ".count).trimmingCharacters(in: .whitespaces)
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return .malformed("expected three parts") }
        guard let headerBytes = Base64Fast.decodeURLSafe(String(parts[0])),
            let header = (try? JSONSerialization.jsonObject(with: Data(headerBytes))) as? [String: Any]
        else { return .malformed("header") }
        guard header["alg"] as? String == "HS256" else { return .malformed("alg must be HS256") }
        guard let signature = Base64Fast.decodeURLSafe(String(parts[2])) else { return .malformed("signature") }
        let expected = CryptoPrimitives.hmac(.sha256, key: secret, message: Array("\(parts[0]).\(parts[1])".utf8))
        guard CryptoPrimitives.constantTimeEquals(signature, expected) else { return .badSignature }
        guard let claimBytes = Base64Fast.decodeURLSafe(String(parts[1])),
            let claims = (try? JSONSerialization.jsonObject(with: Data(claimBytes))) as? [String: Any]
        else { return .malformed("claims") }
        if let exp = (claims["exp"] as? NSNumber)?.int64Value, exp < now { return .expired }
        if let iat = (claims["iat"] as? NSNumber)?.int64Value, isOlder(iat, than: Self.maxAgeSeconds, at: now) { return .expired }
        if let hash = claims["payload_hash"] as? String, let body, !body.isEmpty {
            guard hash.lowercased() == CryptoPrimitives.lowercaseHex(CryptoPrimitives.sha256(body)) else { return .bodyMismatch }
        }
        return nil
    }

    /// `now - issuedAt > maxAge` without the subtraction's overflow trap: a claim near Int64's
    /// ends is someone else's token, and counts as too old (or, in the future, as not old).
    private func isOlder(_ issuedAt: Int64, than maxAge: Int64, at now: Int64) -> Bool {
        let (age, overflow) = now.subtractingReportingOverflow(issuedAt)
        return overflow ? issuedAt < 0 : age > maxAge
    }

    /// A JWT as Vonage makes one (for the simulator and tests): `iat`, `jti`, `iss`, and
    /// `payload_hash` when there is a body.
    public func token(body: [UInt8]?, issuedAt: Int64, apiKey: String = "vb-test") -> String {
        let header = Base64Fast.encodeURLSafe(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        var claims = #"{"iat":\#(issuedAt),"jti":"# + JSONWriting.quoted(UUID().uuidString.lowercased())
            + #","iss":"Vonage","api_key":"# + JSONWriting.quoted(apiKey)
        if let body, !body.isEmpty {
            claims += #","payload_hash":"# + JSONWriting.quoted(CryptoPrimitives.lowercaseHex(CryptoPrimitives.sha256(body)))
        }
        claims += "}"
        let payload = Base64Fast.encodeURLSafe(Array(claims.utf8))
        let signature = CryptoPrimitives.hmac(.sha256, key: secret, message: Array("\(header).\(payload)".utf8))
        return "Bearer \(header).\(payload).\(Base64Fast.encodeURLSafe(signature))"
    }
}
