import Foundation
import NIOCore
import NIOPosix
import Testing
import VoiceBridgeCarriers
import VoiceBridgeEmulators
@testable import VoiceBridgeServer

/// Telnyx Call Control against the simulator's Telnyx API over loopback: the webhook's Ed25519
/// check, the `answer` command carrying the stream, webhooks delivered twice, and the REST
/// client's retries and refusals. (The whole call, hang-up and transfer included, runs in
/// `CarrierCallTests` with the `telnyx-call-control` carrier.)
@Suite struct TelnyxCallControlTests {
    static var api: TelnyxCallControlAPI { CarrierCallTests.telnyxAPI.api }
    static let loop = MultiThreadedEventLoopGroup.singleton.any()

    static func initiated(_ id: String, eventID: String = UUID().uuidString.lowercased()) -> String {
        TelnyxCallControlEvent(
            eventType: "call.initiated", id: eventID, occurredAt: "2026-12-05T10:00:00.000000Z", callControlID: id,
            callLegID: "428c31b6-7af4-4bcb-b7f5-5013ef9657c1", connectionID: "1494404757140276705", direction: "incoming",
            from: "+15550001111", to: "+15551230000"
        ).render(deliveredTo: "https://example.com/telnyx/call-control")
    }

    static func post(_ server: LiveServer, _ body: String, headers: [(String, String)]) async throws -> RawHTTPResponse {
        try await server.http("POST", TelnyxCallControlRoutes.webhookPath, headers: [("Content-Type", "application/json")] + headers, body: body)
    }

    @Test func aSignedCallInitiatedIsAnsweredWithTheStreamAndUnsignedOnesAreRefused() async throws {
        try await LiveServer.with(configure: CarrierCallTests.signed) { server in
            let id = "v3:cc-" + UUID().uuidString
            Self.api.expectCall(id)
            let body = Self.initiated(id)
            let now = Int64(Date().timeIntervalSince1970)
            let key = CarrierCallTests.key
            for headers in [Ed25519.PrivateKey.random().telnyxHeaders(body: Array(body.utf8), timestamp: now),
                key.telnyxHeaders(body: Array(body.utf8), timestamp: now - 600), []] {
                #expect(try await Self.post(server, body, headers: headers).status == 403)
            }
            #expect(await Self.api.nextCommand(for: id, timeout: .milliseconds(300), on: Self.loop) == nil, "a refused webhook answered a call")

            let response = try await Self.post(server, body, headers: key.telnyxHeaders(body: Array(body.utf8), timestamp: now))
            #expect(response.status == 200)
            let received = try #require(await Self.api.nextCommand(for: id, timeout: .seconds(5), on: Self.loop))
            guard case .answer(let stream)? = received.command else {
                Issue.record("expected answer, got \(received)")
                return
            }
            #expect(stream.url.hasPrefix("ws://127.0.0.1:\(server.port)/telnyx/media/"))
            #expect(stream.codec == "PCMU" && stream.samplingRate == 8000)
            #expect(received.commandID?.hasPrefix("answer-") == true)
            let metrics = try await server.http("GET", "/metrics").body
            #expect(metrics.contains("voicebridge_signature_failures_total 3"))
        }
    }

    @Test func aWebhookDeliveredTwiceAnswersTheCallOnce() async throws {
        try await LiveServer.with(configure: CarrierCallTests.signed) { server in
            let id = "v3:cc-" + UUID().uuidString
            Self.api.expectCall(id)
            let body = Self.initiated(id, eventID: "b97d4d5e-6fe7-4432-911f-79637bf6ebb7")
            for _ in 0..<2 {
                let headers = CarrierCallTests.key.telnyxHeaders(body: Array(body.utf8), timestamp: Int64(Date().timeIntervalSince1970))
                let response = try await Self.post(server, body, headers: headers)
                #expect(response.status == 200)
            }
            #expect(await Self.api.nextCommand(for: id, timeout: .seconds(5), on: Self.loop)?.action == "answer")
            #expect(await Self.api.nextCommand(for: id, timeout: .milliseconds(500), on: Self.loop) == nil, "answered twice")
        }
    }

    @Test func aBodyThatIsNoEventIsRefusedWith400() async throws {
        try await LiveServer.with(configure: { $0.carrierSettings["telnyx"] = ["api_key": "k"] }) { server in
            for body in ["not json", #"{"data":{"event_type":"call.initiated","payload":{}}}"#, #"{"meta":{}}"#] {
                let response = try await Self.post(server, body, headers: [])
                #expect(response.status == 400, "\(body) → \(response.status)")
            }
            // Events the bridge has no use for are acknowledged, as Telnyx expects.
            let other = TelnyxCallControlEvent(eventType: "call.bridged", id: "e", occurredAt: "t", callControlID: "v3:x").render(deliveredTo: "u")
            #expect(try await Self.post(server, other, headers: []).status == 200)
        }
    }

    // MARK: the REST client

    static func client(key: String = CarrierCallTests.telnyxAPIKey) -> TelnyxCallControlClient {
        TelnyxCallControlClient(
            baseURL: CarrierCallTests.telnyxAPI.baseURL, apiKey: key, retryDelays: [.milliseconds(20), .milliseconds(20)])
    }

    static func attempts(_ id: String) -> [TelnyxCallControlAPI.Received] {
        api.log.filter { $0.callControlID == id }
    }

    @Test func aFailingAPIIsTriedAgainWithTheSameCommandIDThenGivenUp() async throws {
        let id = "v3:retry-" + UUID().uuidString
        Self.api.expectCall(id)
        Self.api.failNextCommands(2, for: id)
        #expect(await Self.client().send(.hangup, callControlID: id, commandID: "c1") == .done)
        #expect(Self.attempts(id).map(\.status) == [503, 503, 200])
        #expect(Set(Self.attempts(id).compactMap(\.commandID)) == ["c1"])

        let other = "v3:retry-" + UUID().uuidString
        Self.api.expectCall(other)
        Self.api.failNextCommands(3, for: other)
        let outcome = await Self.client().send(.hangup, callControlID: other, commandID: "c2")
        guard case .failed(let reason) = outcome else {
            Issue.record("expected a failure, got \(outcome)")
            return
        }
        #expect(reason.contains("HTTP 503"))
        #expect(Self.attempts(other).count == 3)
    }

    @Test func aWrongKeyIsNotRetriedAndAnEndedCallIsNoFailure() async throws {
        let id = "v3:key-" + UUID().uuidString
        Self.api.expectCall(id)
        let outcome = await Self.client(key: "KEYwrong").send(.hangup, callControlID: id, commandID: "k1")
        #expect(outcome == .failed("HTTP 401 (10009 Authentication failed: the API key is missing or wrong)"))
        #expect(Self.attempts(id).count == 1)

        Self.api.endCall(id)
        #expect(await Self.client().send(.hangup, callControlID: id, commandID: "k2") == .callEnded)
        #expect(await TelnyxCallControlClient(baseURL: "http://x", apiKey: nil).send(.hangup, callControlID: id, commandID: "k3")
            == .failed("telnyx.api_key / TELNYX_API_KEY is unset"))
    }

    @Test func anAPIURLThatIsNotHTTPIsAConfigurationError() throws {
        var configuration = BridgeConfiguration()
        configuration.carrierSettings["telnyx"] = ["api_url": "ftp://api.telnyx.com/v2"]
        #expect(throws: ConfigurationError.self) { try configuration.validated() }
        configuration.carrierSettings["telnyx"] = ["api_url": "https://api.telnyx.com/v2"]
        _ = try configuration.validated()
    }
}
