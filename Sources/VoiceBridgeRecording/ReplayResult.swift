import Foundation

/// Where a replay first departed from the recording.
public struct Divergence: Sendable, Equatable {
    /// Index in the compared outbound sequence (0-based; the report shows it 1-based).
    public var index: Int
    public var expected: OutboundEvent?
    public var actual: OutboundEvent?
    /// The last event that still matched, for context.
    public var previous: OutboundEvent?
    public var reason: String
    /// Whether `index` counts the messages to the relay app rather than the carrier's.
    public var inRelayStream = false
}

/// Compares outbound timelines event by event.
///
/// Tolerances (documented in docs/recording-format.md): the events must be the same, in the same
/// order — frame bytes exactly, mark names, clears, the end reason, close code and reason — and
/// each within `toleranceMs` (one frame by default) of its expected time.
public enum ReplayComparison {
    /// The carrier's messages and the relay app's are two streams, each in its own order: when
    /// the app hears of a key relative to the next frame is not something a call promises.
    public static func firstDivergence(expected: [OutboundEvent], actual: [OutboundEvent], toleranceMs: Double) -> Divergence? {
        if let carrier = firstDivergence(
            inStream: expected.filter { !$0.isRelay }, actual: actual.filter { !$0.isRelay }, toleranceMs: toleranceMs)
        {
            return carrier
        }
        guard var relay = firstDivergence(
            inStream: expected.filter(\.isRelay), actual: actual.filter(\.isRelay), toleranceMs: toleranceMs)
        else { return nil }
        relay.inRelayStream = true
        return relay
    }

    private static func firstDivergence(inStream expected: [OutboundEvent], actual: [OutboundEvent], toleranceMs: Double) -> Divergence? {
        let n = max(expected.count, actual.count)
        for i in 0..<n {
            let e = i < expected.count ? expected[i] : nil
            let a = i < actual.count ? actual[i] : nil
            let previous = i > 0 ? expected[i - 1] : nil
            guard let e else {
                return Divergence(index: i, expected: nil, actual: a, previous: previous, reason: "the replay sent more than the recording")
            }
            guard let a else {
                return Divergence(index: i, expected: e, actual: nil, previous: previous, reason: "the replay sent less than the recording")
            }
            if let why = contentDifference(e, a) {
                return Divergence(index: i, expected: e, actual: a, previous: previous, reason: why)
            }
            let delta = a.t - e.t
            if abs(delta) > toleranceMs + 1e-9 {
                return Divergence(
                    index: i, expected: e, actual: a, previous: previous,
                    reason: "sent \(JSONLine.format(abs(delta))) ms \(delta > 0 ? "later" : "earlier") than recorded (tolerance ±\(JSONLine.format(toleranceMs)) ms)")
            }
        }
        return nil
    }

    private static func contentDifference(_ e: OutboundEvent, _ a: OutboundEvent) -> String? {
        switch (e.kind, a.kind) {
        case let (.media(x), .media(y)):
            if x == y { return nil }
            if x.count != y.count { return "frame sizes differ: \(x.count) B recorded, \(y.count) B replayed" }
            let i = zip(x, y).enumerated().first { $0.element.0 != $0.element.1 }!.offset
            return "frame bytes differ at byte \(i): 0x\(String(x[i], radix: 16).leftPadded(2)) recorded, 0x\(String(y[i], radix: 16).leftPadded(2)) replayed"
        case let (.mark(x), .mark(y)):
            return x == y ? nil : "mark names differ"
        case (.clear, .clear):
            return nil
        case let (.end(x), .end(y)):
            return x == y ? nil : "end reasons differ"
        case let (.close(c1, r1), .close(c2, r2)):
            return c1 == c2 && r1 == r2 ? nil : "close codes or reasons differ"
        case let (.relay(x), .relay(y)):
            return x == y ? nil : "messages to the relay app differ"
        default:
            return "a \(a.kindName) where the recording has a \(e.kindName)"
        }
    }
}

/// The outcome of one replay.
public struct ReplayResult: Sendable {
    public var path: String?
    public var recording: RecordedCall
    /// Everything the replayed call sent.
    public var actual: [OutboundEvent]
    /// The replay's flow decisions and barge-in verdicts, as recording lines.
    public var information: [String]
    public var divergence: Divergence?
    /// What the replay had to make up (speech with no recorded audio), for the report.
    public var notes: [String]
    /// Virtual time covered, and the wall time it took.
    public var virtualMs: Double
    public var wallSeconds: Double

    public var hasExpectations: Bool { recording.hasExpectations }
    public var passed: Bool { hasExpectations && divergence == nil }

    private var compared: (expected: Int, actual: Int) {
        let actualCount = recording.checksMedia ? actual.count : actual.filter { !$0.isMedia }.count
        return (recording.expected.count, actualCount)
    }

    /// One line for a pass; for a failure, the first divergent event with both sides.
    public var report: String {
        let name = path ?? "recording"
        let counts = compared
        let stats = "\(counts.expected) outbound events\(recording.checksMedia ? "" : " (frames not checked)"), \(JSONLine.format(virtualMs / 1000)) s of call in \(String(format: "%.3f", wallSeconds)) s"
        guard hasExpectations else {
            return "NO EXPECTATIONS \(name): nothing to compare yet; run `voicebridge replay --update \(name)` to record what the call sends now\n"
        }
        guard let d = divergence else {
            return "ok   \(name) (\(stats))\n"
        }
        var out = "FAIL \(name)\n"
        out += "  first divergence at \(d.inRelayStream ? "message #\(d.index + 1) to the relay app" : "outbound event #\(d.index + 1)"): \(d.reason)\n"
        out += "  - recorded: \(Self.describe(d.expected))\n"
        out += "  + replayed: \(Self.describe(d.actual))\n"
        if case let .media(x)? = d.expected?.kind, case let .media(y)? = d.actual?.kind, x.count == y.count,
            let first = zip(x, y).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset
        {
            let window = max(0, first - 4)..<min(x.count, first + 12)
            func hex(_ b: [UInt8]) -> String { b[window].map { String($0, radix: 16).leftPadded(2) }.joined(separator: " ") }
            out += "    bytes \(window.lowerBound)..<\(window.upperBound): recorded [\(hex(x))]\n"
            out += "    bytes \(window.lowerBound)..<\(window.upperBound): replayed [\(hex(y))]\n"
        }
        if let p = d.previous { out += "    (last match: #\(d.index) \(p.summary) at \(JSONLine.format(p.t)) ms)\n" }
        out += "  \(counts.expected) recorded, \(counts.actual) replayed; tolerance ±\(JSONLine.format(recording.header.effectiveToleranceMs)) ms\n"
        for note in notes.prefix(5) { out += "  note: \(note)\n" }
        return out
    }

    private static func describe(_ event: OutboundEvent?) -> String {
        guard let event else { return "(nothing)" }
        return "\(event.summary) at \(JSONLine.format(event.t)) ms"
    }

    /// The file again with this replay's outbound events as the expectations (and its flow and
    /// barge-in lines as the record of what happened); inputs and recorded speech are kept as
    /// they were. Lines are in time order; at equal times, inputs come first.
    public var updatedText: String {
        var kept: [(t: Double, order: Int, text: String)] = []
        for (i, line) in recording.lines.enumerated() where line.role == .input || line.role == .speech {
            kept.append((line.t, i, line.text))
        }
        kept.sort { ($0.t, $0.order) < ($1.t, $1.order) }
        var made: [(t: Double, text: String)] = actual.map { ($0.t, $0.jsonLine) }
        for line in information {
            made.append((Self.time(of: line), line))
        }
        made = made.enumerated().sorted { ($0.element.t, $0.offset) < ($1.element.t, $1.offset) }.map(\.element)
        var out = recording.headerLine + "\n"
        var i = 0
        var j = 0
        while i < kept.count || j < made.count {
            if j >= made.count || (i < kept.count && kept[i].t <= made[j].t) {
                out += kept[i].text + "\n"
                i += 1
            } else {
                out += made[j].text + "\n"
                j += 1
            }
        }
        return out
    }

    private static func time(of line: String) -> Double {
        // Lines this module wrote start with {"t":<number>,
        guard line.hasPrefix("{\"t\":") else { return 0 }
        let rest = line.dropFirst(5).prefix { $0 != "," && $0 != "}" }
        return Double(rest) ?? 0
    }
}
