import Foundation
import NIOCore
import Testing
import VoiceBridgeCalls
import VoiceBridgeCarriers
import VoiceBridgeEmulators
@testable import VoiceBridgeServer

/// The fault matrix end to end (docs/fault-matrix.md): a served call with ElevenLabs (the
/// emulator) failing in one way at a time. Whatever the fault, the caller hears the greeting
/// whole, in exact 160-byte frames, within its budget (from the service, or from the offline
/// voice), and the call carries on: a key after it plays the reply.
@Suite(.timeLimit(.minutes(3)))
struct FaultMatrixTests {
    enum Fault: String, CaseIterable, CustomTestStringConvertible {
        case none
        /// The socket drops (no close frame) 200 ms into the first generation.
        case disconnectMidUtterance
        /// Every generation's first audio comes 2 s late.
        case slowFirstAudio
        /// The key is refused: WebSocket 1008, HTTP 401.
        case invalidKey
        /// Quota exceeded: WebSocket 1008, HTTP 401 quota_exceeded.
        case quotaExceeded
        /// The first socket fails at its first generation (1008 "something went wrong"), and the
        /// HTTP fallback's first two requests meet 429.
        case serviceErrorThenRateLimited
        /// The service closes an idle socket after 1 s (1008); the next turn needs a new one.
        case inactivityClose

        var testDescription: String { rawValue }

        /// How long the greeting's first frame may take after the webhook.
        var firstAudioBudget: Duration {
            switch self {
            // Generous for a loaded CI machine; unloaded, every case but the slow one is under 2 s.
            case .slowFirstAudio: .seconds(9)
            default: .seconds(7)
            }
        }
    }

    static func emulatorConfiguration(_ fault: Fault) -> ElevenLabsEmulatorConfiguration {
        var c = ElevenLabsEmulatorConfiguration()
        switch fault {
        case .none, .invalidKey: break
        case .disconnectMidUtterance: c.faults.disconnectAfterMs = 200
        case .slowFirstAudio: c.faults.ttfbMs = 2_000
        case .quotaExceeded: c.faults.quotaExceeded = true
        case .serviceErrorThenRateLimited:
            c.faults.webSocketServerErrorCount = 1
            c.faults.http429Count = 2
        case .inactivityClose: c.inactivityTimeout = 1
        }
        return c
    }

    /// Media frames until a mark; a clear on the way is allowed (a key pressed as audio ended).
    static func framesUntilMark(_ socket: MediaSocket, timeout: Duration = .seconds(30)) async throws -> (frames: [[UInt8]], mark: String) {
        var decoder = TwilioCarrierDecoder(streamSid: Twilio.streamSid)
        var frames: [[UInt8]] = []
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let frame = try #require(try await socket.nextFrame(timeout: .seconds(15)), "socket closed")
            switch try decoder.decode(ByteBuffer(bytes: frame.payload)) {
            case .media(let payload): frames.append(Array(payload.readableBytesView))
            case .mark(let name): return (frames, name)
            case .clear: continue
            }
        }
        throw CancellationError()
    }

    @Test(arguments: Fault.allCases)
    func theCallerHearsTheGreetingAndTheCallCarriesOn(_ fault: Fault) async throws {
        let voice = ElevenLabsCallTests.EmulatorVoice()
        try await ElevenLabsCallTests.withEmulator(Self.emulatorConfiguration(fault), voice: voice) { emulator, port in
            let configure: (inout BridgeConfiguration) -> Void = { c in
                ElevenLabsCallTests.configure(port: port)(&c)
                if fault == .invalidKey { c.elevenLabsAPIKey = "not-the-key" }
            }
            try await LiveServer.with(configure: configure, demoCalls: true, speech: ScriptedSpeech()) { server in
                let started = ContinuousClock.now
                let socket = try await server.startCall()
                let (greeting, mark) = try await Self.framesUntilMark(socket)
                let heardAfter = ContinuousClock.now - started
                #expect(!greeting.isEmpty && greeting.allSatisfy { $0.count == 160 }, "exact frames")
                // The greeting plays at real time, so its whole length bounds when the first
                // frame came.
                let greetingLength = Duration.milliseconds(greeting.count * 20)
                #expect(heardAfter - greetingLength < fault.firstAudioBudget, "first audio within budget: greeting done after \(heardAfter)")
                try await socket.sendText(Twilio.mark(sequence: 100, name: mark))
                if fault == .inactivityClose { try await Task.sleep(for: .milliseconds(1_500)) }
                // The call carries on: a key plays the reply, whole.
                try await socket.sendText(Twilio.dtmf(sequence: 101, digit: "1"))
                let (reply, _) = try await Self.framesUntilMark(socket)
                #expect(reply.count > 10 && reply.allSatisfy { $0.count == 160 }, "\(reply.count) reply frames")
                print("fault \(fault.rawValue): greeting \(greeting.count) frames, done \(heardAfter) after the webhook; reply \(reply.count) frames; service requests \(emulator.requests.count)")
                await socket.close()
            }
        }
    }
}
