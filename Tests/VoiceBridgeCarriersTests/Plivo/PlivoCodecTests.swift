import Foundation
import NIOCore
import Testing
import VoiceBridgeCarriers

/// Plivo's wire shapes, from carriers.md §2.2–2.4, both ways.
@Suite struct PlivoCodecTests {
    static let streamID = "7b0d2a64-3c55-4d0e-8a1f-5e6a7b8c9d0e"
    static let callID = "1c9e6f5a-2f0e-4b8e-9d61-0a6b1d2c3e4f"
    static let identity = CallIdentity(callID: callID, streamID: streamID, accountID: "MAEXAMPLE0000000000")

    func decode(_ json: String, into decoder: inout PlivoMediaStreamDecoder) throws(CarrierProtocolError) -> CarrierEvent? {
        try decoder.decode(.text(ByteBuffer(string: json)))
    }

    func text(_ write: (inout ByteBuffer) -> Void) -> String {
        var buffer = ByteBuffer()
        write(&buffer)
        return String(buffer: buffer)
    }

    @Test func theDocumentedStartBecomesANeutralStart() throws {
        var decoder = PlivoMediaStreamDecoder()
        let json = #"""
        {"event":"start","sequenceNumber":1,
         "start":{"callId":"1c9e6f5a-2f0e-4b8e-9d61-0a6b1d2c3e4f","streamId":"7b0d2a64-3c55-4d0e-8a1f-5e6a7b8c9d0e",
                  "accountId":"MAEXAMPLE0000000000","tracks":["inbound"],
                  "mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000}},
         "extra_headers":"session=s42;lang=en"}
        """#
        guard case .start(let start)? = try decode(json, into: &decoder) else {
            Issue.record("not a start")
            return
        }
        #expect(start.identity == Self.identity)
        #expect(start.mediaFormat == .mulaw8kMono)
        #expect(start.customParameters == ["session": "s42", "lang": "en"])
        #expect(decoder.expectedStreamID == Self.streamID)
        #expect(PlivoDialect.format(encoding: "audio/x-l16", sampleRate: 16000) == MediaFormat(encoding: .l16(.littleEndian), sampleRate: 16000))
    }

    @Test func mediaHasNumericCountersAndAnEpochTimestampMadeRelative() throws {
        var decoder = PlivoMediaStreamDecoder()
        var first: InboundMedia?
        for (chunk, epoch) in [(1, "1760000000020"), (2, "1760000000040")] {
            let json = #"{"event":"media","sequenceNumber":\#(chunk + 1),"streamId":"\#(Self.streamID)","media":{"track":"inbound","timestamp":"\#(epoch)","chunk":\#(chunk),"payload":"/w=="},"extra_headers":"a=1"}"#
            guard case .media(let media)? = try decode(json, into: &decoder) else {
                Issue.record("media not decoded")
                return
            }
            #expect(media.chunk == chunk)
            #expect(Array(media.payload.readableBytesView) == [0xFF])
            if let first { #expect(media.timestampMs - first.timestampMs == 20) } else { first = media }
        }
        #expect(first?.timestampMs == 0)
        // Twilio's string counters are the wrong type here.
        let stringCounter = #"{"event":"media","sequenceNumber":"3","media":{"track":"inbound","timestamp":"1","chunk":3,"payload":"/w=="}}"#
        #expect(throws: CarrierProtocolError.wrongType(field: "sequenceNumber", expected: "number")) { try decode(stringCounter, into: &decoder) }
        let fraction = #"{"event":"media","sequenceNumber":3.5,"media":{"track":"inbound","timestamp":"1","chunk":3,"payload":"/w=="}}"#
        #expect(throws: CarrierProtocolError.self) { try decode(fraction, into: &decoder) }
    }

    @Test func dtmfPlayedStreamClearedAudioAndStop() throws {
        var decoder = PlivoMediaStreamDecoder()
        let dtmf = #"{"event":"dtmf","sequenceNumber":57,"streamId":"\#(Self.streamID)","dtmf":{"track":"inbound","digit":"5","timestamp":"1760000001130"}}"#
        #expect(try decode(dtmf, into: &decoder) == .dtmf(DTMFPress(sequenceNumber: 57, track: "inbound", digit: "5")))
        let played = #"{"event":"playedStream","sequenceNumber":311,"streamId":"\#(Self.streamID)","name":"turn-3:seg-1"}"#
        #expect(try decode(played, into: &decoder) == .mark(MarkEcho(sequenceNumber: 311, name: "turn-3:seg-1")))
        // The support pages' spelling, and a clone's that leaves out the stream id.
        #expect(try decode(#"{"event":"played","name":"x"}"#, into: &decoder) == .mark(MarkEcho(sequenceNumber: 0, name: "x")))
        #expect(try decode(#"{"sequenceNumber":0,"event":"clearedAudio","streamId":"\#(Self.streamID)"}"#, into: &decoder) == nil)
        guard case .stop? = try decode(#"{"event":"stop","sequenceNumber":900,"reason":"hangup"}"#, into: &decoder) else {
            Issue.record("stop not decoded")
            return
        }
        guard case .notice(let notice)? = try decode(#"{"event":"playFailed","streamId":"s"}"#, into: &decoder) else {
            Issue.record("playFailed is not a notice")
            return
        }
        #expect(notice.kind == "play_failed")
    }

    @Test func eventsOfAnotherStreamAreRefusedOnceStarted() throws {
        var decoder = PlivoMediaStreamDecoder()
        decoder.expectedStreamID = Self.streamID
        let played = #"{"event":"playedStream","sequenceNumber":3,"streamId":"other","name":"x"}"#
        #expect(throws: CarrierProtocolError.wrongStreamSid(expected: Self.streamID, got: "other")) { try decode(played, into: &decoder) }
        #expect(throws: CarrierProtocolError.binaryFrame) { try decoder.decode(.binary(ByteBuffer(bytes: [1, 2]))) }
    }

    @Test func theServersThreeMessagesAreExactlyAsDocumented() {
        let encoder = PlivoMediaStreamEncoder(streamID: Self.streamID, format: .mulaw8kMono)
        let frame: [UInt8] = [0xFF, 0x7F, 0x00]
        #expect(text { out in frame.withUnsafeBytes { encoder.writeMedia($0, into: &out) } }
            == #"{"event":"playAudio","media":{"contentType":"audio/x-mulaw","sampleRate":8000,"payload":"/38A"}}"#)
        #expect(text { encoder.writeMark(name: "turn-3:seg-1", into: &$0) }
            == #"{"event":"checkpoint","streamId":"\#(Self.streamID)","name":"turn-3:seg-1"}"#)
        #expect(text { encoder.writeClear(into: &$0) } == #"{"event":"clearAudio","streamId":"\#(Self.streamID)"}"#)
    }

    @Test func theCarrierSideReadsWhatTheServerWritesAndRefusesAnythingElse() throws {
        let encoder = PlivoMediaStreamEncoder(streamID: Self.streamID, format: .mulaw8kMono)
        var peer = PlivoCarrierPeer(identity: Self.identity, epochBaseMs: 1_760_000_000_000)
        let frame = [UInt8](repeating: 0x55, count: 160)
        let media = text { out in frame.withUnsafeBytes { encoder.writeMedia($0, into: &out) } }
        guard case .media(let payload) = try peer.decode(ByteBuffer(string: media)) else {
            Issue.record("playAudio not read")
            return
        }
        #expect(Array(payload.readableBytesView) == frame)
        #expect(try peer.decode(ByteBuffer(string: text { encoder.writeMark(name: "m", into: &$0) })) == .mark(name: "m"))
        #expect(try peer.decode(ByteBuffer(string: text { encoder.writeClear(into: &$0) })) == .clear)
        let refused: [(String, CarrierProtocolError)] = [
            (#"{"event":"media","media":{"payload":"/w=="}}"#, .unknownEvent("media")),
            (#"{"event":"playAudio","streamId":"\#(Self.streamID)","media":{"contentType":"audio/x-mulaw","sampleRate":8000,"payload":"/w=="}}"#, .unexpectedField("streamId")),
            (#"{"event":"playAudio","media":{"contentType":"audio/x-l16","sampleRate":8000,"payload":"/w=="}}"#,
             .invalidValue(field: "media.contentType", reason: "the stream is audio/x-mulaw, got \"audio/x-l16\"")),
            (#"{"event":"playAudio","media":{"contentType":"audio/x-mulaw","sampleRate":"8000","payload":"/w=="}}"#, .wrongType(field: "media.sampleRate", expected: "number")),
            (#"{"event":"checkpoint","name":"m"}"#, .missingField("streamId")),
            (#"{"event":"clearAudio","streamId":"other"}"#, .wrongStreamSid(expected: Self.streamID, got: "other")),
        ]
        for (json, error) in refused {
            #expect(throws: error, "\(json)") { try peer.decode(ByteBuffer(string: json)) }
        }
    }

    @Test func theCarrierSideWritesPlivosShapes() {
        var encoder = PlivoCarrierEncoder(identity: Self.identity, epochBaseMs: 1_760_000_000_000)
        #expect(text { encoder.writeStart(into: &$0) }
            == #"{"event":"start","sequenceNumber":1,"start":{"callId":"\#(Self.callID)","streamId":"\#(Self.streamID)","accountId":"MAEXAMPLE0000000000","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000}}}"#)
        #expect(text { out in [UInt8(0xFF)].withUnsafeBytes { encoder.writeMedia($0, timestampMs: 20, into: &out) } }
            == #"{"event":"media","sequenceNumber":2,"streamId":"\#(Self.streamID)","media":{"track":"inbound","timestamp":"1760000000020","chunk":1,"payload":"/w=="}}"#)
        #expect(text { encoder.writeClearedAudio(into: &$0) } == #"{"sequenceNumber":0,"event":"clearedAudio","streamId":"\#(Self.streamID)"}"#)
        // The carrier side and the server side agree.
        var decoder = PlivoMediaStreamDecoder()
        #expect(throws: Never.self) { _ = try decoder.decode(.text(ByteBuffer(string: text { encoder.writeStart(into: &$0) }))) }
    }

    /// carriers.md §2.4's vector (computed with the documented algorithm).
    @Test func signatureV3MatchesTheDocumentedVector() {
        let signature = PlivoSignature(authToken: "MY_AUTH_TOKEN")
        let form = [("CallUUID", "abc"), ("From", "+15550001")]
        let nonce = "12345678901234567890"
        let expected = "kS8A1iG+4o6qUDpZKUM4b6FLuYv+G7nS8/H6Tk19DT0="
        #expect(signature.compute(method: .post, url: "https://example.com/answer", parameters: form, nonce: nonce) == expected)
        #expect(signature.isValid(header: "bogus, \(expected)", nonce: nonce, method: .post, url: "https://example.com/answer", parameters: form))
        #expect(!signature.isValid(header: expected, nonce: "1", method: .post, url: "https://example.com/answer", parameters: form))
        #expect(!signature.isValid(header: expected, nonce: nonce, method: .post, url: "https://example.com/answer", parameters: [("CallUUID", "abd"), ("From", "+15550001")]))
        #expect(!PlivoSignature(authToken: "other").isValid(header: expected, nonce: nonce, method: .post, url: "https://example.com/answer", parameters: form))
    }

    @Test func signedStringsFollowThePerMethodRules() {
        #expect(PlivoSignature.signedString(method: .get, url: "wss://h/plivo/media/t?b=2&a=1", parameters: []) == "wss://h/plivo/media/t?a=1&b=2")
        #expect(PlivoSignature.signedString(method: .get, url: "wss://h/plivo/media/t", parameters: []) == "wss://h/plivo/media/t")
        #expect(PlivoSignature.signedString(method: .post, url: "https://h/a?x=1", parameters: []) == "https://h/a?x=1")
        #expect(PlivoSignature.signedString(method: .post, url: "https://h/a?x=1", parameters: [("B", "2"), ("A", "1")]) == "https://h/a?x=1.A1B2")
    }

    @Test func theAnswerXMLRoundTripsAndRefusesAOneWayStream() throws {
        let xml = PlivoStreamXML(url: "wss://vb.example.com/plivo/media/tok", statusCallback: "https://vb.example.com/plivo/stream-status", afterStream: "https://vb.example.com/plivo/after-stream")
        let rendered = xml.render()
        #expect(rendered.contains(#"<Stream bidirectional="true" keepCallAlive="true" contentType="audio/x-mulaw;rate=8000""#))
        #expect(rendered.contains(">wss://vb.example.com/plivo/media/tok</Stream>"))
        #expect(try PlivoStreamXML.parse(rendered) == xml)
        let oneWay = rendered.replacingOccurrences(of: #"bidirectional="true" "#, with: "")
        #expect(throws: TwiMLError.self) { try PlivoStreamXML.parse(oneWay) }
        #expect(PlivoStreamXML.document(dial: "+15550009999", markup: nil).contains("<Dial><Number>+15550009999</Number></Dial>"))
        #expect(PlivoStreamXML.document(dial: nil, markup: nil).hasSuffix("<Hangup/></Response>"))
    }
}
