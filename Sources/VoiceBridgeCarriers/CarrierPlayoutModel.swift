import VoiceBridgeAudio
/// What a carrier's playout reports as it plays: the phone simulator keeps statistics
/// (`PlayoutStatistics`), replay keeps none.
public protocol PlayoutObserving: Sendable {
    mutating func mediaArrived(atNanos nanos: Int64, sample: Int64, wasEmpty: Bool, leadSamples: Int64)
    mutating func markArrived()
    mutating func playbackRanDry(atSample sample: Int64)
    mutating func cleared(atSample sample: Int64, hadAudio: Bool)
    mutating func audibleStarted(atSample sample: Int64)
    mutating func audibleEnded(atSample sample: Int64)
}

/// For playouts nobody measures (replay's simulated carrier).
public struct UnobservedPlayout: PlayoutObserving {
    public init() {}
    public mutating func mediaArrived(atNanos nanos: Int64, sample: Int64, wasEmpty: Bool, leadSamples: Int64) {}
    public mutating func markArrived() {}
    public mutating func playbackRanDry(atSample sample: Int64) {}
    public mutating func cleared(atSample sample: Int64, hadAudio: Bool) {}
    public mutating func audibleStarted(atSample sample: Int64) {}
    public mutating func audibleEnded(atSample sample: Int64) {}
}

/// The one model of a carrier's outbound playback, shared by the phone simulator and replay: a
/// FIFO of received audio and marks in the stream's format, played at real time from the moment
/// audio is present.
///
/// Time is passed in as nanoseconds since the call's origin (the instant `start` was sent), and the
/// playback clock is kept in whole ticks of 125 µs (one sample at 8 kHz; the "samples" below), so
/// the same inputs always give the same output. A tick plays one byte of G.711, two of L16 at
/// 8 kHz and four at 16 kHz.
/// Rules (twilio-media-streams.md §2.2–2.3, carriers.md §2.3):
/// - audio plays in the order received, starting as soon as it arrives into an empty FIFO;
/// - a mark is echoed once every byte received before it has played, at once if nothing is queued;
/// - `clear` drops everything queued; Twilio and Telnyx echo every pending mark at once, Plivo
///   drops them without a word (`echoesMarksOnClear: false`: the echoes are reported with
///   `acknowledged == false`, for the record, and nothing is sent).
///
/// Each `receive…` call first plays up to its own time; a driver also calls ``advance(to:)`` on its
/// timer, sends the resulting ``echoes`` and then calls ``removeEchoes()``. ``nextMarkDueNanos``
/// tells it when the next echo falls due, so one timer per call can wake exactly then.
public struct CarrierPlayoutModel<Observer: PlayoutObserving>: Sendable {
    public static var nanosPerSample: Int64 { 125_000 }
    public static var samplesPerMs: Int64 { 8 }

    /// A mark echo the carrier must send now.
    public struct Echo: Sendable, Equatable {
        public var name: String
        /// True when the mark's audio played out; false when a `clear` flushed it.
        public var played: Bool
        /// Whether the carrier sends this echo (false: a clear dropped the mark silently).
        public var acknowledged: Bool = true
        /// When the echo became due, in samples since the origin.
        public var dueSample: Int64

        public init(name: String, played: Bool, acknowledged: Bool = true, dueSample: Int64) {
            self.name = name
            self.played = played
            self.acknowledged = acknowledged
            self.dueSample = dueSample
        }
    }

    /// Ticks of output produced so far: the playback clock.
    public private(set) var clockSample: Int64 = 0
    /// Bytes received and not yet played.
    public var queuedBytes: Int { Int(enqueuedTotal - playedTotal) }
    /// What the stream carries.
    public let format: MediaFormat
    /// Bytes one 125 µs tick plays.
    private let bytesPerTick: Int64
    /// Echoes produced by the last calls, oldest first.
    public private(set) var echoes: [Echo] = []
    public private(set) var observer: Observer
    /// Whether a clear echoes pending marks (Twilio, Telnyx) or drops them unacknowledged (Plivo).
    public let echoesMarksOnClear: Bool

    /// What the caller heard, in the stream's format, if recording was asked for (silence where
    /// nothing played).
    public private(set) var heard: [UInt8]
    private let recordsHeard: Bool

    private var fifo: ByteRing
    private var enqueuedTotal: Int64 = 0
    private var playedTotal: Int64 = 0
    /// Pending marks with the `enqueuedTotal` they wait for, in arrival order.
    private var pendingMarks: [(name: String, offset: Int64)] = []
    private var pendingMarksHead = 0
    /// Queued audio split into audible and silent stretches, by the `enqueuedTotal` each ends at.
    private var runs: [AudibilityRun] = []
    private var runsHead = 0
    private var playingAudible = false

    struct AudibilityRun: Sendable {
        var end: Int64
        var audible: Bool
    }

    public init(
        recordHeard: Bool, expectedDurationMs: Int = 0, echoesMarksOnClear: Bool = true, format: MediaFormat = .mulaw8kMono,
        observer: Observer
    ) {
        precondition(format.bytesPerSecond % 8000 == 0, "CarrierPlayoutModel: \(format) is not a whole number of bytes per 125 µs")
        self.format = format
        self.bytesPerTick = Int64(format.bytesPerSecond / 8000)
        self.observer = observer
        self.echoesMarksOnClear = echoesMarksOnClear
        self.recordsHeard = recordHeard
        self.heard = []
        if recordHeard { heard.reserveCapacity(format.bytes(milliseconds: expectedDurationMs)) }
        self.fifo = ByteRing(storesBytes: recordHeard)
    }

    public static func sample(atNanos nanos: Int64) -> Int64 { nanos >= 0 ? nanos / nanosPerSample : 0 }
    public static func nanos(atSample sample: Int64) -> Int64 { sample * nanosPerSample }

    /// When the oldest pending mark falls due if nothing else happens, in nanoseconds since the origin.
    public var nextMarkDueNanos: Int64? {
        guard pendingMarksHead < pendingMarks.count else { return nil }
        let remaining = pendingMarks[pendingMarksHead].offset - playedTotal
        return Self.nanos(atSample: clockSample + max(0, ticks(remaining)))
    }

    /// Runs playback up to `nanos`: plays queued bytes, pads with silence once dry, and echoes the marks
    /// whose audio has finished.
    public mutating func advance(to nanos: Int64) {
        let target = Self.sample(atNanos: nanos)
        while clockSample < target {
            // A stray byte short of a whole tick waits for the rest of its sample.
            let queued = ticks(enqueuedTotal - playedTotal)
            if queued == 0 {
                // Dry: silence up to the target (marks cannot be pending with nothing queued).
                if recordsHeard {
                    heard.append(contentsOf: repeatElement(format.silenceByte, count: Int((target - clockSample) * bytesPerTick)))
                }
                clockSample = target
                break
            }
            var step = min(queued, target - clockSample)
            if pendingMarksHead < pendingMarks.count {
                step = min(step, ticks(pendingMarks[pendingMarksHead].offset - playedTotal))
            }
            // Audible and silent stretches start and end exactly where their bytes play.
            while runs[runsHead].end <= playedTotal { runsHead += 1 }
            let run = runs[runsHead]
            if run.audible != playingAudible {
                playingAudible = run.audible
                if run.audible { observer.audibleStarted(atSample: clockSample) } else { observer.audibleEnded(atSample: clockSample) }
            }
            step = min(step, ticks(run.end - playedTotal))
            if step > 0 {
                let bytes = step * bytesPerTick
                if recordsHeard { fifo.pop(Int(bytes), appendingTo: &heard) } else { fifo.drop(Int(bytes)) }
                playedTotal += bytes
                clockSample += step
            }
            echoDueMarks()
            if enqueuedTotal == playedTotal {
                endAudible()
                resetRuns()
                observer.playbackRanDry(atSample: clockSample)
            }
        }
        echoDueMarks()
    }

    /// Audio from the server, received at `nanos`.
    public mutating func receiveMedia(_ payload: UnsafeRawBufferPointer, at nanos: Int64) {
        advance(to: nanos)
        let wasEmpty = enqueuedTotal == playedTotal
        fifo.push(payload)
        enqueuedTotal += Int64(payload.count)
        let audible = Self.isAudible(payload, format: format)
        if runs.count > runsHead, runs[runs.count - 1].audible == audible {
            runs[runs.count - 1].end = enqueuedTotal
        } else {
            runs.append(AudibilityRun(end: enqueuedTotal, audible: audible))
        }
        observer.mediaArrived(
            atNanos: nanos, sample: clockSample, wasEmpty: wasEmpty,
            leadSamples: ticks(enqueuedTotal - playedTotal)
        )
    }

    /// A `mark` from the server, received at `nanos`.
    public mutating func receiveMark(name: String, at nanos: Int64) {
        advance(to: nanos)
        observer.markArrived()
        if enqueuedTotal == playedTotal {
            echoes.append(Echo(name: name, played: true, dueSample: clockSample))
        } else {
            pendingMarks.append((name, enqueuedTotal))
        }
    }

    /// A `clear` from the server, received at `nanos`: drops queued audio and settles every pending mark.
    /// Returns how many ms of audio were dropped.
    @discardableResult
    public mutating func receiveClear(at nanos: Int64) -> Double {
        advance(to: nanos)
        let dropped = enqueuedTotal - playedTotal
        fifo.removeAll()
        playedTotal = enqueuedTotal
        endAudible()
        resetRuns()
        while pendingMarksHead < pendingMarks.count {
            echoes.append(Echo(
                name: pendingMarks[pendingMarksHead].name, played: false, acknowledged: echoesMarksOnClear, dueSample: clockSample))
            pendingMarksHead += 1
        }
        compactMarks()
        observer.cleared(atSample: clockSample, hadAudio: dropped > 0)
        return Double(ticks(dropped)) / Double(Self.samplesPerMs)
    }

    /// Whole 125 µs ticks in `bytes`.
    private func ticks(_ bytes: Int64) -> Int64 { bytes / bytesPerTick }

    public mutating func removeEchoes() { echoes.removeAll(keepingCapacity: true) }

    /// Closes the books at the end of the call: a heard segment still open ends at `nanos`.
    public mutating func finish(at nanos: Int64) {
        advance(to: nanos)
        endAudible()
    }

    /// A byte is silent when it decodes to less than 32 in magnitude (about -60 dBFS); a media
    /// message with any louder byte counts as audible, so a heard segment follows what a listener
    /// would notice rather than frames of coded silence a server streams to hold its lead.
    public static var loudBytes: [Bool] { PlayoutAudibility.loudBytes }

    static func isAudible(_ payload: UnsafeRawBufferPointer, format: MediaFormat) -> Bool {
        switch format.encoding {
        case .mulaw:
            return PlayoutAudibility.loudBytes.withUnsafeBufferPointer { loud in payload.contains { loud[Int($0)] } }
        case .alaw:
            return PlayoutAudibility.loudALawBytes.withUnsafeBufferPointer { loud in payload.contains { loud[Int($0)] } }
        case .l16(let order):
            // The same -60 dBFS line: a sample of magnitude 32 or more.
            var i = 0
            while i + 1 < payload.count {
                let bits = order == .littleEndian
                    ? UInt16(payload[i]) | UInt16(payload[i + 1]) << 8 : UInt16(payload[i]) << 8 | UInt16(payload[i + 1])
                let sample = Int(Int16(bitPattern: bits))
                if sample >= 32 || sample <= -32 { return true }
                i += 2
            }
            return false
        }
    }

    private mutating func endAudible() {
        guard playingAudible else { return }
        playingAudible = false
        observer.audibleEnded(atSample: clockSample)
    }

    private mutating func resetRuns() {
        runs.removeAll(keepingCapacity: true)
        runsHead = 0
    }

    /// Names of marks still waiting for their audio, oldest first.
    public var pendingMarkNames: [String] { pendingMarks[pendingMarksHead...].map(\.name) }

    private mutating func echoDueMarks() {
        while pendingMarksHead < pendingMarks.count, pendingMarks[pendingMarksHead].offset <= playedTotal {
            echoes.append(Echo(name: pendingMarks[pendingMarksHead].name, played: true, dueSample: clockSample))
            pendingMarksHead += 1
        }
        compactMarks()
    }

    private mutating func compactMarks() {
        if pendingMarksHead == pendingMarks.count {
            pendingMarks.removeAll(keepingCapacity: true)
            pendingMarksHead = 0
        }
    }
}

enum PlayoutAudibility {
    static let loudALawBytes: [Bool] = (0...255).map { abs(Int(G711.decode(UInt8($0), law: .alaw))) >= 32 }
    static let loudBytes: [Bool] = (0...255).map { byte in
        let u = Int(~UInt8(byte))
        let magnitude = ((((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 0x07)) - 0x84
        return magnitude >= 32
    }
}

/// A growable ring of bytes; when the bytes are not needed (no heard recording) it only counts.
struct ByteRing: Sendable {
    private var storage: [UInt8]
    private var head = 0
    private(set) var count = 0
    private let storesBytes: Bool

    init(storesBytes: Bool) {
        self.storesBytes = storesBytes
        self.storage = storesBytes ? [UInt8](repeating: 0, count: 4096) : []
    }

    mutating func push(_ bytes: UnsafeRawBufferPointer) {
        guard storesBytes else { count += bytes.count; return }
        if count + bytes.count > storage.count { grow(to: count + bytes.count) }
        var tail = (head + count) % storage.count
        for byte in bytes {
            storage[tail] = byte
            tail += 1
            if tail == storage.count { tail = 0 }
        }
        count += bytes.count
    }

    mutating func pop(_ n: Int, appendingTo sink: inout [UInt8]) {
        precondition(n <= count)
        var remaining = n
        while remaining > 0 {
            let run = min(remaining, storage.count - head)
            sink.append(contentsOf: storage[head..<(head + run)])
            head = (head + run) % storage.count
            remaining -= run
        }
        count -= n
        if count == 0 { head = 0 }
    }

    mutating func drop(_ n: Int) {
        precondition(n <= count)
        if storesBytes { head = (head + n) % storage.count }
        count -= n
        if count == 0 { head = 0 }
    }

    mutating func removeAll() {
        count = 0
        head = 0
    }

    private mutating func grow(to needed: Int) {
        var capacity = storage.count
        while capacity < needed { capacity *= 2 }
        var next = [UInt8](repeating: 0, count: capacity)
        for i in 0..<count { next[i] = storage[(head + i) % storage.count] }
        storage = next
        head = 0
    }
}
