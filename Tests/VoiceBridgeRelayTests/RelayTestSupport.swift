import Logging
import NIOCore
import NIOEmbedded
import Synchronization
import VoiceBridgeAudio
import VoiceBridgeCalls
import VoiceBridgeCallTesting
import VoiceBridgeCarriers
import VoiceBridgeSpeech
@testable import VoiceBridgeRelay

/// The app's socket as a test double: records what the bridge sends; the test plays the app.
final class FakeTransport: RelayTransport, @unchecked Sendable {
    var sent: [String] = []
    var closed: (code: Int, reason: String)?
    var onEvent: ((RelayTransportEvent) -> Void)?

    func start(onEvent: @escaping (RelayTransportEvent) -> Void) { self.onEvent = onEvent }
    func send(_ text: String) { sent.append(text) }
    func close(code: Int, reason: String) {
        guard closed == nil else { return }
        closed = (code, reason)
        onEvent?(.closed(code: code, reason: reason))
    }

    /// The app sends a message.
    func app(_ json: String) { onEvent?(.text(json)) }
}

final class FakeConnector: RelayConnector, @unchecked Sendable {
    let transport = FakeTransport()
    var fail: (any Error)?
    var held: EventLoopPromise<any RelayTransport>?
    var holdConnection = false
    var connects = 0

    func connect(_ configuration: RelayConfiguration, on eventLoop: any EventLoop, logger: Logger) -> EventLoopFuture<any RelayTransport> {
        connects += 1
        if let fail { return eventLoop.makeFailedFuture(fail) }
        if holdConnection {
            let p = eventLoop.makePromise(of: (any RelayTransport).self)
            held = p
            return p.futureResult
        }
        return eventLoop.makeSucceededFuture(transport)
    }

    func open() { held?.succeed(transport) }
}

/// One call on virtual time with a RelayFlow as its flow.
final class RelayHarness {
    let loop = EmbeddedEventLoop()
    let sink: RecordingSink
    let speech = ManualSpeechSource()
    let connector = FakeConnector()
    var flow: RelayFlow!
    var call: Call!
    var sequence = 1
    var results: [RelaySessionResult] = []

    init(
        configure: (inout RelayConfiguration) -> Void = { _ in },
        prompts: ((String) -> [UInt8]?)? = nil,
        onEnd: Bool = false,
        holdConnection: Bool = false,
        transcription: (any TranscriberProvider)? = nil
    ) throws {
        var configuration = RelayConfiguration(url: "wss://app.example.com/relay")
        configuration.events = [.speakerEvents, .tokensPlayed]
        configuration.dtmfDetection = true
        configure(&configuration)
        connector.holdConnection = holdConnection
        sink = RecordingSink(loop: loop)
        var endHandler: RelayFlow.EndHandler?
        if onEnd { endHandler = { [unowned self] result, _ in results.append(result) } }
        var logger = Logger(label: "test.relay")
        logger.logLevel = .critical
        flow = RelayFlow(configuration: configuration, prompts: prompts, onEnd: endHandler, connector: connector, logger: logger)
        call = Call(
            eventLoop: loop, sink: sink, speech: speech, flow: flow,
            parameters: ["From": "+15550001111", "To": "+15550002222", "CallerName": "Ada"], transcription: transcription,
            logger: logger)
    }

    var transport: FakeTransport { connector.transport }
    /// What the bridge sent the app, in order.
    var sent: [String] { transport.sent }
    /// Sent messages other than setup.
    var events: [String] { transport.sent.filter { !$0.hasPrefix(#"{"type":"setup""#) } }

    func start() {
        call.receive(.connected(protocolName: "Call", version: "1.0.0"))
        call.receive(.start(StreamStart(
            sequenceNumber: 1, streamID: "MZ00000000000000000000000000000001", accountID: "AC00000000000000000000000000000001",
            callID: "CA00000000000000000000000000000001", tracks: ["inbound"], customParameters: [:],
            mediaFormat: .mulaw8kMono)))
    }

    func dtmf(_ d: Character) {
        sequence += 1
        call.receive(.dtmf(DTMFPress(sequenceNumber: sequence, track: "inbound_track", digit: d)))
    }

    func echo(_ name: String) {
        sequence += 1
        call.receive(.mark(MarkEcho(sequenceNumber: sequence, name: name)))
    }

    /// `ms` of speech for a turn, with a character-by-character alignment of `text` spread evenly.
    func speak(turn: String, text: String, msPerChar: Int = 50, last: Bool = true) {
        let chars = text.map(String.init)
        let alignment = Alignment(
            chars: chars, charStartTimesMs: chars.indices.map { $0 * msPerChar }, charDurationsMs: chars.map { _ in msPerChar })
        call.speechChunk(
            SpeechChunk(turnID: turn, audio: [UInt8](repeating: 0x55, count: chars.count * msPerChar * 8), alignment: alignment),
            turnID: turn)
        if last { call.speechFinished(turnID: turn, error: nil) }
    }

    func advance(ms: Int) { loop.advanceTime(by: .milliseconds(Int64(ms))) }

    /// Caller audio (μ-law), frame by frame in real time.
    func caller(_ ulaw: [UInt8]) {
        var i = 0
        while i < ulaw.count {
            var frame = Array(ulaw[i..<min(i + 160, ulaw.count)])
            frame += [UInt8](repeating: 0xFF, count: 160 - frame.count)
            advance(ms: 20)
            frame.withUnsafeBytes { call.receiveAudio($0) }
            i += 160
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
