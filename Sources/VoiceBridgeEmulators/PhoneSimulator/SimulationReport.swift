import Histogram

/// Several calls' results: the aggregate plus each call's timeline.
public struct SimulationReport: Sendable {
    public var aggregate: AggregateStatistics
    public var calls: [PhoneSimulator.CallResult]

    public var timelines: [CallTimeline] { calls.map(\.timeline) }
    public var passed: Bool { aggregate.failedCalls == 0 }

    /// One line for the terminal.
    public var summaryLine: String {
        let a = aggregate
        func f(_ v: Double?) -> String { v.map { String(format2: $0) } ?? "-" }
        return "\(a.passed ? "PASS" : "FAIL") calls=\(a.calls) failed=\(a.failedCalls) violations=\(a.violations) "
            + "underruns=\(a.underruns) (\(f(a.underrunMs)) ms) firstMedia p50=\(f(a.firstMedia.p50Ms)) p99=\(f(a.firstMedia.p99Ms)) ms "
            + "gaps n=\(a.gaps.count) p50=\(f(a.gaps.p50Ms)) p99=\(f(a.gaps.p99Ms)) max=\(f(a.gaps.maxMs)) ms "
            + "sendLate p99=\(f(a.sendLateness.p99Ms)) max=\(f(a.sendLateness.maxMs)) ms"
    }
}

/// The `aggregate` object of a multi-call timeline.
public struct AggregateStatistics: Codable, Sendable, Equatable {
    public var calls: Int
    /// Calls that failed to stream or saw a protocol violation.
    public var failedCalls: Int
    public var violations: Int
    public var underruns: Int
    public var underrunMs: Double
    /// Every call's receive gaps merged.
    public var gaps: CallTimeline.Distribution
    /// Over the calls that received media.
    public var firstMedia: CallTimeline.Distribution
    /// Every caller frame's send lateness merged (see ``CallTimeline/sendLateness``).
    public var sendLateness: CallTimeline.Distribution
    public var marks: Int
    public var marksCleared: Int
    public var marksPending: Int
    public var clears: Int
    public var endReasons: [String: Int]
    public var errors: [String: Int]

    public var passed: Bool { failedCalls == 0 }
}

struct SimulationAggregator {
    private var gaps = Histogram<UInt32>.microseconds()
    private var maxGapMs: Double?
    private var firstMedia = Histogram<UInt32>.microseconds(upTo: 600_000_000)
    private var maxFirstMediaMs: Double?
    private var lateness = Histogram<UInt32>.microseconds()
    private var maxLatenessMs: Double?
    private var statistics = AggregateStatistics(
        calls: 0, failedCalls: 0, violations: 0, underruns: 0, underrunMs: 0, gaps: .init(count: 0),
        firstMedia: .init(count: 0), sendLateness: .init(count: 0), marks: 0, marksCleared: 0, marksPending: 0, clears: 0, endReasons: [:],
        errors: [:])

    mutating func add(_ result: PhoneSimulator.CallResult) {
        let t = result.timeline
        statistics.calls += 1
        if !t.passed { statistics.failedCalls += 1 }
        statistics.violations += t.violationCount
        statistics.underruns += t.underruns.count
        statistics.underrunMs += t.underruns.totalMs
        statistics.marks += t.marks.count
        statistics.marksCleared += t.marks.count { $0.outcome == .cleared }
        statistics.marksPending += t.marks.count { $0.outcome == .pending }
        statistics.clears += t.clears.count
        statistics.endReasons[t.endReason.rawValue, default: 0] += 1
        if let error = t.error { statistics.errors[error, default: 0] += 1 }
        if let h = result.gaps { gaps.add(h) }
        if let h = result.sendLateness { lateness.add(h) }
        if let m = t.sendLateness.maxMs { maxLatenessMs = max(maxLatenessMs ?? 0, m) }
        if let m = t.gaps.maxMs { maxGapMs = max(maxGapMs ?? 0, m) }
        if let first = t.firstMediaMs {
            firstMedia.record(UInt64(max(0, first * 1000)))
            maxFirstMediaMs = max(maxFirstMediaMs ?? 0, first)
        }
    }

    func report(calls: [PhoneSimulator.CallResult]) -> SimulationReport {
        var s = statistics
        s.gaps = .init(microseconds: gaps)
        s.gaps.maxMs = maxGapMs
        s.firstMedia = .init(microseconds: firstMedia)
        s.firstMedia.maxMs = maxFirstMediaMs
        s.sendLateness = .init(microseconds: lateness)
        s.sendLateness.maxMs = maxLatenessMs
        return SimulationReport(aggregate: s, calls: calls)
    }
}

extension String {
    /// Two decimals, without Foundation's formatter.
    init(format2 value: Double) {
        let scaled = Int((value * 100).rounded())
        let sign = scaled < 0 ? "-" : ""
        let a = abs(scaled)
        let cents = a % 100
        self = "\(sign)\(a / 100).\(cents < 10 ? "0" : "")\(cents)"
    }
}

extension Histogram where Count == UInt32 {
    /// The one shape every per-call and merged distribution uses (merging needs equal shapes):
    /// 1 µs to `upTo` µs (default 60 s), two significant digits (±1 %), about 10 KB.
    static func microseconds(upTo highest: UInt64 = 60_000_000) -> Histogram<UInt32> {
        Histogram(lowestDiscernibleValue: 1, highestTrackableValue: highest, numberOfSignificantValueDigits: .two)
    }
}
