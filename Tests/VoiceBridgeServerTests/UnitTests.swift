import Foundation
import NIOCore
import NIOWebSocket
import Testing
import VoiceBridgeCarriers
@testable import VoiceBridgeServer

@Suite struct TextFrameBatchTests {
    static func frames(_ buffer: ByteBuffer) -> [WSFrame] {
        var buffer = buffer
        var out: [WSFrame] = []
        while let frame = WSFrame.parse(&buffer) { out.append(frame) }
        #expect(buffer.readableBytes == 0, "trailing bytes after the last frame")
        return out
    }

    @Test(arguments: [0, 1, 125, 126, 300, 65535, 65536, 100_000])
    func headerFitsEveryLength(_ length: Int) throws {
        var batch = TextFrameBatch(allocator: ByteBufferAllocator(), initialCapacity: 64)
        let payload = String(repeating: "a", count: length)
        batch.append { $0.writeString(payload) }
        batch.append { $0.writeString("tail") }
        let taken = batch.takeBatch()
        let frames = Self.frames(try #require(taken))
        #expect(frames.count == 2)
        #expect(frames[0].payload.count == length && frames[0].text == payload)
        #expect(frames[0].opcode == WSFrame.text && frames[0].fin && !frames[0].masked)
        #expect(frames[1].text == "tail")
    }

    @Test func headerSizes() throws {
        for (length, header) in [(125, 2), (126, 4), (65535, 4), (65536, 10)] {
            var batch = TextFrameBatch(allocator: ByteBufferAllocator())
            batch.append { $0.writeRepeatingByte(UInt8(ascii: "x"), count: length) }
            let taken = batch.takeBatch()
            #expect(try #require(taken).readableBytes == length + header)
        }
    }

    @Test func bufferIsReusedOnceTheChannelLetsGo() throws {
        var batch = TextFrameBatch(allocator: ByteBufferAllocator(), initialCapacity: 4096)
        for tick in 0..<500 {
            batch.append { $0.writeString(#"{"event":"media","payload":"\#(tick)"}"#) }
            let taken = batch.takeBatch()
            var written = try #require(taken)
            // What the socket does with a write: consume it and drop it.
            _ = written.readBytes(length: written.readableBytes)
        }
        #expect(batch.allocations == 1)
    }

    @Test func heldBatchIsNeverOverwritten() throws {
        var batch = TextFrameBatch(allocator: ByteBufferAllocator(), initialCapacity: 4096)
        batch.append { $0.writeString("first") }
        let first = batch.takeBatch()
        let held = try #require(first)  // still queued in the channel
        batch.append { $0.writeString("second") }
        let second = batch.takeBatch()
        let next = try #require(second)
        #expect(Self.frames(held).map(\.text) == ["first"])
        #expect(Self.frames(next).map(\.text) == ["second"])
        #expect(batch.allocations == 2)
    }
}

@Suite struct MediaStreamGateTests {
    static func start(callSid: String = Twilio.callSid, accountSid: String = Twilio.accountSid) -> CarrierEvent {
        .start(
            StreamStart(
                sequenceNumber: 1, streamID: Twilio.streamSid, accountID: accountSid, callID: callSid,
                tracks: ["inbound"], customParameters: [:], mediaFormat: .mulaw8kMono
            )
        )
    }
    static let media = CarrierEvent.media(
        InboundMedia(sequenceNumber: 2, track: .inbound, chunk: 1, timestampMs: 0, payload: ByteBuffer())
    )

    @Test func connectedThenStartThenMedia() {
        var gate = MediaStreamGate(callID: Twilio.callSid, accountID: nil)
        #expect(gate.admit(.connected(protocolName: "Call", version: "1.0.0")) == .forward)
        #expect(gate.admit(Self.start()) == .startStream(streamID: Twilio.streamSid))
        #expect(gate.admit(Self.media) == .forward)
        #expect(gate.admit(.mark(MarkEcho(sequenceNumber: 3, name: "1.1"))) == .forward)
        #expect(gate.admit(.stop(StreamStop(sequenceNumber: 4, accountID: "", callID: ""))) == .forward)
        #expect(gate.admit(Self.media) == .refuse(.policyViolation, "media after stop"))
    }

    @Test func anythingButConnectedBeforeStartIsRefused() {
        for event in [Self.media, .dtmf(DTMFPress(sequenceNumber: 2, track: "inbound_track", digit: "1")), .mark(MarkEcho(sequenceNumber: 2, name: "x"))] {
            var gate = MediaStreamGate(callID: Twilio.callSid, accountID: nil)
            guard case .refuse(let code, _) = gate.admit(event) else {
                Issue.record("\(event.name) before start was admitted")
                continue
            }
            #expect(code == .policyViolation)
        }
    }

    @Test func startMustMatchTheTokensCallAndTheAccount() {
        var gate = MediaStreamGate(callID: Twilio.callSid, accountID: Twilio.accountSid)
        guard case .refuse(.policyViolation, _) = gate.admit(Self.start(callSid: "CAother")) else {
            Issue.record("foreign callSid admitted")
            return
        }
        var gate2 = MediaStreamGate(callID: Twilio.callSid, accountID: Twilio.accountSid)
        guard case .refuse(.policyViolation, _) = gate2.admit(Self.start(accountSid: "ACother")) else {
            Issue.record("foreign account admitted")
            return
        }
    }

    @Test func decoderErrorsMapToCloseCodes() {
        #expect(MediaStreamGate.closeCode(for: .binaryFrame) == .unacceptableData)
        #expect(MediaStreamGate.closeCode(for: .messageTooLarge(size: 70_000, limit: 65_536)) == .messageTooLarge)
        #expect(MediaStreamGate.closeCode(for: .malformedJSON("x")) == .dataInconsistentWithMessage)
        #expect(MediaStreamGate.closeCode(for: .invalidBase64) == .dataInconsistentWithMessage)
        #expect(MediaStreamGate.closeCode(for: .unknownEvent("x")) == .policyViolation)
        #expect(MediaStreamGate.closeCode(for: .wrongStreamSid(expected: "a", got: "b")) == .policyViolation)
    }
}

@Suite struct PublicURLTests {
    @Test func parsesAndBuildsURLs() throws {
        let url = try PublicURL(parsing: "https://Voice.Example.com/bridge/")
        #expect(url.scheme == .https && url.host == "voice.example.com" && url.port == nil && url.basePath == "/bridge")
        #expect(url.webhookURL(path: "/twiml") == "https://voice.example.com/bridge/twiml")
        #expect(url.webhookURL(path: "/twiml", query: "a=1") == "https://voice.example.com/bridge/twiml?a=1")
        #expect(url.streamURL(token: "T") == "wss://voice.example.com/bridge/media/T")
        let plain = try PublicURL(parsing: "http://10.0.0.5:8080")
        #expect(plain.streamURL(token: "T") == "ws://10.0.0.5:8080/media/T")
        #expect(PublicURL.local(port: 9).streamURL(token: "T") == "ws://127.0.0.1:9/media/T")
        #expect(try PublicURL(parsing: "https://[::1]:8443").streamURL(token: "T") == "wss://[::1]:8443/media/T")
    }

    @Test(arguments: ["voice.example.com", "ftp://x", "https://", "https://x/?q=1", "https://x:99999", "https://u@x"])
    func refusesBadURLs(_ text: String) {
        #expect(throws: ConfigurationError.self) { try PublicURL(parsing: text) }
    }

    @Test func mediaRouteToken() {
        #expect(MediaRoute.token(fromPath: "/media/abc") == "abc")
        #expect(MediaRoute.token(fromPath: "/media/abc?x=1") == "abc")
        #expect(MediaRoute.token(fromPath: "/media/") == nil)
        #expect(MediaRoute.token(fromPath: "/media/a/b") == nil)
        #expect(MediaRoute.token(fromPath: "/twiml") == nil)
    }
}

@Suite struct ConfigurationTests {
    @Test func defaults() {
        let c = BridgeConfiguration()
        #expect(c.host == "0.0.0.0" && c.port == 8080 && c.leadMs == 60)
        #expect(c.bargeInMinSpeechMs == 200 && c.bargeInEchoGuardMs == 150)
        #expect(c.signatureMode == .enforce && c.maxMessageBytes == 65536)
    }

    @Test func shippedConfigFileMatchesTheBuiltInDefaults() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../config/voicebridge.yaml").standardized.path
        let loaded = try BridgeConfiguration.load(path: path, environment: [:])
        #expect(loaded == BridgeConfiguration())
    }

    @Test func environmentOverridesFileAndFlagsOverrideBoth() throws {
        var c = BridgeConfiguration()
        try c.apply(yaml: """
            server:
              port: 9000
              public_url: https://file.example.com
            twilio:
              signature_mode: log
            pacing:
              lead_ms: 80
            """)
        #expect(c.port == 9000 && c.leadMs == 80 && c.signatureMode == .log)
        try c.apply(environment: [
            "VOICEBRIDGE_PORT": "9100", "PUBLIC_URL": "https://env.example.com", "TWILIO_AUTH_TOKEN": "secret",
            "VOICEBRIDGE_SIGNATURE_MODE": "ENFORCE", "ELEVENLABS_API_KEY": "",
        ])
        #expect(c.port == 9100 && c.publicURL == "https://env.example.com" && c.twilioAuthToken == "secret")
        #expect(c.signatureMode == .enforce && c.elevenLabsAPIKey == nil && c.leadMs == 80)
    }

    @Test func secretsAreNeverInTheLogSummary() {
        var c = BridgeConfiguration()
        c.twilioAuthToken = "tw-secret-value"
        c.elevenLabsAPIKey = "el-secret-value"
        c.tokenSecret = "token-secret-value"
        let summary = c.logSummary
        #expect(summary["twilioAuthToken"] == "set" && summary["elevenLabsAPIKey"] == "set")
        #expect(!summary.values.contains { $0.contains("secret-value") })
        #expect(BridgeConfiguration().logSummary["twilioAuthToken"] == "unset")
    }

    @Test(arguments: [
        "server:\n  prot: 1\n",
        "server:\n  port: seventy\n",
        "server:\n  port: 70000\n",
        "twilio:\n  signature_mode: maybe\n",
        "- just\n- a list\n",
        "pacing:\n  frame_ms: 0\n",
    ])
    func badYAMLIsAnError(_ yaml: String) {
        var c = BridgeConfiguration()
        #expect(throws: ConfigurationError.self) { try c.apply(yaml: yaml) }
    }

    @Test func badEnvironmentIsAnError() {
        var c = BridgeConfiguration()
        #expect(throws: ConfigurationError.self) { try c.apply(environment: ["VOICEBRIDGE_PORT": "http"]) }
        #expect(throws: ConfigurationError.self) { try c.apply(environment: ["VOICEBRIDGE_SIGNATURE_MODE": "off"]) }
    }

    @Test func tlsNeedsBothFiles() {
        var c = BridgeConfiguration()
        c.tlsCertificatePath = "/tmp/cert.pem"
        #expect(throws: ConfigurationError.self) { try c.validated() }
    }
}

@Suite struct CallParameterStoreTests {
    final class Clock: @unchecked Sendable {
        var now: Int64 = 1000
    }

    @Test func takeReturnsOnce() {
        let store = CallParameterStore(capacity: 10, ttlSeconds: 60)
        store.remember(callSid: "CA1", parameters: ["From": "+1"])
        #expect(store.take(callSid: "CA1") == ["From": "+1"])
        #expect(store.take(callSid: "CA1") == nil)
    }

    @Test func boundedOldestFirst() {
        let store = CallParameterStore(capacity: 3, ttlSeconds: 60)
        for i in 0..<10 { store.remember(callSid: "CA\(i)", parameters: [:]) }
        #expect(store.count == 3)
        #expect(store.take(callSid: "CA0") == nil)
        #expect(store.take(callSid: "CA9") == [:])
    }

    @Test func entriesExpire() {
        let clock = Clock()
        let store = CallParameterStore(capacity: 10, ttlSeconds: 5, clock: { clock.now })
        store.remember(callSid: "CA1", parameters: [:])
        clock.now += 6
        #expect(store.take(callSid: "CA1") == nil)
        store.remember(callSid: "CA2", parameters: [:])
        store.remember(callSid: "CA3", parameters: [:])
        clock.now += 6
        store.remember(callSid: "CA4", parameters: [:])
        #expect(store.count == 1)
    }
}

@Suite struct ServiceDescriptionTests {
    /// service-lifecycle logs each service with `String(describing:)` at startup (debug level):
    /// it must name the service, never dump the configuration and its secrets.
    @Test func theServiceNeverDescribesItsSecrets() throws {
        var configuration = BridgeConfiguration()
        configuration.port = 0
        configuration.twilioAuthToken = "twilio-secret-token"
        configuration.carrierSettings["plivo"] = ["auth_token": "plivo-secret-token"]
        let server = try VoiceBridgeServer(configuration: configuration)
        let text = String(describing: server) + String(reflecting: server)
        #expect(!text.contains("secret-token"), "\(text)")
    }
}
