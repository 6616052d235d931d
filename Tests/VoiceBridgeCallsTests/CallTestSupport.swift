import NIOCore
import NIOEmbedded
import Synchronization
import VoiceBridgeAudio
import VoiceBridgeCallTesting
import VoiceBridgeCarriers
import VoiceBridgeSpeech
@testable import VoiceBridgeCalls

/// A flow the test scripts: it records what it is told and runs closures on events.
final class ScriptedFlow: CallFlow {
    var events: [FlowEvent] = []
    var onStart: (any CallControl) -> Void = { _ in }
    var onEvent: (FlowEvent, any CallControl) -> Void = { _, _ in }
    func start(_ call: any CallControl) { onStart(call) }
    func handle(_ event: FlowEvent, _ call: any CallControl) {
        events.append(event)
        onEvent(event, call)
    }
}

final class CountingObserver: CallObserver {
    var ended: [CallEndReason] = []
    var bargeIns: [(Int64, Bool, String)] = []
    func callEnded(_ reason: CallEndReason) { ended.append(reason) }
    func bargeIn(latencyNanos: Int64, accepted: Bool, reason: String) { bargeIns.append((latencyNanos, accepted, reason)) }
}

/// One call on virtual time, with helpers to play the carrier's part.
final class CallHarness {
    let loop = EmbeddedEventLoop()
    let sink: RecordingSink
    let speech = ManualSpeechSource()
    let flow = ScriptedFlow()
    let observer = CountingObserver()
    var call: Call!
    var sequence = 1
    var chunk = 0
    let ms: Int64 = 1_000_000

    init(configuration: CallConfiguration = .init(), transcription: (any TranscriberProvider)? = nil) {
        sink = RecordingSink(loop: loop)
        call = Call(
            eventLoop: loop, configuration: configuration, sink: sink, speech: speech, flow: flow, observer: observer,
            transcription: transcription)
    }

    var now: Int64 { Int64(loop.now.uptimeNanoseconds) }

    func start(format: MediaFormat = .mulaw8kMono) {
        call.receive(.connected(protocolName: "Call", version: "1.0.0"))
        call.receive(.start(StreamStart(
            sequenceNumber: 1, streamID: "MZ00000000000000000000000000000001", accountID: "AC00000000000000000000000000000001",
            callID: "CA00000000000000000000000000000001", tracks: ["inbound"], customParameters: ["who": "test"],
            mediaFormat: format)))
    }

    /// Sends one 20 ms caller frame and lets 20 ms of virtual time pass.
    func callerFrame(_ bytes: [UInt8]) {
        sequence += 1
        chunk += 1
        var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        // A frame reaches us once its 20 ms have been captured, so time passes first.
        loop.advanceTime(by: .milliseconds(20))
        call.receive(.media(InboundMedia(sequenceNumber: sequence, track: .inbound, chunk: chunk, timestampMs: chunk * 20, payload: buffer)))
    }

    func silence(ms duration: Int) {
        for _ in 0..<(duration / 20) { callerFrame([UInt8](repeating: 0xFF, count: 160)) }
    }

    /// Plays caller audio (μ-law) frame by frame in real time.
    func caller(_ ulaw: [UInt8]) {
        var i = 0
        while i < ulaw.count {
            var frame = Array(ulaw[i..<min(i + 160, ulaw.count)])
            frame += [UInt8](repeating: 0xFF, count: 160 - frame.count)
            callerFrame(frame)
            i += 160
        }
    }

    func dtmf(_ d: Character) {
        sequence += 1
        call.receive(.dtmf(DTMFPress(sequenceNumber: sequence, track: "inbound_track", digit: d)))
    }

    func echo(_ name: String) {
        sequence += 1
        call.receive(.mark(MarkEcho(sequenceNumber: sequence, name: name)))
    }

    /// Hands the call `ms` of speech for a turn, as a source chunk would arrive.
    func speak(turn: String, ms duration: Int, byte: UInt8 = 0x55, alignment: Alignment? = nil, last: Bool = true) {
        call.speechChunk(SpeechChunk(turnID: turn, audio: [UInt8](repeating: byte, count: duration * 8), alignment: alignment), turnID: turn)
        if last { call.speechFinished(turnID: turn, error: nil) }
    }

    func advance(ms duration: Int) { loop.advanceTime(by: .milliseconds(Int64(duration))) }
}

enum Signals {
    static func dtmf(_ digits: String) -> [UInt8] {
        G711.encode(try! ToneGenerator.dtmf(digits, toneMs: 100, gapMs: 100, levelDBm0: -10), law: .ulaw)
    }
}

#if canImport(Glibc)
import Glibc
#endif
