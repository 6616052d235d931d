/// One key press reaches the bridge twice: as the carrier's `dtmf` event and through the in-band
/// detector on the caller's audio. Each accepted report may absorb one report of the same digit
/// from the *other* source within the window, so a quick double press still counts twice.
public struct DTMFDeduplicator: Sendable {
    public enum Source: Sendable, Equatable { case carrier, inBand }

    public var windowNanos: Int64
    private var recent: [(digit: Character, source: Source, at: Int64, matched: Bool)] = []

    public init(windowMs: Int = 400) {
        self.windowNanos = Int64(windowMs) * 1_000_000
        recent.reserveCapacity(8)
    }

    /// Returns true when this report is a new key press.
    public mutating func accept(_ digit: Character, from source: Source, at now: Int64) -> Bool {
        recent.removeAll { now - $0.at > windowNanos }
        if let i = recent.firstIndex(where: { $0.digit == digit && $0.source != source && !$0.matched }) {
            recent[i].matched = true
            return false
        }
        recent.append((digit, source, now, false))
        return true
    }
}
