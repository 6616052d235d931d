import NIOCore
import VoiceBridgeCarriers

/// What the console shows of one live call at one moment, read on the call's loop.
///
/// Holds no secrets by construction: no stream token, no signature, no parameters beyond From
/// and To, no streamSid (the stream's URL token is never in the call at all).
struct ConsoleCallSample: Sendable, Equatable {
    /// The call's registration in `LiveCalls`: unique for the server's life, cheap to hash, and
    /// the number a page knows the call by.
    var key: UInt64 = 0
    var callSid: String
    var from = ""
    var to = ""
    var flow = ""
    /// The speech source chain, as a person reads it (`ElevenLabs → HTTP → offline`).
    var source = ""
    var step = ""
    /// The prompt that started last (`play@29#2`: the step, its line, the flow's count).
    var prompt = ""
    var phase = ""
    var playing = false
    var listening = false
    /// When the media socket opened, Unix ms.
    var startedAtMs: Int64 = 0
    /// Peaks since the last reading, 0...100 (see `CallMeter`).
    var levelIn = 0
    var levelOut = 0
    var eventsVersion: UInt64 = 0
    var events: [ConsoleCallEvent] = []

    init(callSid: String) {
        self.callSid = callSid
    }
}

/// Server-wide figures, from what `BridgeMetrics` already counts.
struct ConsoleStats: Sendable, Equatable {
    var activeCalls = 0
    var callsPerLoop: [Int] = []
    /// Frame gaps: each bucket's upper bound in ms (the last is +Inf, written as null) and its
    /// own count (not cumulative).
    var gapBoundsMs: [Double] = []
    var gapCounts: [Int] = []
    var firstAudioCount = 0
    var firstAudioMeanMs = 0.0
    /// The bucket bound under which half (and 95 %) of first audio came.
    var firstAudioP50Ms: Double?
    var firstAudioP95Ms: Double?
    var fallbacks = 0
    /// Errors by kind, fallbacks included, sorted by kind.
    var errors: [(kind: String, count: Int)] = []

    static func == (a: ConsoleStats, b: ConsoleStats) -> Bool {
        a.activeCalls == b.activeCalls && a.callsPerLoop == b.callsPerLoop && a.gapBoundsMs == b.gapBoundsMs
            && a.gapCounts == b.gapCounts && a.firstAudioCount == b.firstAudioCount && a.firstAudioMeanMs == b.firstAudioMeanMs
            && a.firstAudioP50Ms == b.firstAudioP50Ms && a.firstAudioP95Ms == b.firstAudioP95Ms && a.fallbacks == b.fallbacks
            && a.errors.map(\.kind) == b.errors.map(\.kind) && a.errors.map(\.count) == b.errors.map(\.count)
    }

    /// Reads the figures out of the Prometheus exposition (`BridgeMetrics.render`), which is
    /// the one place they are all kept; the console asks once a second, and only while a page
    /// is open.
    static func parse(metrics text: String, callsPerLoop: [Int]) -> ConsoleStats {
        var stats = ConsoleStats()
        stats.callsPerLoop = callsPerLoop
        var gap: [(Double, Int)] = []
        var first: [(Double, Int)] = []
        var firstSum = 0.0
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let name = line[..<space]
            if let le = bucketBound(name, "voicebridge_frame_gap_seconds_bucket") {
                gap.append((le, Int(value)))
            } else if let le = bucketBound(name, "voicebridge_first_audio_latency_seconds_bucket") {
                first.append((le, Int(value)))
            } else if name == "voicebridge_first_audio_latency_seconds_sum" {
                firstSum = value
            } else if name == "voicebridge_first_audio_latency_seconds_count" {
                stats.firstAudioCount = Int(value)
            } else if name == "voicebridge_active_calls" {
                stats.activeCalls = Int(value)
            } else if name.hasPrefix("voicebridge_errors_total{kind=\""), name.hasSuffix("\"}") {
                let kind = String(name.dropFirst("voicebridge_errors_total{kind=\"".count).dropLast(2))
                stats.errors.append((kind, Int(value)))
                if kind == "speech_fallback" { stats.fallbacks = Int(value) }
            }
        }
        gap.sort { $0.0 < $1.0 }
        stats.gapBoundsMs = gap.map { $0.0 * 1000 }
        stats.gapCounts = gap.enumerated().map { i, b in b.1 - (i > 0 ? gap[i - 1].1 : 0) }
        first.sort { $0.0 < $1.0 }
        if stats.firstAudioCount > 0 {
            stats.firstAudioMeanMs = firstSum * 1000 / Double(stats.firstAudioCount)
            stats.firstAudioP50Ms = first.first { Double($0.1) >= 0.5 * Double(stats.firstAudioCount) }.map { $0.0 * 1000 }
            stats.firstAudioP95Ms = first.first { Double($0.1) >= 0.95 * Double(stats.firstAudioCount) }.map { $0.0 * 1000 }
        }
        stats.errors.sort { $0.kind < $1.kind }
        return stats
    }

    private static func bucketBound(_ name: Substring, _ metric: String) -> Double? {
        guard name.hasPrefix(metric + "{le=\""), name.hasSuffix("\"}") else { return nil }
        let le = name.dropFirst(metric.count + 5).dropLast(2)
        return le == "+Inf" ? .infinity : Double(le)
    }
}

/// The console's model: the calls and stats the pages were last told about. Each update is
/// compared with it and yields only what changed, so a page gets one snapshot when it connects
/// and then deltas, never the whole state every tick.
///
/// Meters change on almost every tick of a talking call, so they travel apart from the other
/// fields: a tick's meter changes go as one
/// flat list of (number, in, out), a few bytes per call instead of a record naming its CallSid;
/// the number is the call's registration in `LiveCalls`.
struct ConsoleBoard {
    private(set) var calls: [UInt64: ConsoleCallSample] = [:]
    private(set) var stats: ConsoleStats?

    struct Change: Equatable {
        var old: ConsoleCallSample
        var new: ConsoleCallSample
    }

    struct Level: Equatable {
        var id: UInt64
        var levelIn: Int
        var levelOut: Int
    }

    struct Delta: Equatable {
        var added: [ConsoleCallSample] = []
        var changed: [Change] = []
        var levels: [Level] = []
        var removed: [String] = []
        var stats: ConsoleStats?
        var isEmpty: Bool { added.isEmpty && changed.isEmpty && levels.isEmpty && removed.isEmpty && stats == nil }
    }

    /// Takes a full reading of the live calls (and, when given, fresh stats) and returns what
    /// differs from the last one. One hash of an integer per call: at a thousand calls this runs
    /// four thousand times a second.
    mutating func update(_ samples: [ConsoleCallSample], stats newStats: ConsoleStats?) -> Delta {
        var delta = Delta()
        var seen = Set<UInt64>(minimumCapacity: samples.count)
        for sample in samples {
            seen.insert(sample.key)
            guard let index = calls.index(forKey: sample.key) else {
                calls[sample.key] = sample
                delta.added.append(sample)
                continue
            }
            let old = calls.values[index]
            if old.levelIn != sample.levelIn || old.levelOut != sample.levelOut {
                delta.levels.append(Level(id: sample.key, levelIn: sample.levelIn, levelOut: sample.levelOut))
            }
            var same = old
            same.levelIn = sample.levelIn
            same.levelOut = sample.levelOut
            if same != sample { delta.changed.append(Change(old: old, new: sample)) }
            calls.values[index] = sample
        }
        if calls.count > seen.count {
            let gone = calls.keys.filter { !seen.contains($0) }
            for key in gone { delta.removed.append(calls.removeValue(forKey: key)?.callSid ?? "") }
            delta.removed.sort()
        }
        delta.added.sort { ($0.startedAtMs, $0.key) < ($1.startedAtMs, $1.key) }
        if let newStats, newStats != stats {
            stats = newStats
            delta.stats = newStats
        }
        return delta
    }

    /// Everything, for a page that just connected.
    var snapshot: [ConsoleCallSample] {
        calls.values.sorted { ($0.startedAtMs, $0.key) < ($1.startedAtMs, $1.key) }
    }
}

/// The console's wire format: Server-Sent Events whose data is one line of JSON.
///
/// `snapshot`: `{"nowMs":…,"calls":[call…],"stats":stats}`. `delta`: `{"added":[call…],
/// "changed":[partial call…],"levels":[id,in,out,…],"removed":[callSid…],"stats":stats}`, each
/// key only when it has something. A call has its board number (`id`); a partial call has
/// `callSid` and the fields that changed, and `eventsAdded` (the events since the last tick)
/// in place of the whole history. Written by hand into one buffer: at a thousand calls the
/// deltas come twice a second, and `JSONEncoder` would cost more than the rest of the
/// console together.
enum ConsoleEvents {
    /// `nowMs` (Unix ms) lets a page on another clock show elapsed times right.
    static func snapshot(_ board: ConsoleBoard, nowMs: Int64, into buffer: inout ByteBuffer) {
        buffer.writeString("event: snapshot\ndata: {\"nowMs\":\(nowMs),\"calls\":[")
        for (i, call) in board.snapshot.enumerated() {
            if i > 0 { buffer.writeString(",") }
            writeCall(call, previous: nil, into: &buffer)
        }
        buffer.writeString("]")
        if let stats = board.stats {
            buffer.writeString(",\"stats\":")
            writeStats(stats, into: &buffer)
        }
        buffer.writeString("}\n\n")
    }

    static func delta(_ delta: ConsoleBoard.Delta, into buffer: inout ByteBuffer) {
        guard !delta.isEmpty else { return }
        buffer.writeString("event: delta\ndata: {")
        var first = true
        func key(_ name: String) {
            buffer.writeString(first ? "\"\(name)\":" : ",\"\(name)\":")
            first = false
        }
        if !delta.added.isEmpty {
            key("added")
            buffer.writeString("[")
            for (i, call) in delta.added.enumerated() {
                if i > 0 { buffer.writeString(",") }
                writeCall(call, previous: nil, into: &buffer)
            }
            buffer.writeString("]")
        }
        if !delta.changed.isEmpty {
            key("changed")
            buffer.writeString("[")
            for (i, change) in delta.changed.enumerated() {
                if i > 0 { buffer.writeString(",") }
                writeCall(change.new, previous: change.old, into: &buffer)
            }
            buffer.writeString("]")
        }
        if !delta.levels.isEmpty {
            key("levels")
            buffer.writeString("[")
            for (i, level) in delta.levels.enumerated() {
                if i > 0 { buffer.writeString(",") }
                writeInteger(Int(level.id), into: &buffer)
                buffer.writeString(",")
                writeInteger(level.levelIn, into: &buffer)
                buffer.writeString(",")
                writeInteger(level.levelOut, into: &buffer)
            }
            buffer.writeString("]")
        }
        if !delta.removed.isEmpty {
            key("removed")
            buffer.writeString("[")
            for (i, sid) in delta.removed.enumerated() {
                if i > 0 { buffer.writeString(",") }
                JSONWriting.writeQuoted(sid, into: &buffer)
            }
            buffer.writeString("]")
        }
        if let stats = delta.stats {
            key("stats")
            writeStats(stats, into: &buffer)
        }
        buffer.writeString("}\n\n")
    }

    /// A comment line: keeps proxies from closing an idle stream.
    static func heartbeat(into buffer: inout ByteBuffer) {
        buffer.writeString(": keep-alive\n\n")
    }

    /// The whole call (with its board number), or (with `previous`) its CallSid and what
    /// differs from it, meters aside (they go in `levels`).
    static func writeCall(_ call: ConsoleCallSample, previous: ConsoleCallSample?, into buffer: inout ByteBuffer) {
        buffer.writeString("{\"callSid\":")
        JSONWriting.writeQuoted(call.callSid, into: &buffer)
        func key(_ name: StaticString) {
            buffer.writeStaticString(",\"")
            buffer.writeStaticString(name)
            buffer.writeStaticString("\":")
        }
        func string(_ name: StaticString, _ value: String, _ old: String?) {
            guard value != old else { return }
            key(name)
            JSONWriting.writeQuoted(value, into: &buffer)
        }
        func bool(_ name: StaticString, _ value: Bool, _ old: Bool?) {
            guard value != old else { return }
            key(name)
            buffer.writeStaticString(value ? "true" : "false")
        }
        if previous == nil {
            key("id")
            writeInteger(Int(call.key), into: &buffer)
        }
        string("from", call.from, previous?.from)
        string("to", call.to, previous?.to)
        string("flow", call.flow, previous?.flow)
        string("source", call.source, previous?.source)
        string("step", call.step, previous?.step)
        string("prompt", call.prompt, previous?.prompt)
        string("phase", call.phase, previous?.phase)
        bool("playing", call.playing, previous?.playing)
        bool("listening", call.listening, previous?.listening)
        if let previous {
            guard call.eventsVersion != previous.eventsVersion else {
                buffer.writeStaticString("}")
                return
            }
            let new = Int(min(UInt64(call.events.count), call.eventsVersion &- previous.eventsVersion))
            key("eventsAdded")
            writeEvents(call.events.suffix(new), into: &buffer)
        } else {
            key("startedAtMs")
            writeInteger(Int(call.startedAtMs), into: &buffer)
            key("levelIn")
            writeInteger(call.levelIn, into: &buffer)
            key("levelOut")
            writeInteger(call.levelOut, into: &buffer)
            key("events")
            writeEvents(call.events[...], into: &buffer)
        }
        buffer.writeStaticString("}")
    }

    static func writeEvents(_ events: ArraySlice<ConsoleCallEvent>, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("[")
        for (i, event) in events.enumerated() {
            buffer.writeStaticString(i > 0 ? ",{\"kind\":\"" : "{\"kind\":\"")
            buffer.writeString(event.kind.rawValue)
            buffer.writeStaticString("\",\"atMs\":")
            writeInteger(event.atMs, into: &buffer)
            buffer.writeStaticString(",\"subject\":")
            JSONWriting.writeQuoted(event.subject, into: &buffer)
            buffer.writeStaticString(",\"detail\":")
            JSONWriting.writeQuoted(event.detail, into: &buffer)
            buffer.writeStaticString("}")
        }
        buffer.writeStaticString("]")
    }

    /// Decimal digits straight into the buffer: no String per number.
    static func writeInteger(_ value: Int, into buffer: inout ByteBuffer) {
        var v = value.magnitude
        if value < 0 { buffer.writeInteger(UInt8(ascii: "-")) }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { out in
            repeat {
                out[19 - count] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
                count += 1
            } while v > 0
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: out[(20 - count)...]))
        }
    }

    static func writeStats(_ stats: ConsoleStats, into buffer: inout ByteBuffer) {
        buffer.writeString("{\"activeCalls\":\(stats.activeCalls),\"callsPerLoop\":[")
        buffer.writeString(stats.callsPerLoop.map(String.init).joined(separator: ","))
        buffer.writeString("],\"gap\":{\"boundsMs\":[")
        buffer.writeString(stats.gapBoundsMs.map { $0.isFinite ? number($0) : "null" }.joined(separator: ","))
        buffer.writeString("],\"counts\":[")
        buffer.writeString(stats.gapCounts.map(String.init).joined(separator: ","))
        buffer.writeString("]},\"firstAudio\":{\"count\":\(stats.firstAudioCount),\"meanMs\":\(number(stats.firstAudioMeanMs))")
        buffer.writeString(",\"p50Ms\":\(stats.firstAudioP50Ms.map(number) ?? "null"),\"p95Ms\":\(stats.firstAudioP95Ms.map(number) ?? "null")}")
        buffer.writeString(",\"fallbacks\":\(stats.fallbacks),\"errors\":{")
        for (i, error) in stats.errors.enumerated() {
            if i > 0 { buffer.writeString(",") }
            JSONWriting.writeQuoted(error.kind, into: &buffer)
            buffer.writeString(":\(error.count)")
        }
        buffer.writeString("}}")
    }

    /// At most three decimals, no exponent, `inf` as null (JSON has no infinity).
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        let rounded = (value * 1000).rounded() / 1000
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }
}
