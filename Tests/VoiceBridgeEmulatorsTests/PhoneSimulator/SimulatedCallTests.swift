import Foundation
import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing
@testable import VoiceBridgeEmulators

/// The call driver on manual time: an `EmbeddedChannel` whose loop only moves when told to.
@Suite struct SimulatedCallTests {
    final class Harness {
        let channel = EmbeddedChannel()
        let loop: EmbeddedEventLoop
        let done: EventLoopPromise<SimulatedCallOutcome>
        let streamSid = "MZ0123456789abcdef0123456789abcdef"

        init(script: CallScript = CallScript(maxDurationMs: 2000), track: CallerTrack = .silence) throws {
            loop = channel.embeddedEventLoop
            done = loop.makePromise()
            let setup = SimulatedCallSetup(
                callSid: "CA0123456789abcdef0123456789abcdef", accountSid: "AC0123456789abcdef0123456789abcdef",
                streamSid: streamSid, webhookURL: "http://127.0.0.1/voice", streamURL: "ws://127.0.0.1/media",
                customParameters: [("session", "s-1")], script: script, track: track, recordHeard: true,
                webhookMs: 1, connectStarted: loop.now)
            try channel.pipeline.syncOperations.addHandler(SimulatedCall(setup: setup, done: done))
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        }

        /// Text messages the simulator wrote, parsed.
        func sent() throws -> [[String: Any]] {
            var out: [[String: Any]] = []
            while let frame = try channel.readOutbound(as: WebSocketFrame.self) {
                // There is no frame encoder in this pipeline, so `data` is still unmasked.
                #expect(frame.maskKey != nil, "client frames must be masked")
                guard frame.opcode == .text else {
                    out.append(["opcode": "\(frame.opcode)"])
                    continue
                }
                let object = try JSONSerialization.jsonObject(with: Data(frame.data.readableBytesView))
                out.append(try #require(object as? [String: Any]))
            }
            return out
        }

        func advance(_ ms: Int64) { loop.advanceTime(by: .milliseconds(ms)) }

        func serverSends(_ json: String) throws {
            try channel.writeInbound(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: json)))
        }

        func serverSendsMedia(_ byte: UInt8, count: Int = 160) throws {
            let payload = Data(repeating: byte, count: count).base64EncodedString()
            try serverSends(#"{"event":"media","streamSid":"\#(streamSid)","media":{"payload":"\#(payload)"}}"#)
        }

        func serverSendsMark(_ name: String) throws {
            try serverSends(#"{"event":"mark","streamSid":"\#(streamSid)","mark":{"name":"\#(name)"}}"#)
        }

        func serverCloses() throws -> SimulatedCallOutcome {
            var data = ByteBuffer()
            data.write(webSocketErrorCode: .normalClosure)
            try channel.writeInbound(WebSocketFrame(fin: true, opcode: .connectionClose, data: data))
            loop.run()
            return try done.futureResult.wait()
        }
    }

    static func events(_ messages: [[String: Any]]) -> [String] { messages.map { $0["event"] as? String ?? "?" } }

    @Test func startsThenSendsMediaOnTheTwentyMillisecondGrid() throws {
        let h = try Harness()
        var sent = try h.sent()
        #expect(Self.events(sent) == ["connected", "start"])
        #expect((sent[1]["start"] as? [String: Any])?["customParameters"] as? [String: String] == ["session": "s-1"])
        h.advance(19)
        #expect(try h.sent().isEmpty)
        h.advance(1)
        sent = try h.sent()
        #expect(Self.events(sent) == ["media"])
        #expect((sent[0]["media"] as? [String: String])?["timestamp"] == "20")
        h.advance(75)  // t = 95 ms
        sent = try h.sent()
        #expect(sent.compactMap { ($0["media"] as? [String: String])?["chunk"] } == ["2", "3", "4"])
        #expect(sent.compactMap { $0["sequenceNumber"] as? String } == ["3", "4", "5"])
        h.advance(5)
        #expect(try h.sent().compactMap { ($0["media"] as? [String: String])?["timestamp"] } == ["100"])
    }

    @Test func marksEchoExactlyWhenTheirAudioHasPlayed() throws {
        let h = try Harness()
        _ = try h.sent()
        h.advance(5)
        for byte: UInt8 in [1, 2, 3] { try h.serverSendsMedia(byte) }
        try h.serverSendsMark("m1")
        h.advance(14)  // t = 19 ms
        #expect(Self.events(try h.sent()).isEmpty)
        h.advance(1)  // t = 20: a media frame goes out
        #expect(Self.events(try h.sent()) == ["media"])
        h.advance(44)  // t = 64 ms, 1 ms before the 60 ms of audio end at 65 ms
        #expect(Self.events(try h.sent()) == ["media", "media"])
        h.advance(1)  // t = 65: the timer wakes for the mark, between media deadlines
        let echo = try h.sent()
        #expect(Self.events(echo) == ["mark"])
        #expect((echo.first?["mark"] as? [String: String]) == ["name": "m1"])
        #expect(echo.first?["streamSid"] as? String == h.streamSid)
        // Nothing queued now: a new mark comes straight back.
        try h.serverSendsMark("m2")
        #expect(Self.events(try h.sent()) == ["mark"])
        let outcome = try h.serverCloses()
        #expect(outcome.timeline.marks.map(\.echoedAtMs) == [65, 65])
        #expect(outcome.timeline.marks.map(\.outcome) == [.played, .played])
        #expect(outcome.timeline.heardSegments == [.init(startMs: 5, endMs: 65)])
        let heard = try #require(outcome.heard)
        #expect(heard.count == 65 * 8)
        #expect(heard[40..<200].allSatisfy { $0 == 1 } && heard[360..<520].allSatisfy { $0 == 3 })
        #expect(outcome.timeline.endReason == .serverClosed)
        #expect(outcome.timeline.passed)
    }

    @Test func clearEchoesEveryPendingMarkAtOnce() throws {
        let h = try Harness()
        _ = try h.sent()
        try h.serverSendsMedia(1)
        try h.serverSendsMark("a")
        try h.serverSendsMedia(2)
        try h.serverSendsMark("b")
        h.advance(10)
        _ = try h.sent()
        try h.serverSends(#"{"event":"clear","streamSid":"\#(h.streamSid)"}"#)
        let echoes = try h.sent()
        #expect(echoes.compactMap { ($0["mark"] as? [String: String])?["name"] } == ["a", "b"])
        h.advance(100)
        #expect(!Self.events(try h.sent()).contains("mark"))
        let outcome = try h.serverCloses()
        #expect(outcome.timeline.marks.map(\.outcome) == [.cleared, .cleared])
        #expect(outcome.timeline.clears == [.init(atMs: 10, droppedMs: 30)])
    }

    @Test func scriptedDTMFAndHangUp() throws {
        let h = try Harness(script: CallScript(dtmf: [.init(atMs: 30, digit: "#")], hangupAtMs: 100))
        _ = try h.sent()
        h.advance(30)
        let sent = try h.sent()
        #expect(Self.events(sent) == ["media", "dtmf"])
        #expect((sent[1]["dtmf"] as? [String: String]) == ["track": "inbound_track", "digit": "#"])
        h.advance(70)
        let last = try h.sent()
        #expect(Self.events(last).suffix(3) == ["media", "stop", "?"])
        #expect(last.last?["opcode"] as? String == "\(WebSocketOpcode.connectionClose)")
        try h.channel.close().wait()
        let outcome = try h.done.futureResult.wait()
        #expect(outcome.timeline.endReason == .hangup)
        #expect(outcome.timeline.mediaSent == 5)
        #expect(outcome.timeline.durationMs == 100)
        #expect(outcome.timeline.sendLateness.maxMs == 0)
        #expect(outcome.timeline.dtmf == [.init(atMs: 30, digit: "#", mode: .event)])
    }

    @Test func violationsAreRecordedAndTheCallFails() throws {
        let h = try Harness()
        _ = try h.sent()
        try h.serverSends(#"{"event":"clear","streamSid":"\#(h.streamSid)","extra":1}"#)
        try h.serverSendsMedia(1, count: 320)
        try h.channel.writeInbound(WebSocketFrame(fin: true, opcode: .binary, data: ByteBuffer(bytes: [1])))
        try h.serverSends(#"{"event":"mark","streamSid":"\#(h.streamSid)","mark":{"name":"x","extra":"y"}}"#)
        let outcome = try h.serverCloses()
        #expect(outcome.timeline.violationCount == 4)
        #expect(outcome.timeline.violations[1].message == "media payload is 320 bytes, not 160")
        #expect(!outcome.timeline.passed)
        #expect(outcome.timeline.mediaReceived == 1)
        #expect(outcome.timeline.marks.isEmpty)
    }
}
