import Foundation
import NIOCore
import Testing
import VoiceBridgeCarriers
@testable import VoiceBridgeServer

/// /healthz, /metrics and graceful shutdown.
@Suite struct OperationsTests {
    @Test func healthzReportsLiveCalls() async throws {
        try await LiveServer.with { server in
            let idle = try await server.http("GET", "/healthz")
            #expect(idle.status == 200)
            #expect(idle.header("Content-Type") == "application/json")
            #expect(idle.body == #"{"status":"ok","activeCalls":0}"#)
            let socket = try await server.startCall()
            try await server.waitForActiveCalls(1)
            await socket.close()
            try await server.waitForActiveCalls(0)
        }
    }

    @Test func metricsAfterACall() async throws {
        try await LiveServer.with { server in
            let socket = try await server.startCall()
            for sequence in 2...4 {
                try await socket.sendText(Twilio.media(sequence: sequence))
                _ = try await socket.nextText()
            }
            try await socket.sendText(#"{"event":"nonsense","sequenceNumber":"5","streamSid":"\#(Twilio.streamSid)"}"#)
            _ = try await socket.closeFrame()
            try await server.waitForActiveCalls(0)

            let metrics = try await server.http("GET", "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
            let body = metrics.body
            #expect(body.contains("# TYPE voicebridge_active_calls gauge"))
            #expect(body.contains("voicebridge_active_calls 0"))
            #expect(body.contains("voicebridge_calls_started_total 1"))
            #expect(body.contains("voicebridge_frames_sent_total 3"))
            #expect(body.contains(#"voicebridge_frame_gap_seconds_bucket{le="0.02"} 3"#))
            #expect(body.contains("voicebridge_frame_gap_seconds_count 3"))
            #expect(body.contains("# TYPE voicebridge_barge_in_latency_seconds histogram"))
            #expect(body.contains("# TYPE voicebridge_first_audio_latency_seconds histogram"))
            #expect(body.contains(#"voicebridge_errors_total{kind="unknown_event"} 1"#))
            #expect(body.contains(#"voicebridge_calls_ended_total{reason="socket_closed"} 1"#))
            #expect(body.contains("voicebridge_webhooks_total 1"))
        }
    }

    @Test func activeCallsGaugeWhileACallIsLive() async throws {
        try await LiveServer.with { server in
            let socket = try await server.startCall()
            try await server.waitForActiveCalls(1)
            let r1 = try await server.http("GET", "/metrics")
            #expect(r1.body.contains("voicebridge_active_calls 1"))
            await socket.close()
        }
    }

    @Test func gracefulShutdownDrainsLiveCalls() async throws {
        let server = try await LiveServer.start()
        let socket = try await server.startCall()
        try await server.calls.waitFor("\(Twilio.callSid):start")
        let began = ContinuousClock.now
        await server.shutdownGracefully()
        // After the drain time (1 s) the call is asked to say goodbye and hang up; EchoCall
        // ignores it, so the goodbye's time (1 s more) closes it.
        try await server.calls.waitFor("\(Twilio.callSid):shutdown")
        #expect(ContinuousClock.now - began >= .milliseconds(900), "the call ran on for the drain time")
        let close = try #require(try await socket.closeFrame(timeout: .seconds(5)))
        #expect(close.closeCode == 1001)
        try await server.waitUntilStopped()
        let elapsed = ContinuousClock.now - began
        #expect(elapsed >= .milliseconds(1900) && elapsed < .seconds(6), "drained in \(elapsed)")
        #expect(server.calls.count("\(Twilio.callSid):socketClosed") == 1)
    }

    @Test func sigtermLetsTheCallRunThenSaysGoodbyeAndHangsUpWith1000WhileRefusingNewCalls() async throws {
        let goodbye = "Goodbye for now."
        let server = try await LiveServer.start(
            configure: {
                $0.drainSeconds = 0.5
                $0.drainGoodbye = goodbye
                $0.drainGoodbyeSeconds = 10
            },
            demoCalls: true, speech: ScriptedSpeech())
        let socket = try await server.startCall()
        var decoder = TwilioCarrierDecoder(streamSid: Twilio.streamSid)
        func next() async throws -> OutboundEvent {
            let frame = try #require(try await socket.nextFrame(timeout: .seconds(5)), "socket closed")
            switch frame.opcode {
            case WSFrame.close: return .close(frame.closeCode)
            default:
                switch try decoder.decode(ByteBuffer(bytes: frame.payload)) {
                case .media: return .media
                case .mark(let name): return .mark(name)
                case .clear: return .clear
                }
            }
        }
        #expect(try await next() == .media, "the greeting plays")
        await server.shutdownGracefully()
        // Draining: no new calls (webhooks 503, so Twilio tries the number's fallback URL), and
        // load balancers are told.
        let parameters = [("CallSid", "CA99999999999999999999999999999999"), ("AccountSid", Twilio.accountSid)]
        let refused = try await server.http(
            "POST", "/twiml", headers: [("X-Twilio-Signature", server.sign(LiveServer.publicURL + "/twiml", parameters))],
            body: Twilio.form(parameters))
        #expect(refused.status == 503)
        let health = try await server.http("GET", "/healthz")
        #expect(health.status == 503 && health.body.contains("draining"), "\(health.status) \(health.body)")
        // The greeting runs on until the drain time is up; then a clear, the goodbye whole, its
        // mark, and (once the mark is back) a clean close.
        var event = try await next()
        while event == .media { event = try await next() }
        #expect(event == .clear)
        var goodbyeFrames = 0
        event = try await next()
        while event == .media {
            goodbyeFrames += 1
            event = try await next()
        }
        let expected = goodbye.count * ScriptedSpeech.msPerCharacter / 20
        #expect(goodbyeFrames >= expected && goodbyeFrames <= expected + 1, "\(goodbyeFrames) frames of goodbye")
        guard case .mark(let name) = event else {
            Issue.record("expected the goodbye's mark, got \(event)")
            return
        }
        try await socket.sendText(Twilio.mark(sequence: 9_000, name: name))
        #expect(try await next() == .close(1000))
        try await server.waitUntilStopped()
    }

    enum OutboundEvent: Equatable {
        case media, clear
        case mark(String)
        case close(UInt16?)
    }

    @Test func shutdownRefusesNewSockets() async throws {
        let server = try await LiveServer.start()
        let socket = try await server.startCall()
        try await server.calls.waitFor("\(Twilio.callSid):start")
        let path = try await server.streamPath(callSid: "CA33333333333333333333333333333333")
        await server.shutdownGracefully()
        // Shutdown has begun once the live call is asked to finish.
        try await server.calls.waitFor("\(Twilio.callSid):shutdown")
        // The listener is closed: connecting fails, or (if it raced) the upgrade is refused.
        if let outcome = try? await MediaSocket.open(
            port: server.port, path: path,
            headers: [("X-Twilio-Signature", server.sign("wss://voice.example.com" + path))]
        ) {
            if case .opened(let late) = outcome {
                Issue.record("a socket opened during shutdown")
                await late.close()
            }
        }
        _ = try await socket.closeFrame()
        try await server.waitUntilStopped()
    }
}
