import Foundation
import NIOCore
import NIOEmbedded
import Testing
import VoiceBridgeCalls
import VoiceBridgeCarriers
import VoiceBridgeSpeech

/// An ElevenLabs `audio` message into a live call: parsed in place from the frame's bytes, then
/// handed to the `Call` (what the socket's handler does on the call's loop). Its allocations are
/// the chunk's own storage — the decoded audio and the three alignment arrays, and the call's
/// note of them — a fixed handful per chunk whatever its length: none per frame of its audio.
/// (The frames it becomes go out with none, as `AllocationTests` shows.)
@Suite(.enabled(if: AllocationCounter.isSupported, "the malloc interposer is Linux/glibc only"))
struct SpeechChunkAllocationTests {
    @Test func aChunkCostsAFixedHandfulOfAllocationsWhateverItsLength() throws {
        let short = try Self.allocationsPerChunk(audioMs: 200)
        let long = try Self.allocationsPerChunk(audioMs: 2_000)
        print("ElevenLabs chunk into a call: \(short) allocations per 200 ms chunk, \(long) per 2 s chunk")
        #expect(long == short, "a chunk's allocations do not grow with its audio")
        // 13 in this debug build: the audio, the three alignment arrays (each sized once), the
        // call's notes of the chunk, and a few 40-byte frames that unspecialised generic calls
        // (`firstIndex(where:)`, `last`) allocate only without optimisation.
        // `ALLOCATION_STACKS=1` prints where they come from.
        #expect(long <= 16)
    }

    /// Allocations for one chunk of `audioMs`, in steady state (the call already playing).
    static func allocationsPerChunk(audioMs: Int) throws -> Int {
        let loop = EmbeddedEventLoop()
        let sink = CountingSink()
        let speech = IdleSpeechSource()
        let call = Call(eventLoop: loop, sink: sink, speech: speech, flow: SilentFlow())
        call.receive(.connected(protocolName: "Call", version: "1.0.0"))
        call.receive(.start(StreamStart(
            sequenceNumber: 1, streamID: "MZ00000000000000000000000000000001", accountID: "AC00000000000000000000000000000001",
            callID: "CA00000000000000000000000000000001", tracks: ["inbound"], customParameters: [:],
            mediaFormat: .mulaw8kMono)))
        call.play(.text("A streamed answer."), id: "answer", interruptible: .none)
        let message = Array(Self.message(audioMs: audioMs).utf8)
        func deliver() throws {
            let parsed = try message.withUnsafeBytes { try ElevenLabsWebSocketServerMessage(scanning: $0) }
            guard let audio = parsed.audio else { throw ParseFailure() }
            call.speechChunk(SpeechChunk(turnID: "1", audio: audio, alignment: parsed.alignment), turnID: "1")
        }
        // Warm-up: the queue, the reframer and the ledger reach their working capacity.
        for _ in 0..<20 {
            try deliver()
            loop.advanceTime(by: .milliseconds(Int64(audioMs)))
        }
        var counted = 0
        let chunks = 10
        for _ in 0..<chunks {
            AllocationCounter.resetRecords()
            counted += try AllocationCounter.count(recording: ProcessInfo.processInfo.environment["ALLOCATION_STACKS"] != nil) { try deliver() }
            if ProcessInfo.processInfo.environment["ALLOCATION_STACKS"] != nil { print(AllocationCounter.recordedStacks(frames: 6)) }
            loop.advanceTime(by: .milliseconds(Int64(audioMs)))
        }
        #expect(sink.frames > 0)
        return (counted + chunks / 2) / chunks
    }

    /// An `audio` message as the service sends it: base64 μ-law and a character alignment.
    static func message(audioMs: Int) -> String {
        let audio = Base64Fast.encode((0..<(audioMs * 8)).map { UInt8(truncatingIfNeeded: $0 % 200 + 20) })
        let chars = Array("A streamed answer.").map { "\"\($0)\"" }.joined(separator: ",")
        let starts = (0..<18).map { String($0 * audioMs / 18) }.joined(separator: ",")
        let durations = (0..<18).map { _ in String(audioMs / 18) }.joined(separator: ",")
        return #"{"audio":"\#(audio)","isFinal":null,"contextId":"1","alignment":{"chars":[\#(chars)],"#
            + #""charStartTimesMs":[\#(starts)],"charDurationsMs":[\#(durations)]},"normalizedAlignment":null}"#
    }

    struct ParseFailure: Error {}
}

private final class CountingSink: CarrierSink {
    var frames = 0
    func sendMedia(_ frame: UnsafeRawBufferPointer) { frames += 1 }
    func sendMark(_ name: String) {}
    func sendClear() {}
    func flush() {}
    var isWritable: Bool { true }
    var echoesMarksOnClear: Bool { true }
    func close(_ reason: CallEndReason) {}
    func transfer(to destination: CallTransfer) {}
}

private final class SilentFlow: CallFlow {
    func start(_ call: any CallControl) {}
    func handle(_ event: FlowEvent, _ call: any CallControl) {}
}

/// A source whose turns never deliver on their own: the test hands the call its chunks.
private final class IdleSpeechSource: SpeechSource {
    let name = "idle"
    func startTurn(_ options: TurnOptions) -> any SpeechTurn { IdleTurn(id: options.id) }
}

private final class IdleTurn: SpeechTurn {
    let id: String
    init(id: String) { self.id = id }
    var chunks: AsyncThrowingStream<SpeechChunk, any Error> { AsyncThrowingStream { nil } }
    func deliver(on loop: any EventLoop, to receiver: @escaping (SpeechDelivery) -> Void) {}
    func send(text: String) {}
    func finish() {}
    func cancel() {}
}
