/// How hard the HTTP client tries before giving up (doc §6).
///
/// Two kinds of refusal need two remedies:
/// - `system_busy`, `rate_limit_exceeded`, 5xx and (before any audio) a failed connection:
///   exponential backoff with jitter, at most `maxRetries` times.
/// - `too_many_concurrent_requests`: backoff is the wrong fix; wait until one of this client's
///   own requests finishes and frees a slot, then retry. Bounded by `maxSlotWait` in total and
///   `maxSlotRetries` in count.
public struct ElevenLabsRetryPolicy: Sendable, Equatable {
    public var maxRetries: Int
    /// The first backoff; each further one doubles, up to `maxBackoff`.
    public var initialBackoff: Duration
    public var maxBackoff: Duration
    /// Total time one request may spend queued for a concurrency slot, locally (when the
    /// server's `maximum-concurrent-requests` is known) and after 429s.
    public var maxSlotWait: Duration
    /// At most this many retries after concurrency refusals, however short the waits were.
    public var maxSlotRetries: Int
    /// Retry a request that got no answer at all (refused, reset, timed out) before any audio.
    public var retriesTransportErrors: Bool

    public init(
        maxRetries: Int = 4,
        initialBackoff: Duration = .milliseconds(250),
        maxBackoff: Duration = .seconds(4),
        maxSlotWait: Duration = .seconds(20),
        maxSlotRetries: Int = 10,
        retriesTransportErrors: Bool = true
    ) {
        self.maxRetries = maxRetries
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.maxSlotWait = maxSlotWait
        self.maxSlotRetries = maxSlotRetries
        self.retriesTransportErrors = retriesTransportErrors
    }

    /// Fail on the first refusal.
    public static let none = ElevenLabsRetryPolicy(maxRetries: 0, maxSlotWait: .zero, maxSlotRetries: 0, retriesTransportErrors: false)

    /// The wait before retry number `retry` (0-based): half the exponential step plus a random
    /// part of the other half ("equal jitter"), so clients that failed together don't return
    /// together, yet none comes back at once.
    public func backoff(forRetry retry: Int) -> Duration {
        let doubled = initialBackoff * Double(1 << min(max(retry, 0), 20))
        let step = min(doubled, maxBackoff)
        return step / 2 + step / 2 * Double.random(in: 0...1)
    }
}
