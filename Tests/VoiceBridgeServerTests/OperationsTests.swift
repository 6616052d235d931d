import Foundation
import Testing
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
        // The call is asked to finish; EchoCall ignores it, so the drain time (1 s) closes it.
        try await server.calls.waitFor("\(Twilio.callSid):shutdown")
        let close = try #require(try await socket.closeFrame(timeout: .seconds(5)))
        #expect(close.closeCode == 1001)
        try await server.waitUntilStopped()
        let elapsed = ContinuousClock.now - began
        #expect(elapsed >= .milliseconds(900) && elapsed < .seconds(5), "drained in \(elapsed)")
        #expect(server.calls.count("\(Twilio.callSid):socketClosed") == 1)
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
