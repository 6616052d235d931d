import Logging
import NIOCore
import NIOEmbedded
import VoiceBridgeCalls
import VoiceBridgeCarriers
import VoiceBridgeAudio
import VoiceBridgeRelay

/// Names a flow: the header's `flow` → a fresh flow object. The CLI maps `demo` to the demo menu;
/// others can be added as flows are (the resolver is the caller's).
public typealias FlowResolver = (String) throws -> any CallFlow

/// A flow name the resolver does not know.
public struct UnknownFlowError: Error, CustomStringConvertible {
    public var name: String
    public init(name: String) { self.name = name }
    public var description: String { "unknown flow \"\(name)\"" }
}

/// Runs a recorded call again through the current `Call` on a virtual clock and compares what
/// it sends with what the recording expects.
///
/// Everything happens on one `EmbeddedEventLoop` on the calling thread: inbound events at their
/// recorded times, recorded speech chunks at their offsets, the call's ticks and timers at their
/// deadlines. No wall clock and no other thread is involved, so a replay gives the same result
/// every time and a 60 s call takes milliseconds.
public struct ReplayEngine {
    public struct Options {
        /// Applied to the header's configuration before the call is made (e.g. to try a setting).
        public var configure: (inout CallConfiguration) -> Void = { _ in }
        public init() {}
    }

    /// Simulated (hand-written) files without `durationMs` run this long past their last line.
    public static let simulatedSettleMs: Double = 10_000

    private let resolveFlow: (RecordedCall) throws -> any CallFlow
    private let options: Options

    public init(flows: @escaping FlowResolver, options: Options = .init()) {
        self.resolveFlow = { try flows($0.header.flow) }
        self.options = options
    }

    /// A resolver that sees the whole recording, e.g. to play its built prompts' audio.
    public init(flowsForRecording: @escaping (RecordedCall) throws -> any CallFlow, options: Options = .init()) {
        self.resolveFlow = flowsForRecording
        self.options = options
    }

    public func replay(_ recording: RecordedCall, path: String? = nil) throws -> ReplayResult {
        let started = NIODeadline.now()
        let run = try ReplayRun(recording: recording, resolveFlow: resolveFlow, options: options)
        run.execute()
        let expected = recording.expected
        let actual = recording.checksMedia || !recording.hasExpectations ? run.sink.sent : run.sink.sent.filter { !$0.isMedia }
        let divergence = recording.hasExpectations
            ? ReplayComparison.firstDivergence(expected: expected, actual: actual, toleranceMs: recording.header.effectiveToleranceMs)
            : nil
        let result = ReplayResult(
            path: path, recording: recording, actual: run.sink.sent, information: run.information, divergence: divergence,
            notes: run.notes, virtualMs: run.endMs,
            wallSeconds: Double((NIODeadline.now() - started).nanoseconds) / 1e9)
        run.finish()
        return result
    }
}

/// One replay's state: the loop, the call and the carrier's side.
private final class ReplayRun {
    let loop = EmbeddedEventLoop()
    let recording: RecordedCall
    let sink: ReplaySink
    let speech: ReplaySpeechSource
    let transcription: ReplayTranscription
    let info: CallRecorder
    let call: Call
    /// The server's decoder and gate in the recording's dialect, as `MediaStreamHandler` runs them.
    var session: any MediaSessionDriving
    /// The socket is closed or closing: inbound is ignored, as the server's handler does.
    var socketClosed = false
    var carrier: SimulatedCarrier?
    let endMs: Double
    var notes: [String] = []

    /// The recorded relay app, when the call is a relay session.
    var relay: ReplayRelayLink?

    init(recording: RecordedCall, resolveFlow: (RecordedCall) throws -> any CallFlow, options: ReplayEngine.Options) throws {
        self.recording = recording
        var configuration = recording.header.configuration
        options.configure(&configuration)
        let rules = CarrierDialects.named(recording.header.dialect)?.rules
        sink = ReplaySink(loop: loop, echoesMarksOnClear: rules?.echoesMarksOnClear ?? true, minimumMediaBytes: rules?.minimumMediaBytes ?? 0)
        speech = ReplaySpeechSource(loop: loop, turns: recording.turns, anchorMs: recording.header.effectiveToleranceMs)
        transcription = ReplayTranscription(loop: loop, events: recording.transcripts)
        let clock = LoopClock(loop: loop)
        info = CallRecorder(inMemoryWithClock: { clock.nanoseconds })
        let base: any CallFlow
        if recording.header.flow == RelayFlow.recordedName {
            let link = ReplayRelayLink(refusal: recording.relayRefusal) { [sink] text in sink.relaySent(text) }
            relay = link
            base = try Self.relayFlow(recording, link: link)
        } else {
            base = try resolveFlow(recording)
        }
        let flow = RecordingCallFlow(base, recorder: info)
        let observer = RecordingCallObserver(nil, recorder: info)
        var logger = Logger(label: "voicebridge.replay", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical
        call = Call(
            eventLoop: loop, configuration: configuration, sink: sink, speech: speech, flow: flow,
            parameters: recording.header.parameters, observer: observer,
            transcription: recording.transcripts.isEmpty ? nil : transcription, logger: logger)
        speech.call = call
        guard let session = CarrierDialects.session(
            dialect: recording.header.dialect,
            callID: recording.header.callSid ?? Self.firstStartCallSid(recording) ?? "", accountID: recording.header.accountSid,
            maxMessageBytes: TwilioMediaStreamDecoder.defaultMaxMessageBytes)
        else { throw RecordingError(line: 1, "header: no dialect \(recording.header.dialect)") }
        self.session = session
        switch recording.header.carrier {
        case .recorded:
            endMs = recording.header.durationMs ?? recording.lastTime
        case .simulated:
            endMs = recording.header.durationMs ?? (recording.inputs.last?.t ?? 0) + ReplayEngine.simulatedSettleMs
            carrier = SimulatedCarrier(frameMs: configuration.frameMs)
        }
        sink.onSend = { [unowned self] event in self.outboundSent(event) }
    }

    /// When the header names no CallSid, the stream URL is taken to have been issued for the one
    /// the first `start` carries.
    static func firstStartCallSid(_ recording: RecordedCall) -> String? {
        var decoder = TwilioMediaStreamDecoder()
        for input in recording.inputs {
            switch input.input {
            case let .start(callSid, _, _, _): return callSid ?? SimulatedCarrier.defaultCallSid
            case let .message(text):
                if case let .start(start)? = try? decoder.decode(ByteBuffer(string: text)) { return start.callID }
            default: continue
            }
        }
        return nil
    }

    var information: [String] { info.lines }

    /// The recorded session again: its settings and id from the header, the recorded app as its
    /// peer. A `play` URL is not fetched: the replay has no network and the file no audio for it.
    static func relayFlow(_ recording: RecordedCall, link: ReplayRelayLink) throws -> any CallFlow {
        var attributes = recording.header.relay ?? [:]
        let sessionId = attributes.removeValue(forKey: "sessionId")
        let configuration: RelayConfiguration
        do {
            configuration = try RelayConfiguration(url: "ws://replay.invalid/", attributes: attributes)
        } catch {
            throw RecordingError(line: 1, "header relay: \(error)")
        }
        var logger = Logger(label: "voicebridge.replay.relay", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical
        return RelayFlow(
            configuration: configuration, connector: link,
            loadAudio: { url in throw RecordingError(line: 0, "a replay does not fetch \(url)") },
            sessionId: sessionId, logger: logger)
    }

    private func at(_ ms: Double) -> NIODeadline { .uptimeNanoseconds(UInt64((max(0, ms) * 1_000_000).rounded())) }

    func execute() {
        var next = 0
        let inputs = recording.inputs
        while true {
            let frameDue = carrier?.nextFrameMs(callActive: !socketClosed && call.phase != .ended)
            let inputDue = next < inputs.count ? inputs[next].t : nil
            let due: Double
            let isFrame: Bool
            switch (inputDue, frameDue) {
            case (nil, nil): due = endMs; isFrame = false
            case let (i?, nil): due = i; isFrame = false
            case let (nil, f?): due = f; isFrame = true
            case let (i?, f?): (due, isFrame) = i <= f ? (i, false) : (f, true)
            }
            if due > endMs || (inputDue == nil && frameDue == nil) { break }
            loop.advanceTime(to: at(due))
            if isFrame {
                if let text = carrier?.takeFrame() { receive(text) }
            } else {
                apply(inputs[next])
                next += 1
            }
        }
        loop.advanceTime(to: at(endMs))
        notes += speech.notes
    }

    /// Drops what is still scheduled past the end (ticks, timers, echoes), so none of it outlives
    /// the replay: the console replays a recording each time its timeline is opened.
    func finish() {
        try? loop.syncShutdownGracefully()
    }

    private func apply(_ input: RecordedCall.TimedInput) {
        switch input.input {
        case let .message(text):
            receive(text)
        case let .binary(bytes):
            // Asterisk's caller audio; on the JSON dialects a refused frame.
            receive(.binary(ByteBuffer(bytes: bytes)))
        case .socketClosed:
            closeSocket()
        case let .start(callSid, streamSid, accountSid, parameters):
            guard let carrier else { return }
            for text in carrier.start(callSid: callSid, streamSid: streamSid, accountSid: accountSid, parameters: parameters, atMs: input.t) {
                receive(text)
            }
        case let .dtmf(digit, inBand):
            guard let carrier else { return }
            if let text = carrier.dtmf(digit, inBand: inBand, atMs: input.t) { receive(text) }
        case let .speech(ms, level):
            carrier?.mix(CallerSignal.speech(ms: ms, levelDBm0: level), atMs: input.t)
        case let .noise(ms, level):
            carrier?.mix(CallerSignal.noise(ms: ms, levelDBm0: level), atMs: input.t)
        case .hangup:
            guard let carrier else { return }
            receive(carrier.stop())
            closeSocket()
        case let .relayApp(text):
            relay?.deliver(text == "<binary>" ? .binary : .text(text))
        case let .relayClosed(code, reason):
            relay?.deliver(.closed(code: code, reason: reason))
        }
    }

    private func receive(_ text: String) {
        receive(.text(ByteBuffer(string: text)))
    }

    /// One inbound message through the server's session (decoder and gate), as `MediaStreamHandler` does.
    private func receive(_ frame: CarrierFrame) {
        guard !socketClosed else { return }
        switch session.receive(frame) {
        case let .started(start):
            alignGrid()
            call.receive(.start(start))
        case let .forward(event):
            call.receive(event)
        case .ignore:
            break
        case let .close(code, reason, _):
            refuse(code, reason)
        }
    }

    /// The call anchors its grid on the next whole millisecond after `start`; the recorded call
    /// read its clock a little after the message was recorded. Delivering `start` up to a
    /// millisecond later puts the replay's grid where the recorded one was.
    private func alignGrid() {
        guard let grid = recording.gridOriginMs, grid >= 1 else { return }
        let target = NIODeadline.uptimeNanoseconds(UInt64(((grid - 1) * 1_000_000).rounded()) + 1)
        if loop.now < target { loop.advanceTime(to: target) }
    }

    private func refuse(_ code: CarrierCloseCode, _ reason: String) {
        sink.refused(code: Int(code.rawValue), reason: reason)
        closeSocket()
    }

    private func closeSocket() {
        guard !socketClosed else { return }
        socketClosed = true
        call.socketClosed()
    }

    /// The simulated carrier plays what is sent and echoes marks; a call that closes the socket
    /// gets no more input.
    private func outboundSent(_ event: OutboundEvent) {
        switch event.kind {
        case .end, .close:
            socketClosed = true
        default:
            break
        }
        guard let carrier else { return }
        carrier.played(event)
        switch event.kind {
        case .mark, .clear:
            // Echoes due now (a clear's, or a mark behind nothing) go out after this send returns.
            scheduleEchoes(atMs: event.t)
        default:
            break
        }
    }

    /// The one pending wake for echoes, so media events do not each start a chain of them.
    private var echoWakeMs: Double?

    /// Wakes at `t` to deliver the carrier's echoes due by then, and again when the next falls due.
    private func scheduleEchoes(atMs t: Double) {
        if let pending = echoWakeMs, pending <= t { return }
        echoWakeMs = t
        loop.scheduleTask(deadline: at(t)) { [unowned self] in
            guard let carrier = self.carrier, self.echoWakeMs == t else { return }
            self.echoWakeMs = nil
            let now = Double(self.loop.now.uptimeNanoseconds) / 1_000_000
            for text in carrier.echoes(atMs: now) { self.receive(text) }
            // Never again at `now`: an echo the carrier could not deliver would wake it forever
            // (a fuzzed recording hung the replay so).
            if let due = carrier.nextEchoDueMs { self.scheduleEchoes(atMs: max(due, now + 0.001)) }
        }
    }
}

/// The virtual clock, readable from a recorder's clock closure (only ever on the loop's thread).
private final class LoopClock: @unchecked Sendable {
    let loop: EmbeddedEventLoop
    init(loop: EmbeddedEventLoop) { self.loop = loop }
    var nanoseconds: UInt64 { loop.now.uptimeNanoseconds }
}

/// The carrier socket in a replay: collects what the call sends, with the virtual time.
final class ReplaySink: CarrierSink {
    private let loop: EmbeddedEventLoop
    private(set) var sent: [OutboundEvent] = []
    /// The server refused a message: nothing more reaches the wire.
    private var wireClosed = false
    var onSend: (OutboundEvent) -> Void = { _ in }

    /// The recording's dialect's rules: replay resolves cleared marks, and sizes its messages,
    /// as the live call did.
    let echoesMarksOnClear: Bool
    let minimumMediaBytes: Int

    init(loop: EmbeddedEventLoop, echoesMarksOnClear: Bool, minimumMediaBytes: Int = 0) {
        self.loop = loop
        self.echoesMarksOnClear = echoesMarksOnClear
        self.minimumMediaBytes = minimumMediaBytes
    }

    private var nowMs: Double { Double(loop.now.uptimeNanoseconds) / 1_000_000 }

    private func record(_ kind: OutboundEvent.Kind) {
        guard !wireClosed else { return }
        let event = OutboundEvent(t: nowMs, kind: kind)
        sent.append(event)
        onSend(event)
    }

    func sendMedia(_ frame: UnsafeRawBufferPointer) { record(.media(Array(frame))) }
    func sendMark(_ name: String) { record(.mark(name)) }
    func sendClear() { record(.clear) }
    func flush() {}
    var isWritable: Bool { true }
    func close(_ reason: CallEndReason) { record(.end(RecordedEndReason.text(reason))) }
    /// A replay has no carrier to take the caller anywhere; the flow's transfer is in its record.
    func transfer(to destination: CallTransfer) {}

    func refused(code: Int, reason: String) {
        record(.close(code: code, reason: reason))
        wireClosed = true
    }

    /// A message to the relay app: its own socket, so the carrier's closing does not stop it.
    func relaySent(_ text: String) {
        sent.append(OutboundEvent(t: nowMs, kind: .relay(text)))
    }
}
