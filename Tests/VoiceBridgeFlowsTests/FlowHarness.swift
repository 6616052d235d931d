import Logging
import NIOCore
import NIOEmbedded
import Synchronization
import VoiceBridgeAudio
import VoiceBridgeCalls
import VoiceBridgeCarriers
import VoiceBridgeSpeech
@testable import VoiceBridgeFlows

/// The carrier as a test double that behaves like Twilio's buffer: it records what the call sends
/// and echoes each mark when the audio before it would have finished playing, on virtual time.
final class PlayingCarrier: CarrierSink {
    enum Sent: Equatable {
        case media(at: Int64)
        case mark(String, at: Int64)
        case clear(at: Int64)
    }
    let loop: EmbeddedEventLoop
    weak var call: Call?
    var sent: [Sent] = []
    var frames: [[UInt8]] = []
    var closed: [(CallEndReason, Int64)] = []
    var isWritable = true
    var echoesMarksOnClear = true
    /// When the carrier's buffer runs dry.
    private var playEnd: Int64 = 0
    private var pendingEchoes: [Scheduled<Void>] = []
    var echoed: [String] = []
    var transfers: [(String, CallTransfer)] = []

    init(loop: EmbeddedEventLoop) { self.loop = loop }

    func transfer(to destination: CallTransfer) {
        transfers.append((call?.callID ?? "", destination))
    }

    var now: Int64 { Int64(loop.now.uptimeNanoseconds) }

    func sendMedia(_ frame: UnsafeRawBufferPointer) {
        sent.append(.media(at: now))
        frames.append(Array(frame))
        playEnd = max(playEnd, now) + 20_000_000
    }

    func sendMark(_ name: String) {
        sent.append(.mark(name, at: now))
        let at = max(playEnd, now)
        pendingEchoes.append(loop.scheduleTask(deadline: .uptimeNanoseconds(UInt64(at))) { [weak self] in
            self?.echoed.append(name)
            self?.call?.receive(.mark(MarkEcho(sequenceNumber: 0, name: name)))
        })
    }

    func sendClear() {
        sent.append(.clear(at: now))
        // Twilio empties its buffer and echoes every outstanding mark at once.
        playEnd = now
        for task in pendingEchoes { task.cancel() }
        pendingEchoes = []
        let outstanding = sent.compactMap { if case let .mark(n, _) = $0 { n } else { nil } }.filter { !echoed.contains($0) }
        for name in outstanding {
            echoed.append(name)
            loop.execute { [weak self] in self?.call?.receive(.mark(MarkEcho(sequenceNumber: 0, name: name))) }
        }
    }

    func flush() {}
    func close(_ reason: CallEndReason) { closed.append((reason, now)) }

    var clears: Int { sent.filter { if case .clear = $0 { true } else { false } }.count }
}

/// A voice that speaks any text at once as a recognisable byte pattern: 80 ms of audio per
/// character, every byte the text length, so tests can tell prompts apart in the frames.
final class InstantVoice: SpeechSource, @unchecked Sendable {
    let name = "instant"
    struct Request: Equatable {
        var id: String
        var text: String
        var voice: String?
    }
    private let state = Mutex<(requests: [Request], served: Int, turns: [String: InstantTurn])>(([], 0, [:]))

    func startTurn(_ options: TurnOptions) -> any SpeechTurn {
        let turn = InstantTurn(id: options.id)
        state.withLock {
            $0.requests.append(Request(id: options.id, text: "", voice: options.voice))
            $0.turns[options.id] = turn
        }
        return turn
    }

    func speak(_ text: String, options: TurnOptions) -> any SpeechTurn {
        let turn = startTurn(options)
        state.withLock { $0.requests[$0.requests.count - 1].text = text }
        turn.finish()
        return turn
    }

    var requests: [Request] { state.withLock { $0.requests } }
    var texts: [String] { requests.map(\.text) }

    /// Hands the call the audio of every request it has not had yet.
    func serve(_ call: Call) {
        let pending: [Request] = state.withLock { s in
            let new = Array(s.requests[s.served...])
            s.served = s.requests.count
            return new
        }
        for request in pending {
            let bytes = [UInt8](repeating: UInt8(truncatingIfNeeded: request.text.utf8.count), count: max(160, request.text.utf8.count * 640))
            call.speechChunk(SpeechChunk(turnID: request.id, audio: bytes, alignment: nil), turnID: request.id)
            call.speechFinished(turnID: request.id, error: nil)
        }
    }
}

final class InstantTurn: SpeechTurn, @unchecked Sendable {
    let id: String
    let chunks: AsyncThrowingStream<SpeechChunk, any Error>
    private let continuation: AsyncThrowingStream<SpeechChunk, any Error>.Continuation
    init(id: String) {
        self.id = id
        (chunks, continuation) = AsyncThrowingStream.makeStream()
    }
    func send(text: String) {}
    func finish() {}
    /// The stream never ends: ending it would make the call's consumer hop onto the embedded
    /// loop from another thread. Audio reaches the call through `InstantVoice.serve` instead.
    func cancel() { _ = continuation }
}

/// Prompts for tests: none is built, so each plays its catalogue text "[id]" through the voice.
struct CataloguePrompts: FlowPromptSource {
    var built: [String: [UInt8]] = [:]
    var ids: Set<String>
    func audio(forPrompt id: String) -> [UInt8]? { built[id] }
    func text(forPrompt id: String) -> String? { ids.contains(id) ? "[\(id)]" : nil }
}

/// Completions of async work (webhooks), run on the test's own schedule: an `EmbeddedEventLoop`
/// must not be touched from another thread.
final class DeliveryQueue: Sendable {
    private let work = Mutex<[@Sendable () -> Void]>([])
    var deliver: @Sendable (any EventLoop, @escaping @Sendable () -> Void) -> Void {
        { [self] _, job in work.withLock { $0.append(job) } }
    }
    func drain() -> Int {
        let jobs = work.withLock { w in
            let jobs = w
            w = []
            return jobs
        }
        for job in jobs { job() }
        return jobs.count
    }
}

/// One call running a declarative flow on virtual time.
final class FlowHarness {
    let loop = EmbeddedEventLoop()
    let carrier: PlayingCarrier
    let voice = InstantVoice()
    let flow: DeclarativeFlow
    let deliveries = DeliveryQueue()
    /// Where the flow sent the caller, with the call's id at the time.
    var transfers: [(String, CallTransfer)] { carrier.transfers }
    var call: Call!
    private var sequence = 1

    init(yaml: String, prompts: [String] = [], built: [String: [UInt8]] = [:], parameters: [String: String] = ["From": "+15550001111", "To": "+15551230000"],
         configuration: CallConfiguration = .init(), transcription: (any TranscriberProvider)? = nil,
         environment: (inout FlowEnvironment) -> Void = { _ in }) throws {
        var parser = FlowParser(file: "test.yaml")
        guard let definition = parser.parseDocument(yaml), parser.diagnostics.isEmpty else {
            throw FlowLoadError(diagnostics: parser.diagnostics)
        }
        let problems = FlowChecker(knownPrompts: prompts.isEmpty ? nil : Set(prompts)).check(definition)
        guard problems.isEmpty else { throw FlowLoadError(diagnostics: problems) }
        var env = FlowEnvironment(prompts: CataloguePrompts(built: built, ids: Set(prompts)))
        env.deliver = deliveries.deliver
        environment(&env)
        flow = DeclarativeFlow(flow: LoadedFlow(definition: definition), environment: env)
        carrier = PlayingCarrier(loop: loop)
        call = Call(
            eventLoop: loop, configuration: configuration, sink: carrier, speech: voice, flow: flow, parameters: parameters,
            transcription: transcription)
        carrier.call = call
    }

    func start() {
        call.receive(.connected(protocolName: "Call", version: "1.0.0"))
        call.receive(.start(StreamStart(
            sequenceNumber: 1, streamID: "MZ00000000000000000000000000000001", accountID: "AC00000000000000000000000000000001",
            callID: "CA00000000000000000000000000000001", tracks: ["inbound"], customParameters: [:],
            mediaFormat: .mulaw8kMono)))
        voice.serve(call)
        loop.run()
    }

    /// Lets time pass with the caller silent, 20 ms at a time, serving speech as it is asked for.
    func wait(ms: Int) {
        for _ in 0..<(ms / 20) { frame([UInt8](repeating: 0xFF, count: 160)) }
    }

    func frame(_ bytes: [UInt8]) {
        sequence += 1
        var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        loop.advanceTime(by: .milliseconds(20))
        voice.serve(call)
        call.receive(.media(InboundMedia(sequenceNumber: sequence, track: .inbound, chunk: sequence, timestampMs: sequence * 20, payload: buffer)))
        voice.serve(call)
        _ = deliveries.drain()
        voice.serve(call)
    }

    func press(_ digits: String) {
        for d in digits {
            sequence += 1
            call.receive(.dtmf(DTMFPress(sequenceNumber: sequence, track: "inbound_track", digit: d)))
            voice.serve(call)
            wait(ms: 200)
        }
    }

    /// The caller talks: a speech-like signal, frame by frame.
    func talk(ms duration: Int) {
        let ulaw = CallerSignal.speech(ms: duration)
        var i = 0
        while i + 160 <= ulaw.count {
            frame(Array(ulaw[i..<(i + 160)]))
            i += 160
        }
    }

    /// Texts the voice was asked to speak, in order.
    var spoken: [String] { voice.texts }
    var ended: Bool { call.phase == .ended }
}

#if canImport(Glibc)
import Glibc
#endif
