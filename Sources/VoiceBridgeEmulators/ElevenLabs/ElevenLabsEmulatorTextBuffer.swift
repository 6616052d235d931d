/// One context's text buffer and its `chunk_length_schedule` (§1.4, §10.5).
///
/// Text accumulates until one of these happens:
/// - the buffer reaches the current schedule entry (default 120, then 160, 250, and 290 for every
///   generation after that: the last entry repeats);
/// - `try_trigger_generation` arrives with at least `tryTriggerMinimum` (50) characters buffered;
/// - `flush`, end of input, or `auto_mode` takes everything.
///
/// A schedule or try-trigger generation stops after the last whitespace in the buffer, so a token
/// cut mid-word ("Hel") waits for the rest of its word; a buffer with no whitespace goes whole.
/// Characters are counted as Unicode scalars, like Python's `len`.
struct ElevenLabsEmulatorTextBuffer: Sendable, Equatable {
    static let defaultSchedule = [120, 160, 250, 290]

    private(set) var text = ""
    let schedule: [Int]
    let tryTriggerMinimum: Int
    /// Generations so far: the index into `schedule`.
    private(set) var generations = 0

    init(schedule: [Int] = Self.defaultSchedule, tryTriggerMinimum: Int = 50) {
        self.schedule = schedule.isEmpty ? Self.defaultSchedule : schedule
        self.tryTriggerMinimum = tryTriggerMinimum
    }

    var count: Int { text.unicodeScalars.count }
    var isEmpty: Bool { text.isEmpty }

    /// The threshold for the next generation.
    var threshold: Int { schedule[min(generations, schedule.count - 1)] }

    mutating func append(_ more: String) {
        text += more
    }

    /// The text to generate after an append, if the schedule (or a try-trigger) says so.
    mutating func scheduled(tryTrigger: Bool) -> String? {
        let count = count
        guard count >= threshold || (tryTrigger && count >= tryTriggerMinimum) else { return nil }
        return takeUpToLastWhitespace()
    }

    /// Everything buffered (flush, end of input, auto mode); nil when empty.
    mutating func takeAll() -> String? {
        guard !text.isEmpty else { return nil }
        defer {
            text = ""
            generations += 1
        }
        return text
    }

    /// Drops the buffer unspoken (close_context).
    mutating func discard() {
        text = ""
    }

    private mutating func takeUpToLastWhitespace() -> String? {
        guard let last = text.lastIndex(where: \.isWhitespace) else { return takeAll() }
        let cut = text.index(after: last)
        let head = String(text[..<cut])
        text = String(text[cut...])
        generations += 1
        return head
    }
}
