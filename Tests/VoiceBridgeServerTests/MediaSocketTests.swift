import Foundation
import NIOCore
import Testing
import VoiceBridgeCalls
import VoiceBridgeCarriers
@testable import VoiceBridgeServer

/// Bad input on one media socket closes that socket only, with the right close code, while a
/// second call on the same server keeps streaming and the server keeps answering.
@Suite struct MediaSocketTests {
    static let victimCallSid = "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    static let victimStreamSid = "MZaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    static let healthyCallSid = "CAbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
    static let healthyStreamSid = "MZbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

    /// Opens a healthy call and a victim, lets `attack` misbehave on the victim, and checks the
    /// victim's close code, that the healthy call still streams and that /healthz answers.
    static func expectOnlyVictimCloses(
        code expectedCode: UInt16,
        victimStarts: Bool = true,
        configure: (inout BridgeConfiguration) -> Void = { _ in },
        _ attack: (MediaSocket) async throws -> Void
    ) async throws {
        try await LiveServer.with(configure: configure) { server in
            let healthy = try await server.startCall(callSid: healthyCallSid, streamSid: healthyStreamSid)
            let victim: MediaSocket
            if victimStarts {
                victim = try await server.startCall(callSid: victimCallSid, streamSid: victimStreamSid)
                try await server.calls.waitFor("\(victimCallSid):start")
            } else {
                let path = try await server.streamPath(callSid: victimCallSid)
                victim = try await MediaSocket.connect(
                    port: server.port, path: path,
                    headers: [("X-Twilio-Signature", server.sign("wss://voice.example.com" + path))]
                )
                try await victim.sendText(Twilio.connected())
            }
            try await attack(victim)
            let close = try #require(try await victim.closeFrame(), "victim got no close frame")
            #expect(close.closeCode == expectedCode, "close reason: \(close.closeReason)")
            try await victim.client.waitForClose()
            try await server.calls.waitFor("\(victimCallSid):socketClosed")

            for sequence in 2...6 {
                try await healthy.sendText(Twilio.media(sequence: sequence, streamSid: healthyStreamSid))
                let echo = try #require(try await healthy.nextText(), "healthy call stopped streaming")
                #expect(echo.contains(#""streamSid":"\#(healthyStreamSid)""#))
            }
            let health = try await server.http("GET", "/healthz")
            #expect(health.status == 200)
            #expect(health.body == #"{"status":"ok","activeCalls":1}"#)
            await healthy.close()
        }
    }

    @Test func malformedJSONClosesWith1007() async throws {
        try await Self.expectOnlyVictimCloses(code: 1007) { try await $0.sendText(#"{"event":"media","media":{"#) }
    }

    @Test func unknownEventClosesWith1008() async throws {
        try await Self.expectOnlyVictimCloses(code: 1008) {
            try await $0.sendText(#"{"event":"teleport","sequenceNumber":"2","streamSid":"\#(Self.victimStreamSid)"}"#)
        }
    }

    @Test func binaryFrameClosesWith1003() async throws {
        try await Self.expectOnlyVictimCloses(code: 1003) {
            try await $0.sendFrame(opcode: WSFrame.binary, payload: Twilio.silence)
        }
    }

    @Test func oversizedMessageClosesWith1009() async throws {
        try await Self.expectOnlyVictimCloses(code: 1009) {
            try await $0.sendText(String(repeating: "x", count: 64 * 1024 + 1))
        }
    }

    @Test func oversizedFragmentedMessageClosesWith1009() async throws {
        try await Self.expectOnlyVictimCloses(code: 1009) { socket in
            let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 40 * 1024)
            try await socket.sendFrame(opcode: WSFrame.text, payload: chunk, fin: false)
            try await socket.sendFrame(opcode: 0x0, payload: chunk, fin: true)
        }
    }

    @Test func wrongStreamSidClosesWith1008() async throws {
        try await Self.expectOnlyVictimCloses(code: 1008) {
            try await $0.sendText(Twilio.media(sequence: 2, streamSid: "MZffffffffffffffffffffffffffffffff"))
        }
    }

    @Test func mediaBeforeStartClosesWith1008() async throws {
        try await Self.expectOnlyVictimCloses(code: 1008, victimStarts: false) {
            try await $0.sendText(Twilio.media(sequence: 2, streamSid: Self.victimStreamSid))
        }
    }

    @Test func invalidBase64ClosesWith1007() async throws {
        try await Self.expectOnlyVictimCloses(code: 1007) {
            let message = Twilio.media(sequence: 2, streamSid: Self.victimStreamSid)
                .replacingOccurrences(of: #""payload":""#, with: #""payload":"!!!*"#)
            try await $0.sendText(message)
        }
    }

    @Test func startForAnotherCallSidClosesWith1008() async throws {
        try await Self.expectOnlyVictimCloses(code: 1008, victimStarts: false) {
            try await $0.sendText(Twilio.start(callSid: "CAcccccccccccccccccccccccccccccccc", streamSid: Self.victimStreamSid))
        }
    }

    @Test func startFromAnotherAccountClosesWith1008() async throws {
        try await Self.expectOnlyVictimCloses(
            code: 1008, victimStarts: false, configure: { $0.twilioAccountSid = Twilio.accountSid }
        ) {
            try await $0.sendText(
                Twilio.start(
                    callSid: Self.victimCallSid, streamSid: Self.victimStreamSid,
                    accountSid: "ACdddddddddddddddddddddddddddddddd"
                )
            )
        }
    }

    @Test func secondStartClosesWith1008() async throws {
        try await Self.expectOnlyVictimCloses(code: 1008) {
            try await $0.sendText(Twilio.start(callSid: Self.victimCallSid, streamSid: Self.victimStreamSid))
        }
    }

    @Test func socketWithoutStartIsClosedWith1008() async throws {
        try await Self.expectOnlyVictimCloses(
            code: 1008, victimStarts: false, configure: { $0.startTimeoutSeconds = 1 }
        ) { _ in }
    }

    @Test func pingGetsPong() async throws {
        try await LiveServer.with { server in
            let socket = try await server.startCall()
            try await socket.sendFrame(opcode: WSFrame.ping, payload: Array("are you there".utf8))
            let pong = try #require(try await socket.nextFrame())
            #expect(pong.opcode == WSFrame.pong)
            #expect(pong.text == "are you there")
            #expect(!pong.masked)
            await socket.close()
        }
    }

    @Test func peerCloseEndsTheCallOnce() async throws {
        try await LiveServer.with { server in
            let socket = try await server.startCall()
            try await server.calls.waitFor("\(Twilio.callSid):start")
            try await server.waitForActiveCalls(1)
            try await socket.sendClose(code: 1000)
            let reply = try #require(try await socket.closeFrame())
            #expect(reply.closeCode == 1000)
            try await socket.client.waitForClose()
            try await server.waitForActiveCalls(0)
            #expect(server.calls.count("\(Twilio.callSid):socketClosed") == 1)
        }
    }

    @Test func droppedConnectionEndsTheCall() async throws {
        try await LiveServer.with { server in
            let socket = try await server.startCall()
            try await server.calls.waitFor("\(Twilio.callSid):start")
            await socket.close()
            try await server.calls.waitFor("\(Twilio.callSid):socketClosed")
            try await server.waitForActiveCalls(0)
        }
    }

    @Test func stopEndsTheCallAndTheCallClosesTheSocket() async throws {
        try await LiveServer.with { server in
            let socket = try await server.startCall()
            try await socket.sendText(Twilio.stop(sequence: 2, callSid: Twilio.callSid))
            let close = try #require(try await socket.closeFrame())
            #expect(close.closeCode == 1000)
            try await server.calls.waitFor("\(Twilio.callSid):socketClosed")
            #expect(server.calls.all.filter { $0.hasSuffix(":socketClosed") }.count == 1)
        }
    }

    @Test func outboundMessagesAreSingleUnmaskedTextFrames() async throws {
        try await LiveServer.with { server in
            let socket = try await server.startCall()
            let payload = (0..<160).map { UInt8($0) }
            try await socket.sendText(Twilio.media(sequence: 2, payload: payload))
            let media = try #require(try await socket.nextFrame())
            #expect(media.opcode == WSFrame.text && media.fin && !media.masked)
            #expect(media.text == #"{"event":"media","streamSid":"\#(Twilio.streamSid)","media":{"payload":"\#(Data(payload).base64EncodedString())"}}"#)

            try await socket.sendText(Twilio.dtmf(sequence: 3, digit: "5"))
            let clear = try #require(try await socket.nextFrame())
            let mark = try #require(try await socket.nextFrame())
            // Short messages use the 2-byte header; they must still parse as whole frames.
            #expect(clear.text == #"{"event":"clear","streamSid":"\#(Twilio.streamSid)"}"#)
            #expect(mark.text == #"{"event":"mark","streamSid":"\#(Twilio.streamSid)","mark":{"name":"dtmf.5"}}"#)
            await socket.close()
        }
    }

    @Test func steadyStreamingReusesOneOutboundBuffer() async throws {
        try await LiveServer.with { server in
            let socket = try await server.startCall()
            for sequence in 2...301 {
                try await socket.sendText(Twilio.media(sequence: sequence))
                #expect(try await socket.nextText() != nil)
            }
            await socket.close()
            // 300 echoed frames, each written and flushed on its own, all from the same buffer.
            try await server.calls.waitFor("\(Twilio.callSid):outboundBuffers:1")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func manyConcurrentCallsStreamIndependently() async throws {
        try await LiveServer.with { server in
            let calls = 64
            try await withThrowingTaskGroup(of: Int.self) { group in
                for n in 0..<calls {
                    group.addTask {
                        let callSid = "CA" + String(format: "%032x", n)
                        let streamSid = "MZ" + String(format: "%032x", n)
                        let socket = try await server.startCall(callSid: callSid, streamSid: streamSid)
                        var echoed = 0
                        for sequence in 2...26 {
                            let payload = [UInt8](repeating: UInt8(n), count: 160)
                            try await socket.sendText(Twilio.media(sequence: sequence, streamSid: streamSid, payload: payload))
                            let echo = try #require(try await socket.nextText())
                            // Each call hears its own audio on its own stream, never another's.
                            if echo.contains(streamSid), echo.contains(Data(payload).base64EncodedString()) { echoed += 1 }
                        }
                        await socket.close()
                        return echoed
                    }
                }
                var total = 0
                for try await echoed in group { total += echoed }
                #expect(total == calls * 25)
            }
            try await server.waitForActiveCalls(0)
        }
    }

    @Test func webhookParametersReachTheCall() async throws {
        try await LiveServer.with { server in
            let socket = try await server.startCall()
            try await server.calls.waitFor("\(Twilio.callSid):created:+15551234567")
            await socket.close()
        }
    }

    @Test func clientThatStopsReadingIsCutOff() async throws {
        let log = CallLog()
        try await LiveServer.with(
            configure: { $0.writeStallSeconds = 0.3 },
            callFactory: { context, sink in FloodCall(context: context, sink: sink, log: log) }
        ) { server in
            let path = try await server.streamPath()
            // The raw client never reads after the handshake: autoRead off, small receive buffer.
            let client = try await RawClient.connect(port: server.port, receiveBufferSize: 4096)
            try await client.send(
                "GET \(path) HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                    + "X-Twilio-Signature: \(server.sign("wss://voice.example.com" + path))\r\n\r\n"
            )
            _ = try await client.read("upgrade") { RawHTTPResponse.parse(&$0) }
            try await client.channel.setOption(ChannelOptions.autoRead, value: false).get()
            try await client.send(WSFrame.encode(opcode: WSFrame.text, payload: Array(Twilio.connected().utf8)))
            try await client.send(WSFrame.encode(opcode: WSFrame.text, payload: Array(Twilio.start(callSid: Twilio.callSid).utf8)))
            try await log.waitFor("flooding")
            try await log.waitFor("\(Twilio.callSid):socketClosed", timeout: .seconds(10))
            try await server.waitForActiveCalls(0)
            let metrics = try await server.http("GET", "/metrics")
            #expect(metrics.body.contains(#"voicebridge_errors_total{kind="write_stall"} 1"#))
            await client.close()
        }
    }
}

/// Writes 8000-byte media messages every few milliseconds while the socket is writable: a call
/// whose peer can't keep up.
final class FloodCall: MediaCall {
    private let sink: any CarrierSink
    private let context: MediaCallContext
    private let log: CallLog
    private var task: RepeatedTask?

    init(context: MediaCallContext, sink: any CarrierSink, log: CallLog) {
        self.context = context
        self.sink = sink
        self.log = log
    }

    func receive(_ event: CarrierEvent) {
        guard case .start = event else { return }
        log.append("flooding")
        let chunk = [UInt8](repeating: 0x7F, count: 8000)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        task = context.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(2)) { _ in
            let call = bound.value
            var sent = 0
            while call.sink.isWritable, sent < 64 {
                chunk.withUnsafeBytes { call.sink.sendMedia($0) }
                sent += 1
            }
            call.sink.flush()
        }
    }

    func socketClosed() {
        task?.cancel()
        task = nil
        log.append("\(context.callSid):socketClosed")
    }

    func statusCallback(_ status: String) {}
    func shutdown() {}
}
