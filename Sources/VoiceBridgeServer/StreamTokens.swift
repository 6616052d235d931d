import Foundation
import NIOConcurrencyHelpers
import VoiceBridgeCarriers

/// Issues the one-time tokens that go in `/media/{token}` and redeems them at the upgrade.
///
/// A token is an HMAC-SHA256 over (CallSid, expiry, nonce), so any instance with the same secret
/// can verify it; "used once" is remembered here, per process, until the token would have expired
/// anyway. One lock acquisition per call setup, never on the media path.
public final class StreamTokens: Sendable {
    public enum Verdict: Sendable, Equatable {
        case accepted(callSid: String)
        case refused(reason: String)
    }

    private let minter: MediaStreamTokenMinter
    private let ttlSeconds: Int64
    private let clock: @Sendable () -> Int64
    private let used = NIOLockedValueBox(UsedTokenRegistry())
    /// Calls whose carrier said they are over: a token minted for one opens nothing, until it
    /// would have expired anyway.
    private let ended = NIOLockedValueBox(UsedTokenRegistry())

    /// - Parameters:
    ///   - secret: at least 16 bytes (`BridgeConfiguration.validated()` checks a configured one).
    ///   - clock: seconds since 1970 (injectable for tests).
    public init(secret: [UInt8], ttlSeconds: Int, clock: @escaping @Sendable () -> Int64 = StreamTokens.unixNow) {
        self.minter = MediaStreamTokenMinter(secret: secret)
        self.ttlSeconds = Int64(ttlSeconds)
        self.clock = clock
    }

    public func mint(callSid: String) -> String {
        minter.mint(callSid: callSid, expiresAt: clock() + ttlSeconds)
    }

    /// Verifies the token and marks it used. A second redemption of the same token is refused.
    public func redeem(_ token: String) -> Verdict {
        let now = clock()
        let verified: VerifiedToken
        do {
            verified = try minter.verify(token, now: now)
        } catch {
            return .refused(reason: error.description)
        }
        if ended.withLockedValue({ $0.contains(verified.callSid, now: now) }) {
            return .refused(reason: "the call has already ended")
        }
        let fresh = used.withLockedValue { $0.consume(verified.nonceID, expiresAt: verified.expiresAt, now: now) }
        return fresh ? .accepted(callSid: verified.callSid) : .refused(reason: "token already used")
    }

    /// The carrier reported the call over (a terminal status callback): its unused tokens are
    /// refused from now on.
    public func callEnded(callSid: String) {
        let now = clock()
        _ = ended.withLockedValue { $0.consume(callSid, expiresAt: now + ttlSeconds, now: now) }
    }

    public static func unixNow() -> Int64 {
        Int64(Date().timeIntervalSince1970)
    }

    /// 32 random bytes: the per-process secret when none is configured.
    public static func randomSecret() -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
    }
}
