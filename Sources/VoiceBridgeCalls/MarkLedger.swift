import VoiceBridgeSpeech

/// What the caller actually heard, from marks and alignment — never from bytes sent, because
/// speech is generated far faster than it plays.
///
/// Every segment (a prompt or a sentence) is placed on the carrier's playout timeline when its
/// first frame is sent, and gets a mark after its last frame. Twilio echoes a mark when the audio
/// before it has played, and also echoes *every* pending mark when it receives `clear`, with no
/// way to tell the two apart. So the ledger remembers which marks were pending at each `clear` and
/// classifies their echoes as cleared.
public struct MarkLedger: Sendable {
    public enum State: Sendable, Equatable {
        case sending, awaitingEcho, played, cleared
    }

    public struct Segment: Sendable, Equatable {
        public let name: String
        public let turnID: String
        public internal(set) var text: String
        /// Timeline positions in nanoseconds (see `PlayoutClock.sentNanos`).
        public let startNanos: Int64
        public internal(set) var endNanos: Int64?
        public internal(set) var state: State
        /// Alignment of each speech chunk, at the chunk's offset from the segment start.
        var alignments: [(offsetNanos: Int64, alignment: Alignment)] = []
        var audioNanos: Int64 = 0

        public static func == (a: Segment, b: Segment) -> Bool {
            a.name == b.name && a.turnID == b.turnID && a.text == b.text && a.startNanos == b.startNanos
                && a.endNanos == b.endNanos && a.state == b.state && a.audioNanos == b.audioNanos
        }

        /// The text heard in the first `heardNanos` of this segment.
        public func text(heardFor heardNanos: Int64) -> String {
            if heardNanos <= 0 { return "" }
            let total = endNanos.map { $0 - startNanos } ?? audioNanos
            if heardNanos >= total, total > 0 { return text }
            guard !alignments.isEmpty else { return Self.proportionalPrefix(text, fraction: Double(heardNanos) / Double(max(total, 1))) }
            var out = ""
            for (offset, alignment) in alignments where offset < heardNanos {
                out += alignment.text(heardBefore: Double(heardNanos - offset) / 1_000_000)
            }
            return out
        }

        /// Without timings, assume characters are spread evenly and cut back to a word boundary,
        /// so a half-heard word is not reported as heard.
        static func proportionalPrefix(_ text: String, fraction: Double) -> String {
            let chars = Array(text)
            var n = min(chars.count, Int(Double(chars.count) * max(0, fraction)))
            if n < chars.count {
                while n > 0 && chars[n] != " " && chars[n - 1] != " " { n -= 1 }
            }
            return String(chars[0..<n]).trimmingSpaces()
        }
    }

    /// What a `clear` cut off: segments heard in full, and how much of the interrupted one.
    public struct Heard: Sendable, Equatable {
        /// Text of the segments of the interrupted turn that played to the end.
        public var completeSegments: [String]
        /// The segment that was playing when the clear went out, and how much of it played.
        public var interruptedSegment: String?
        public var interruptedText: String
        public var interruptedMs: Int

        public init(completeSegments: [String], interruptedSegment: String?, interruptedText: String, interruptedMs: Int) {
            self.completeSegments = completeSegments
            self.interruptedSegment = interruptedSegment
            self.interruptedText = interruptedText
            self.interruptedMs = interruptedMs
        }

        public var text: String {
            (completeSegments + (interruptedText.isEmpty ? [] : [interruptedText])).joined(separator: " ")
        }
    }

    public enum Echo: Sendable, Equatable {
        case played(Segment)
        case cleared(Segment)
        /// An echo the ledger did not expect: logged, never trusted.
        case unknown(String)
    }

    public private(set) var segments: [Segment] = []

    public init() {}

    public var awaitingEchoCount: Int { segments.lazy.filter { $0.state == .awaitingEcho }.count }

    /// The segment whose frames are going out now, if any.
    public var sendingSegment: Segment? { segments.last.flatMap { $0.state == .sending ? $0 : nil } }

    public mutating func beginSegment(name: String, turnID: String, text: String, at position: Int64) {
        precondition(sendingSegment == nil, "end the current segment before beginning another")
        segments.append(Segment(name: name, turnID: turnID, text: text, startNanos: position, endNanos: nil, state: .sending))
    }

    /// Records a chunk's alignment; its offset is the audio of this segment queued before it.
    public mutating func addAudio(nanos: Int64, alignment: Alignment?, text: String? = nil) {
        guard let i = segments.indices.last, segments[i].state == .sending else { return }
        if let alignment { segments[i].alignments.append((segments[i].audioNanos, alignment)) }
        segments[i].audioNanos += nanos
        if let text { segments[i].text = text }
    }

    /// The mark went out after the segment's last frame.
    public mutating func endSegment(at position: Int64) {
        guard let i = segments.indices.last, segments[i].state == .sending else { return }
        segments[i].endNanos = position
        segments[i].state = .awaitingEcho
    }

    /// A `clear` went out when the carrier had played up to `playedPosition`. Every segment still
    /// waiting for its echo is cleared; returns what the caller heard of `turnID`.
    public mutating func recordClear(playedPosition: Int64, turnID: String?) -> Heard {
        var heard = Heard(completeSegments: [], interruptedSegment: nil, interruptedText: "", interruptedMs: 0)
        for i in segments.indices {
            let s = segments[i]
            if s.turnID == turnID || turnID == nil {
                let end = s.endNanos ?? (s.startNanos + s.audioNanos)
                if s.state == .played || end <= playedPosition {
                    heard.completeSegments.append(s.text)
                } else if s.startNanos < playedPosition {
                    let into = playedPosition - s.startNanos
                    heard.interruptedSegment = s.name
                    heard.interruptedText = s.text(heardFor: into)
                    heard.interruptedMs = Int(into / 1_000_000)
                }
            }
            switch s.state {
            case .sending:
                // Never marked: nothing will echo for it, so it leaves the ledger now.
                segments[i].state = .cleared
            case .awaitingEcho:
                segments[i].state = .cleared
            case .played, .cleared:
                break
            }
        }
        // Sending segments that were cleared will get no echo; drop them. Awaiting ones stay
        // until their (cleared) echo arrives, so the echo can be classified.
        segments.removeAll { $0.state == .cleared && $0.endNanos == nil }
        return heard
    }

    /// For carriers that drop pending marks on a clear without echoing them (Plivo): the cleared
    /// segments leave the ledger at once, as if their echoes had come back. Returns them.
    public mutating func resolveCleared() -> [Segment] {
        let cleared = segments.filter { $0.state == .cleared }
        segments.removeAll { $0.state == .cleared }
        return cleared
    }

    /// A mark echo arrived. Marks echo in queue order, so anything older that is still waiting
    /// was lost; it is classified along with this one.
    public mutating func echo(name: String) -> Echo {
        guard let i = segments.firstIndex(where: { $0.name == name && $0.endNanos != nil }) else {
            return .unknown(name)
        }
        let segment = segments[i]
        segments.removeSubrange(0...i)
        return segment.state == .cleared ? .cleared(segment) : .played(segment)
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
