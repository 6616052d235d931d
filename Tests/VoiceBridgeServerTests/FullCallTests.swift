import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Testing
import VoiceBridgeCarriers
import VoiceBridgeSpeech
@testable import VoiceBridgeServer

/// The default call end to end: real sockets, the real `Call` and the demo menu flow, spoken by
/// `ScriptedSpeech` (the offline voice's espeak engine is one thread per process, shared with
/// the speech module's timing tests; set VOICEBRIDGE_ESPEAK_CALL_TESTS=1 to speak with it here
/// too). The test plays Twilio: connected, start, then silence every 20 ms, and checks every
/// outbound message with the strict carrier-side decoder.
@Suite struct FullCallTests {
    static let useEspeak = ProcessInfo.processInfo.environment["VOICEBRIDGE_ESPEAK_CALL_TESTS"] == "1"
    static var speech: (any SpeechSource)? { useEspeak ? nil : ScriptedSpeech() }

    /// What the carrier side saw, in order.
    enum Outbound: Equatable {
        case media(bytes: Int)
        case mark(String)
        case clear
    }

    /// Reads and strictly decodes outbound messages until `done` says stop.
    static func collect(
        _ socket: MediaSocket,
        into seen: inout [Outbound],
        timeout: Duration = .seconds(20),
        until done: ([Outbound]) -> Bool
    ) async throws {
        var decoder = TwilioCarrierDecoder(streamSid: Twilio.streamSid)
        let deadline = ContinuousClock.now + timeout
        while !done(seen) {
            guard ContinuousClock.now < deadline else { throw RawClient.Timeout(what: "outbound messages; saw \(seen.count)") }
            let frame = try #require(try await socket.nextFrame(timeout: .seconds(10)), "socket closed")
            guard frame.opcode == WSFrame.text else {
                Issue.record("unexpected frame opcode \(frame.opcode)")
                continue
            }
            switch try decoder.decode(ByteBuffer(bytes: frame.payload)) {
            case .media(let payload): seen.append(.media(bytes: payload.readableBytes))
            case .mark(let name): seen.append(.mark(name))
            case .clear: seen.append(.clear)
            }
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func demoCallSpeaksPacesMarksAndClearsOnDTMF() async throws {
        try await LiveServer.with(demoCalls: true, speech: Self.speech) { server in
            let socket = try await server.startCall()
            let sender = socket.streamCallerSilence()
            defer { sender.cancel() }

            var seen: [Outbound] = []
            // The greeting: wait for half a second of it.
            let firstAudioBy = ContinuousClock.now
            try await Self.collect(socket, into: &seen) { $0.filter { $0 != .clear && $0.isMedia }.count >= 25 }
            let greetingMedia = seen.count
            #expect(seen.allSatisfy { $0 == .media(bytes: 160) }, "every frame is exactly 160 bytes")
            // Paced, not dumped: 25 frames (500 ms) can't arrive in much under 500 ms minus the lead.
            #expect(ContinuousClock.now - firstAudioBy >= .milliseconds(350))

            // Press 1 during the greeting: a barge-in, so `clear` must come.
            try await socket.sendText(Twilio.dtmf(sequence: 10_000, digit: "1"))
            try await Self.collect(socket, into: &seen) { $0.contains(.clear) }
            // Then the "about" prompt plays.
            try await Self.collect(socket, into: &seen) { s in
                guard let clear = s.firstIndex(of: .clear) else { return false }
                return s[clear...].filter(\.isMedia).count >= 10
            }
            #expect(seen.count > greetingMedia)
            #expect(seen.filter(\.isMedia).allSatisfy { $0 == .media(bytes: 160) })

            // The caller hangs up.
            sender.cancel()
            _ = try? await sender.value
            try await socket.sendText(Twilio.stop(sequence: 20_000, callSid: Twilio.callSid))
            let close = try #require(try await socket.closeFrame(timeout: .seconds(5)))
            #expect(close.closeCode == 1000)
            try await server.waitForActiveCalls(0)

            let metrics = try await server.http("GET", "/metrics").body
            #expect(metrics.contains("voicebridge_calls_started_total 1"))
            // One observation per prompt that played: the greeting and the "about" prompt.
            #expect(metrics.contains("voicebridge_first_audio_latency_seconds_count 2"))
            #expect(metrics.contains(#"voicebridge_barge_ins_total{accepted="true"} 1"#))
            #expect(metrics.contains(#"voicebridge_calls_ended_total{reason="carrier_stop"} 1"#))
            #expect(!metrics.contains("voicebridge_frames_sent_total 0"))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func segmentsEndWithMarks() async throws {
        try await LiveServer.with(demoCalls: true, speech: Self.speech) { server in
            let socket = try await server.startCall()
            let sender = socket.streamCallerSilence()
            defer { sender.cancel() }
            var seen: [Outbound] = []
            // The greeting is several seconds long; its end is marked.
            try await Self.collect(socket, into: &seen, timeout: .seconds(30)) { s in s.contains { $0.isMark } }
            let mark = try #require(seen.first { $0.isMark })
            #expect(seen.prefix { !$0.isMark }.allSatisfy { $0 == .media(bytes: 160) })
            if case .mark(let name) = mark { #expect(!name.isEmpty) }
            sender.cancel()
            await socket.close()
        }
    }
}

extension FullCallTests {
    /// The server's own defaults (offline voice included) start and answer.
    @Test func defaultServerPreparesTheOfflineVoiceAndStarts() async throws {
        try await LiveServer.with(demoCalls: true) { server in
            let health = try await server.http("GET", "/healthz")
            #expect(health.status == 200)
        }
    }
}

extension FullCallTests.Outbound {
    var isMedia: Bool { if case .media = self { true } else { false } }
    var isMark: Bool { if case .mark = self { true } else { false } }
}
