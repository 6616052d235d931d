import Foundation
import NIOCore
import NIOPosix
import Testing
import VoiceBridgeCarriers
import VoiceBridgeEmulators
import VoiceBridgeFlows
@testable import VoiceBridgeServer

/// Telnyx end to end over loopback: the TeXML webhook, the media socket in Telnyx's dialect
/// (checked strictly by the simulator's Telnyx side), its signatures and its bad input.
@Suite struct TelnyxCarrierTests {
    static let key = Ed25519.PrivateKey(seed: [UInt8](repeating: 7, count: 32))!
    static var publicKey: String { Data(key.publicKey).base64EncodedString() }

    static func signed(_ configuration: inout BridgeConfiguration) {
        configuration.carrierSettings["telnyx"] = ["public_key": publicKey]
        configuration.publicURL = nil
    }

    static func simulator(port: Int, script: CallScript, key: Ed25519.PrivateKey? = TelnyxCarrierTests.key) throws -> PhoneSimulator {
        try PhoneSimulator(configuration: .init(
            webhookURL: "http://127.0.0.1:\(port)/telnyx/texml", from: "+15550001111", to: "+15551230000",
            script: script, carrier: .telnyx, telnyxSigningKey: key))
    }

    static func runOne(_ simulator: PhoneSimulator) async throws -> PhoneSimulator.CallResult {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let report = await simulator.run(calls: 1, rampSeconds: 0, group: group, recordHeardCalls: 1)
        try await group.shutdownGracefully()
        return try #require(report.calls.first)
    }

    @Test(.timeLimit(.minutes(1)))
    func aCallHearsTheGreetingIsClearedByAKeyHearsTheReplyAndHangsUp() async throws {
        try await LiveServer.with(configure: Self.signed, demoCalls: true, speech: FullCallTests.speech) { server in
            let script = CallScript(dtmf: [.init(atMs: 2_000, digit: "1")], hangupAtMs: 12_000, maxDurationMs: 15_000)
            let result = try await Self.runOne(try Self.simulator(port: server.port, script: script))
            let timeline = result.timeline
            #expect(timeline.passed, "\(timeline.violations) \(timeline.error ?? "")")
            #expect(timeline.violationCount == 0)
            #expect(timeline.endReason == .hangup)
            // The greeting played before the key, and the key stopped it with Telnyx's `clear`.
            let firstMedia = try #require(timeline.firstMediaMs)
            #expect(firstMedia < 2_000)
            let key = try #require(timeline.dtmf.first)
            let clear = try #require(timeline.clears.first, "no clear after the key")
            #expect(clear.atMs >= key.atMs)
            // The reply's segment was marked, and Telnyx's echo of it came back as played.
            #expect(timeline.marks.contains { $0.outcome == .played }, "marks: \(timeline.marks)")
            // The reply was heard after the clear, in PCMU.
            let heard = try #require(result.heard)
            let afterClear = heard.dropFirst(Int(clear.atMs * 8) + 8 * 100)
            #expect(afterClear.contains { $0 != 0xFF && $0 != 0x7F }, "nothing heard after the clear")

            let metrics = try await server.http("GET", "/metrics").body
            #expect(metrics.contains(#"voicebridge_barge_ins_total{accepted="true"} 1"#))
            #expect(metrics.contains(#"voicebridge_calls_ended_total{reason="carrier_stop"} 1"#))
        }
    }

    @Test func webhooksWithoutAValidEd25519SignatureAreRefused() async throws {
        try await LiveServer.with(configure: Self.signed) { server in
            let body = FormURLEncoded.encode([("CallSid", "v3:abc"), ("From", "+15550001111"), ("To", "+15551230000")])
            let now = Int64(Date().timeIntervalSince1970)
            let good = Self.key.telnyxHeaders(body: Array(body.utf8), timestamp: now)
            let stranger = Ed25519.PrivateKey.random().telnyxHeaders(body: Array(body.utf8), timestamp: now)
            let stale = Self.key.telnyxHeaders(body: Array(body.utf8), timestamp: now - 600)
            let form = [("Content-Type", "application/x-www-form-urlencoded")]
            for (headers, status) in [(good, 200), (stranger, 403), (stale, 403), ([], 403)] {
                let response = try await server.http("POST", "/telnyx/texml", headers: form + headers, body: body)
                #expect(response.status == status, "\(headers.map(\.0)) → \(response.status)")
                if status == 200 {
                    #expect(response.body.contains(#"bidirectionalMode="rtp""#))
                    #expect(response.body.contains("/telnyx/media/"))
                    #expect(response.body.contains("<Redirect"))
                }
            }
            // A tampered body fails too.
            let tampered = body.replacingOccurrences(of: "1111", with: "2222")
            let response = try await server.http("POST", "/telnyx/texml", headers: form + good, body: tampered)
            #expect(response.status == 403)
            #expect(try await server.http("GET", "/metrics").body.contains("voicebridge_signature_failures_total 4"))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aFlowsTransferIsDialledThroughTheRedirectAfterTheStream() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("telnyx-flow-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try """
        name: transfer
        default: true
        start: go
        blocks:
          go:
            - say: "One moment."
            - redirect: {dial: "+15550009999"}
        """.write(toFile: directory + "/transfer.yaml", atomically: true, encoding: .utf8)
        let flows = ServedFlows(library: try FlowLibrary.load(directory: directory))
        try await LiveServer.with(configure: Self.signed, flows: flows, speech: FullCallTests.speech) { server in
            let result = try await Self.runOne(try Self.simulator(port: server.port, script: CallScript(maxDurationMs: 15_000)))
            #expect(result.timeline.endReason == .serverClosed)
            #expect(result.timeline.twimlAfterStream == ["<Dial>+15550009999</Dial>"])
        }
    }
}

/// Bad input on a Telnyx media socket closes that socket only; a Twilio call on the same server
/// keeps streaming.
@Suite struct TelnyxMediaSocketTests {
    static let streamID = "32DE0DEA-53CB-4B21-89A4-9E1819C043BC"

    /// TeXML webhook (unsigned: no key configured) and the upgrade; returns the open socket.
    static func openTelnyxStream(_ server: LiveServer, callSid: String) async throws -> MediaSocket {
        let body = FormURLEncoded.encode([("CallSid", callSid), ("From", "+15550001111"), ("To", "+15551230000")])
        let response = try await server.http("POST", "/telnyx/texml", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: body)
        try #require(response.status == 200, "webhook answered \(response.status): \(response.body)")
        let url = try TelnyxConnectStream.parse(response.body).url
        let path = String(url[url.range(of: "/telnyx/media/")!.lowerBound...])
        return try await MediaSocket.connect(port: server.port, path: path)
    }

    static func text(_ write: (inout ByteBuffer) -> Void) -> String {
        var buffer = ByteBuffer()
        write(&buffer)
        return String(buffer: buffer)
    }

    static func start(_ socket: MediaSocket, _ carrier: inout TelnyxCarrierEncoder) async throws {
        try await socket.sendText(text { carrier.writeConnected(into: &$0) })
        try await socket.sendText(text { carrier.writeStart(from: "+15550001111", to: "+15551230000", into: &$0) })
    }

    static func expectOnlyTelnyxCallCloses(code expected: UInt16, _ attack: (MediaSocket, inout TelnyxCarrierEncoder) async throws -> Void) async throws {
        try await LiveServer.with { server in
            let healthy = try await server.startCall(callSid: MediaSocketTests.healthyCallSid, streamSid: MediaSocketTests.healthyStreamSid)
            let victim = try await Self.openTelnyxStream(server, callSid: "v3:victim")
            var carrier = TelnyxCarrierEncoder(streamID: Self.streamID, callControlID: "v2:victim", userID: "user")
            try await Self.start(victim, &carrier)
            try await server.calls.waitFor("v3:victim:start")
            try await attack(victim, &carrier)
            let close = try #require(try await victim.closeFrame(), "victim got no close frame")
            #expect(close.closeCode == expected, "close reason: \(close.closeReason)")
            try await server.calls.waitFor("v3:victim:socketClosed")
            for sequence in 2...4 {
                try await healthy.sendText(Twilio.media(sequence: sequence, streamSid: MediaSocketTests.healthyStreamSid))
                let echo = try #require(try await healthy.nextText(), "healthy call stopped streaming")
                #expect(echo.contains(#""streamSid":"\#(MediaSocketTests.healthyStreamSid)""#))
            }
            await healthy.close()
        }
    }

    @Test func malformedJSONClosesWith1007() async throws {
        try await Self.expectOnlyTelnyxCallCloses(code: 1007) { socket, _ in try await socket.sendText(#"{"event":"media","media":{"#) }
    }

    @Test func wrongTypesCloseWith1008() async throws {
        try await Self.expectOnlyTelnyxCallCloses(code: 1008) { socket, _ in
            try await socket.sendText(#"{"event":"mark","stream_id":"\#(Self.streamID)","sequence_number":9,"mark":{"name":"x"}}"#)
        }
    }

    @Test func binaryClosesWith1003() async throws {
        try await Self.expectOnlyTelnyxCallCloses(code: 1003) { socket, _ in
            try await socket.sendFrame(opcode: WSFrame.binary, payload: [UInt8](repeating: 0xFF, count: 160))
        }
    }

    @Test func anotherStreamsIDClosesWith1008() async throws {
        try await Self.expectOnlyTelnyxCallCloses(code: 1008) { socket, _ in
            var other = TelnyxCarrierEncoder(streamID: "OTHER", callControlID: "v2:victim", userID: "user")
            try await socket.sendText(Self.text { other.writeMark(name: "x", into: &$0) })
        }
    }

    @Test func anOversizedFrameClosesWith1009() async throws {
        try await Self.expectOnlyTelnyxCallCloses(code: 1009) { socket, _ in
            try await socket.sendText(String(repeating: " ", count: 70_000))
        }
    }

    @Test func outOfOrderMediaIsDroppedNotFatalAndAnErrorFrameIsOnlyLogged() async throws {
        try await LiveServer.with { server in
            let socket = try await Self.openTelnyxStream(server, callSid: "v3:jitter")
            var carrier = TelnyxCarrierEncoder(streamID: Self.streamID, callControlID: "v2:jitter", userID: "user")
            try await Self.start(socket, &carrier)
            try await server.calls.waitFor("v3:jitter:start")
            let frame = [UInt8](repeating: 0x55, count: 160)
            for chunk in [1, 3, 2, 4] {
                try await socket.sendText(Self.text { out in frame.withUnsafeBytes { carrier.writeMedia($0, timestampMs: chunk * 20, chunk: chunk, into: &out) } })
            }
            try await socket.sendText(Self.text { carrier.writeError(code: 100_003, title: "malformed_frame", detail: "x", into: &$0) })
            // The echo call answers every media frame passed to it: three, not four.
            var echoes = 0
            while echoes < 3, let text = try await socket.nextText(timeout: .seconds(2)) {
                #expect(text.hasPrefix(#"{"event":"media","media":{"payload":"#), "\(text)")
                echoes += 1
            }
            #expect(echoes == 3)
            let fourth = try? await socket.nextText(timeout: .milliseconds(300))
            #expect(fourth == nil, "a fourth echo: the stale frame was passed on")
            try await socket.sendText(Self.text { carrier.writeStop(into: &$0) })
            let close = try #require(try await socket.closeFrame())
            #expect(close.closeCode == 1000)
        }
    }
}
