import Foundation
import NIOCore
import VoiceBridgeAudio
import VoiceBridgeCalls
import VoiceBridgeCarriers
import VoiceBridgeSpeech

/// Records one call: a JSON Lines file (`<name>.jsonl`) and a WAV per direction
/// (`<name>.caller.wav`, `<name>.bridge.wav`). See docs/recording-format.md for the schema.
///
/// Called from the call's event loop (carrier messages, flow, barge-in) and from speech tasks
/// (chunks), so it takes a lock; each call only formats a line and appends it to a buffer. Full
/// buffers go to the `RecordingWriter`'s thread, never to disk from here.
public final class CallRecorder: @unchecked Sendable {
    /// Where the files go, without extension.
    public let basePath: String
    private let writer: RecordingWriter
    private let redactor: SecretRedactor
    private let clock: @Sendable () -> UInt64
    private let origin: UInt64
    private let lock = NSLock()

    private var header: RecordingHeader?
    private var fileStarted = false
    private var pending = ""
    private var finished = false
    /// The server refused a message and is closing the socket: nothing more reaches the wire.
    private var wireClosed = false
    /// Reads caller audio out of inbound messages for the caller WAV, in the call's dialect.
    private var decoder: any CarrierInboundDecoder = TwilioMediaStreamDecoder()
    private var callerAudio: [UInt8] = []
    /// Outbound audio placed on the caller's playout timeline (see `placeOutbound`).
    private var bridgeAudio: [UInt8] = []

    /// In memory only (a replay's record of flow decisions and barge-ins): no files.
    private let inMemory: Bool
    private var memoryLines: [String] = []

    /// Buffered text beyond this goes to the writer.
    private static let flushBytes = 64 * 1024

    /// - Parameters:
    ///   - clock: monotonic nanoseconds; the recording's `t` is measured from the whole
    ///     millisecond before the first reading.
    public init(
        basePath: String, writer: RecordingWriter, redactor: SecretRedactor,
        clock: @escaping @Sendable () -> UInt64 = { NIODeadline.now().uptimeNanoseconds }
    ) {
        self.basePath = basePath
        self.writer = writer
        self.redactor = redactor
        self.clock = clock
        // On a whole millisecond of the monotonic clock: the call anchors its playout grid on a
        // whole millisecond too, so a replay (whose clock starts at 0) puts the grid at the same
        // place relative to every recorded event.
        self.origin = clock() / 1_000_000 * 1_000_000
        self.inMemory = false
    }

    /// A recorder that keeps its lines in memory, timed by `clock` from zero (not from its first
    /// reading): a replay uses it on the virtual clock.
    init(inMemoryWithClock clock: @escaping @Sendable () -> UInt64) {
        self.basePath = ""
        self.writer = RecordingWriter()
        self.redactor = SecretRedactor()
        self.clock = clock
        self.origin = 0
        self.inMemory = true
    }

    /// The lines an in-memory recorder holds.
    var lines: [String] {
        lock.lock()
        defer { lock.unlock() }
        return memoryLines
    }

    public var jsonlPath: String { basePath + ".jsonl" }
    public var callerWAVPath: String { basePath + ".caller.wav" }
    public var bridgeWAVPath: String { basePath + ".bridge.wav" }

    /// A time of the monotonic clock (uptime nanoseconds) on the recording's clock, in ms.
    func milliseconds(ofUptime nanos: Int64) -> Double {
        Double(nanos - Int64(truncatingIfNeeded: origin)) / 1_000_000
    }

    /// Milliseconds since the recording started.
    private func elapsedMs() -> Double { Double(clock() &- origin) / 1_000_000 }

    /// When an input counts as arriving: now, or just before a due tick the call has yet to run.
    private func arrivalMs(beforeTick tick: Int64?) -> Double {
        let now = elapsedMs()
        guard let tick else { return now }
        return min(now, milliseconds(ofUptime: tick) - 0.001)
    }

    /// Sets the header (flow, settings, parameters). Lines recorded before it wait in memory.
    public func begin(_ header: RecordingHeader) {
        var header = header
        header.parameters = redactor.redact(header.parameters)
        lock.lock()
        defer { lock.unlock() }
        guard self.header == nil, !finished else { return }
        self.header = header
    }

    // MARK: carrier, inbound

    /// One inbound text message exactly as it arrived (secrets redacted), before any decoding, so
    /// a malformed one is kept verbatim.
    ///
    /// `beforeTick`: a playout tick (uptime ns) that was due when the message arrived but had not
    /// run; the call handles the message first, so it is timed a microsecond before that tick.
    public func inbound(_ text: String, beforeTick: Int64? = nil) {
        // Media messages (50 a second) carry nothing secret: sids, counters and audio.
        let isMedia = text.hasPrefix("{\"event\":\"media\"")
        let kept = isMedia ? text : redactor.redact(text)
        lock.lock()
        defer { lock.unlock() }
        var line = JSONLine(t: arrivalMs(beforeTick: beforeTick))
        line.string("in", kept)
        appendLocked(line.json)
        var buffer = ByteBuffer(string: text)
        if case let .media(media)?? = try? decoder.decode(.text(buffer)) {
            callerAudio.append(contentsOf: media.payload.readableBytesView)
        }
        buffer.clear()
    }

    /// The call's carrier dialect, for reading caller audio from its messages (Twilio's until set).
    public func useDialect<Dialect: CarrierDialect>(_ dialect: Dialect.Type) {
        lock.lock()
        defer { lock.unlock() }
        decoder = Dialect.makeDecoder(maxMessageBytes: 1 << 20)
    }

    /// A binary frame (Media Streams speaks text only; the server refuses it).
    public func inboundBinary(_ bytes: [UInt8], beforeTick: Int64? = nil) {
        lock.lock()
        defer { lock.unlock() }
        var line = JSONLine(t: arrivalMs(beforeTick: beforeTick))
        line.string("binary", Base64Fast.encode(bytes))
        appendLocked(line.json)
    }

    /// The media socket closed (either side): the last inbound event. `finish()` follows once
    /// the call has ended.
    public func socketClosed() {
        lock.lock()
        defer { lock.unlock() }
        var line = JSONLine(t: elapsedMs())
        line.string("socket", "closed")
        appendLocked(line.json)
    }

    // MARK: carrier, outbound

    func media(_ frame: UnsafeRawBufferPointer) {
        lock.lock()
        defer { lock.unlock() }
        guard !wireClosed else { return }
        let t = elapsedMs()
        var line = JSONLine(t: t)
        line.string("out", "media")
        line.string("payload", Base64Fast.encode(frame))
        appendLocked(line.json)
        placeOutbound(frame, atMs: t)
    }

    func mark(_ name: String) {
        lock.lock()
        defer { lock.unlock() }
        guard !wireClosed else { return }
        var line = JSONLine(t: elapsedMs())
        line.string("out", "mark")
        line.string("name", name)
        appendLocked(line.json)
    }

    func clear() {
        lock.lock()
        defer { lock.unlock() }
        guard !wireClosed else { return }
        let t = elapsedMs()
        var line = JSONLine(t: t)
        line.string("out", "clear")
        appendLocked(line.json)
        // The carrier drops what it had not played yet.
        let position = Int(t * 8)
        if bridgeAudio.count > position { bridgeAudio.removeLast(bridgeAudio.count - max(0, position)) }
    }

    /// The call closed the socket (hang-up, redirect, protocol error, shutdown).
    func ended(_ reason: CallEndReason) {
        lock.lock()
        defer { lock.unlock() }
        guard !wireClosed else { return }
        var line = JSONLine(t: elapsedMs())
        line.string("out", "end")
        line.string("reason", redactor.redact(RecordedEndReason.text(reason)))
        appendLocked(line.json)
    }

    /// The server refused an inbound message and closes the socket with `code`.
    public func refused(code: Int, reason: String) {
        lock.lock()
        defer { lock.unlock() }
        guard !wireClosed else { return }
        wireClosed = true
        var line = JSONLine(t: elapsedMs())
        line.string("out", "close")
        line.int("code", code)
        line.string("reason", redactor.redact(reason))
        appendLocked(line.json)
    }

    /// Puts a sent frame where the caller hears it: after what is already queued, or at its send
    /// time when the carrier had run dry, with silence in between.
    private func placeOutbound(_ frame: UnsafeRawBufferPointer, atMs t: Double) {
        let position = Int(t * 8)
        if bridgeAudio.count < position { bridgeAudio.append(contentsOf: repeatElement(0xFF, count: position - bridgeAudio.count)) }
        bridgeAudio.append(contentsOf: frame)
    }

    // MARK: speech

    func speech(_ fields: (inout JSONLine) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        var line = JSONLine(t: elapsedMs())
        fields(&line)
        appendLocked(line.json)
    }

    func redact(_ text: String) -> String { redactor.redact(text) }
    /// A ConversationRelay message: its `token` member is speech, kept.
    func redactRelayMessage(_ text: String) -> String { redactor.redact(text, keepingMembers: ["token"]) }

    // MARK: flow and barge-in

    func flow(_ fields: (inout JSONLine) -> Void) {
        speech(fields)
    }

    func bargeIn(latencyNanos: Int64, accepted: Bool, reason: String) {
        speech { line in
            line.string("bargeIn", accepted ? "accepted" : "rejected")
            line.string("reason", reason)
            line.number("latencyMs", Double(latencyNanos) / 1_000_000)
        }
    }

    /// What the call's speech cost as it ended: `{"cost":{"sent","heard","wasted"},"voices":{...}}`.
    func speechCost(_ cost: SpeechCost) {
        func figures(_ c: SpeechCharacters, voice: String? = nil) -> String {
            var line = JSONLine()
            if let voice { line.string("voice", redactor.redact(voice)) }
            line.int("sent", c.sent)
            line.int("heard", c.heard)
            line.int("wasted", c.wasted)
            return line.json
        }
        let voices = cost.byVoice.sorted { $0.key < $1.key }.map { figures($0.value, voice: $0.key) }
        speech { line in
            line.raw("cost", figures(cost.total))
            line.raw("voices", "[" + voices.joined(separator: ",") + "]")
        }
    }

    // MARK: writing

    private func appendLocked(_ json: String) {
        guard !finished else { return }
        if inMemory { return memoryLines.append(json) }
        pending += json
        pending += "\n"
        if header != nil, pending.utf8.count >= Self.flushBytes { flushLocked() }
    }

    private func flushLocked() {
        let header = self.header ?? RecordingHeader(flow: "unknown", carrier: .recorded)
        if !fileStarted {
            fileStarted = true
            writer.create(jsonlPath, text: header.jsonLine + "\n" + pending)
        } else if !pending.isEmpty {
            writer.append(jsonlPath, text: pending)
        }
        pending = ""
    }

    /// Writes what is left and both WAVs. Idempotent; later events are dropped.
    public func finish() {
        lock.lock()
        defer { lock.unlock() }
        guard !finished else { return }
        finished = true
        if inMemory { return }
        flushLocked()
        writer.writeWAV(callerWAVPath, ulaw: callerAudio)
        writer.writeWAV(bridgeWAVPath, ulaw: bridgeAudio)
        callerAudio = []
        bridgeAudio = []
    }
}

/// How a `CallEndReason` is spelled in a recording (`out: end`).
public enum RecordedEndReason {
    public static func text(_ reason: CallEndReason) -> String {
        switch reason {
        case .carrierStop: "carrierStop"
        case .socketClosed: "socketClosed"
        case let .statusCallback(s): "statusCallback: \(s)"
        case .hangUp: "hangUp"
        case .redirect: "redirect"
        case let .protocolError(r): "protocolError: \(r)"
        case .serverShutdown: "serverShutdown"
        case .drained: "drained"
        }
    }
}
