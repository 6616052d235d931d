import Foundation
import Testing
import VoiceBridgeCalls
import VoiceBridgeSpeech
@testable import VoiceBridgeFlows

/// The `webhook` step against a real HTTP server on loopback, through libcurl.
@Suite struct WebhookStepTests {
    static func flow(port: Int, path: String = "/ivr") -> String {
        """
        blocks:
          main:
            - set: { stage: lookup }
            - webhook:
                url: "http://127.0.0.1:\(port)\(path)"
                timeout: 2s
                on_error:
                  - say: "Sorry, that failed: {{webhookError}}."
            - say: "After the webhook, {{customer}}."
            - hangup
        """
    }

    /// Runs the call until `done` holds, letting the real HTTP round trip finish in between.
    func run(_ h: FlowHarness, until done: () -> Bool) async throws {
        for _ in 0..<400 where !done() {
            try await Task.sleep(for: .milliseconds(10))
            h.wait(ms: 20)
        }
    }

    @Test func theReplysStepsAndVariablesRunNext() async throws {
        CurlMulti.initializeGlobally()
        let server = try await WebhookServer { _, _ in
            (200, #"{"variables": {"customer": "Ann"}, "steps": [{"say": "Your order {{order}} has shipped."}, {"set": {"order": "done"}}]}"#)
        }
        defer { Task { try? await server.close() } }
        let h = try FlowHarness(yaml: Self.flow(port: server.port), parameters: ["From": "+15550001111", "To": "+15551230000", "order": "A17"]) { env in
            env.webhooks = CurlWebhookClient()
        }
        h.start()
        try await run(h) { h.spoken.count >= 2 }
        #expect(h.spoken == ["Your order A17 has shipped.", "After the webhook, Ann."])
        #expect(h.flow.variables["order"] == "done")

        let request = try #require(server.requests.first)
        #expect(request.method == "POST")
        #expect(request.path == "/ivr")
        #expect(request.contentType == "application/json")
        let json = try JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any]
        #expect(json?["callSid"] as? String == "CA00000000000000000000000000000001")
        #expect(json?["from"] as? String == "+15550001111")
        #expect((json?["variables"] as? [String: String])?["stage"] == "lookup")
        #expect(json?["step"] as? String == "test.yaml:4")
    }

    @Test func aPlainListOfStepsIsAReplyToo() async throws {
        CurlMulti.initializeGlobally()
        let server = try await WebhookServer { _, _ in (200, #"[{"say": "Listed."}, "hangup"]"#) }
        defer { Task { try? await server.close() } }
        let h = try FlowHarness(yaml: Self.flow(port: server.port)) { $0.webhooks = CurlWebhookClient() }
        h.start()
        try await run(h) { h.spoken.count >= 1 }
        h.wait(ms: 2_000)
        // The reply's hangup ends the call: the flow's own next step never runs.
        #expect(h.spoken == ["Listed."])
        #expect(h.ended)
    }

    @Test func anHTTPErrorRunsOnError() async throws {
        CurlMulti.initializeGlobally()
        let server = try await WebhookServer { _, _ in (503, "{}") }
        defer { Task { try? await server.close() } }
        let h = try FlowHarness(yaml: Self.flow(port: server.port)) { $0.webhooks = CurlWebhookClient() }
        h.start()
        try await run(h) { h.spoken.count >= 2 }
        #expect(h.spoken == ["Sorry, that failed: HTTP 503.", "After the webhook, ."])
    }

    @Test func anInvalidReplyRunsOnError() async throws {
        CurlMulti.initializeGlobally()
        let server = try await WebhookServer { _, _ in (200, #"[{"sing": "la"}]"#) }
        defer { Task { try? await server.close() } }
        let h = try FlowHarness(yaml: Self.flow(port: server.port)) { $0.webhooks = CurlWebhookClient() }
        h.start()
        try await run(h) { h.spoken.count >= 1 }
        #expect(h.spoken.first?.hasPrefix("Sorry, that failed: webhook reply from http://127.0.0.1:") == true)
        #expect(h.spoken.first?.contains("unknown step `sing`") == true)
    }

    @Test func anUnreachableServerRunsOnError() async throws {
        CurlMulti.initializeGlobally()
        // A port nothing listens on: bind one, note it, close it.
        let server = try await WebhookServer { _, _ in (200, "[]") }
        let port = server.port
        try await server.close()
        let h = try FlowHarness(yaml: Self.flow(port: port)) { $0.webhooks = CurlWebhookClient() }
        h.start()
        try await run(h) { h.spoken.count >= 1 }
        #expect(h.spoken.first?.hasPrefix("Sorry, that failed:") == true)
    }
}
