import Foundation
import NIOCore
import Testing
import VoiceBridgeCarriers

/// Telnyx's wire shapes, from carriers.md §1.2–1.4, both ways.
@Suite struct TelnyxCodecTests {
    static let streamID = "32DE0DEA-53CB-4B21-89A4-9E1819C043BC"
    static let callControlID = "v2:Tq3example"
    static let userID = "3E6F995F-85F7-4705-9741-53B116D28237"

    func decode(_ json: String, into decoder: inout TelnyxMediaStreamDecoder) throws(CarrierProtocolError) -> CarrierEvent? {
        try decoder.decode(.text(ByteBuffer(string: json)))
    }

    @Test func theDocumentedStartBecomesANeutralStart() throws {
        var decoder = TelnyxMediaStreamDecoder()
        let json = #"""
        {"event":"start","sequence_number":"1",
         "start":{"user_id":"3E6F995F-85F7-4705-9741-53B116D28237",
                  "call_control_id":"v2:Tq3example","call_session_id":"ff55a038-6f5d-11ef-9692-02420aeffb1f",
                  "from":"+13125550100","to":"+13125550199","tags":["vb"],
                  "client_state":"c2Vzc2lvbj1zLTQy",
                  "media_format":{"encoding":"PCMU","sample_rate":8000,"channels":1}},
         "stream_id":"32DE0DEA-53CB-4B21-89A4-9E1819C043BC"}
        """#
        let event = try decode(json, into: &decoder)
        guard case .start(let start)? = event else {
            Issue.record("not a start: \(String(describing: event))")
            return
        }
        #expect(start.identity == CallIdentity(callID: Self.callControlID, streamID: Self.streamID, accountID: Self.userID))
        #expect(start.mediaFormat == .mulaw8kMono)
        #expect(start.customParameters == ["From": "+13125550100", "To": "+13125550199"])
        #expect(decoder.expectedStreamID == Self.streamID)
    }

    @Test func formatsMapToNeutralOnesWithL16BigEndian() {
        #expect(TelnyxDialect.format(encoding: "PCMA", sampleRate: 8000, channels: 1) == .alaw8kMono)
        #expect(TelnyxDialect.format(encoding: "L16", sampleRate: 16000, channels: 1) == MediaFormat(encoding: .l16(.bigEndian), sampleRate: 16000))
        #expect(TelnyxDialect.format(encoding: "OPUS", sampleRate: 16000, channels: 1) == nil)
    }

    @Test func connectedHasNoProtocolAndMediaTakesTheFastPath() throws {
        var decoder = TelnyxMediaStreamDecoder()
        #expect(try decode(#"{"event":"connected","version":"1.0.0"}"#, into: &decoder) == .connected(protocolName: "", version: "1.0.0"))
        let media = #"{"event":"media","sequence_number":"4","media":{"track":"inbound","chunk":"2","timestamp":"5","payload":"/w=="},"stream_id":"\#(Self.streamID)"}"#
        guard case .media(let frame)? = try decode(media, into: &decoder) else {
            Issue.record("media not decoded")
            return
        }
        #expect(frame.chunk == 2)
        #expect(Array(frame.payload.readableBytesView) == [0xFF])
    }

    @Test func aMediaFrameOlderThanOneAlreadyPassedOnIsDroppedAndCounted() throws {
        var decoder = TelnyxMediaStreamDecoder()
        func media(_ chunk: Int, sequence: Int) -> String {
            #"{"event":"media","sequence_number":"\#(sequence)","media":{"track":"inbound","chunk":"\#(chunk)","timestamp":"\#(chunk * 20)","payload":"/w=="},"stream_id":"s"}"#
        }
        var passed: [Int] = []
        for (chunk, sequence) in [(1, 2), (3, 4), (2, 3), (4, 5), (4, 6)] {
            if case .media(let frame)? = try decode(media(chunk, sequence: sequence), into: &decoder) { passed.append(frame.chunk) }
        }
        #expect(passed == [1, 3, 4])
        #expect(decoder.staleMediaDropped == 2)
    }

    @Test func dtmfMarkAndStopCarryTheirFields() throws {
        var decoder = TelnyxMediaStreamDecoder()
        decoder.expectedStreamID = Self.streamID
        let dtmf = #"{"event":"dtmf","stream_id":"\#(Self.streamID)","occurred_at":"2025-06-05T08:54:19.698408Z","sequence_number":"5","dtmf":{"digit":"1"}}"#
        #expect(try decode(dtmf, into: &decoder) == .dtmf(DTMFPress(sequenceNumber: 5, track: "inbound", digit: "1")))
        let mark = #"{"event":"mark","stream_id":"\#(Self.streamID)","sequence_number":"9","mark":{"name":"turn-3:seg-1"}}"#
        #expect(try decode(mark, into: &decoder) == .mark(MarkEcho(sequenceNumber: 9, name: "turn-3:seg-1")))
        let stop = #"{"event":"stop","sequence_number":"812","stop":{"user_id":"\#(Self.userID)","call_control_id":"\#(Self.callControlID)"},"stream_id":"\#(Self.streamID)"}"#
        #expect(try decode(stop, into: &decoder) == .stop(StreamStop(sequenceNumber: 812, accountID: Self.userID, callID: Self.callControlID)))
    }

    @Test func anErrorFrameAndAnUnknownEventAreNoticesNotFailures() throws {
        var decoder = TelnyxMediaStreamDecoder()
        let error = #"{"event":"error","payload":{"code":100003,"title":"malformed_frame","detail":"Received frame was not formed correctly"},"stream_id":"x"}"#
        #expect(try decode(error, into: &decoder) == .notice(CarrierNotice(kind: "error", detail: "100003 malformed_frame: Received frame was not formed correctly")))
        guard case .notice(let notice)? = try decode(#"{"event":"speaking","stream_id":"x"}"#, into: &decoder) else {
            Issue.record("unknown event not a notice")
            return
        }
        #expect(notice.kind == "unknown_event")
    }

    @Test func badInputIsRefusedWithAClearError() {
        let cases: [(String, CarrierProtocolError)] = [
            (#"{"event":"start","sequence_number":1,"start":{"call_control_id":"c","media_format":{"encoding":"PCMU","sample_rate":8000,"channels":1}},"stream_id":"s"}"#,
             .wrongType(field: "sequence_number", expected: "string")),
            (#"{"event":"start","sequence_number":"1","start":{"call_control_id":"c","media_format":{"encoding":"G722","sample_rate":8000,"channels":1}},"stream_id":"s"}"#,
             .unsupportedFormat(#"start.media_format.encoding "G722""#)),
            (#"{"event":"media","sequence_number":"2","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"%%%"},"stream_id":"s"}"#,
             .invalidBase64),
            (#"{"event":"mark","stream_id":"s","sequence_number":"3"}"#, .missingField("mark")),
        ]
        for (json, expected) in cases {
            var decoder = TelnyxMediaStreamDecoder()
            #expect(throws: expected) { try decoder.decode(.text(ByteBuffer(string: json))) }
        }
        var decoder = TelnyxMediaStreamDecoder()
        #expect(throws: CarrierProtocolError.binaryFrame) { try decoder.decode(.binary(ByteBuffer(bytes: [0xFF]))) }
        #expect(throws: CarrierProtocolError.self) { try decoder.decode(.text(ByteBuffer(string: "{not json"))) }
    }

    @Test func theServerSendsExactlyTheDocumentedShapesAndAStrictPeerAcceptsThem() throws {
        let encoder = TelnyxMediaStreamEncoder()
        var out = ByteBuffer()
        [UInt8](repeating: 0xFF, count: 3).withUnsafeBytes { encoder.writeMedia($0, into: &out) }
        #expect(String(buffer: out) == #"{"event":"media","media":{"payload":"////"}}"#)
        var peer = TelnyxCarrierDecoder()
        #expect(try peer.decode(out) == .media(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF])))
        out.clear()
        encoder.writeMark(name: "1.\"2\"", into: &out)
        #expect(String(buffer: out) == #"{"event":"mark","mark":{"name":"1.\"2\""}}"#)
        #expect(try peer.decode(out) == .mark(name: "1.\"2\""))
        out.clear()
        encoder.writeClear(into: &out)
        #expect(String(buffer: out) == #"{"event":"clear"}"#)
        #expect(try peer.decode(out) == .clear)
    }

    @Test func aStrictPeerRefusesTwilioShapesAndExtraFields() {
        var peer = TelnyxCarrierDecoder()
        #expect(throws: CarrierProtocolError.unexpectedField("stream_id")) {
            try peer.decode(ByteBuffer(string: #"{"event":"clear","stream_id":"x"}"#))
        }
        #expect(throws: CarrierProtocolError.unexpectedField("streamSid")) {
            try peer.decode(ByteBuffer(string: #"{"event":"clear","streamSid":"MZ1"}"#))
        }
        #expect(throws: CarrierProtocolError.unexpectedField("media.track")) {
            try peer.decode(ByteBuffer(string: #"{"event":"media","media":{"payload":"/w==","track":"outbound"}}"#))
        }
    }

    @Test func whatTheSimulatorSendsIsWhatTheServerReads() throws {
        var carrier = TelnyxCarrierEncoder(streamID: Self.streamID, callControlID: Self.callControlID, userID: Self.userID)
        var server = TelnyxMediaStreamDecoder()
        var out = ByteBuffer()
        carrier.writeConnected(into: &out)
        #expect(try server.decode(.text(out)) == .connected(protocolName: "", version: "1.0.0"))
        out.clear()
        carrier.writeStart(from: "+15550001111", to: "+15551230000", into: &out)
        guard case .start(let start)? = try server.decode(.text(out)) else {
            Issue.record("start not read: \(String(buffer: out))")
            return
        }
        #expect(start.callID == Self.callControlID)
        #expect(start.sequenceNumber == 1)
        out.clear()
        [UInt8](repeating: 0x7F, count: 160).withUnsafeBytes { carrier.writeMedia($0, timestampMs: 20, into: &out) }
        guard case .media(let media)? = try server.decode(.text(out)) else {
            Issue.record("media not read")
            return
        }
        #expect(media.sequenceNumber == 2 && media.chunk == 1 && media.payload.readableBytes == 160)
        out.clear()
        carrier.writeDTMF(digit: "5", occurredAt: "2026-12-04T18:00:00.000000Z", into: &out)
        #expect(try server.decode(.text(out)) == .dtmf(DTMFPress(sequenceNumber: 3, track: "inbound", digit: "5")))
        out.clear()
        carrier.writeStop(into: &out)
        #expect(try server.decode(.text(out)) == .stop(StreamStop(sequenceNumber: 4, accountID: Self.userID, callID: Self.callControlID)))
    }
}

@Suite struct TelnyxSignatureTests {
    /// RFC 8032 §7.1, test 1: the empty message.
    @Test func theRFC8032VectorVerifiesAndSigns() throws {
        let seed = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
        let publicKey = hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        let signature = hex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
        let key = try #require(Ed25519.PrivateKey(seed: seed))
        #expect(key.publicKey == publicKey)
        #expect(key.sign([]) == signature)
        #expect(Ed25519.verify(signature: signature, message: [], publicKey: publicKey))
        #expect(!Ed25519.verify(signature: signature, message: [0], publicKey: publicKey))
    }

    @Test func aSignedWebhookVerifiesAndAnyChangeIsRefused() throws {
        let key = Ed25519.PrivateKey.random()
        let verifier = try #require(TelnyxSignature(publicKeyBase64: Data(key.publicKey).base64EncodedString()))
        let body = Array("CallSid=v2%3Aabc&From=%2B15550001111".utf8)
        let headers = Dictionary(uniqueKeysWithValues: key.telnyxHeaders(body: body, timestamp: 1_800_000_000))
        let signature = headers[TelnyxSignature.signatureHeader]
        let timestamp = headers[TelnyxSignature.timestampHeader]
        #expect(verifier.check(signature: signature, timestamp: timestamp, body: body, now: 1_800_000_100) == nil)
        #expect(verifier.check(signature: signature, timestamp: timestamp, body: body + [0x20], now: 1_800_000_000) == .invalidSignature)
        #expect(verifier.check(signature: signature, timestamp: "1800000001", body: body, now: 1_800_000_000) == .invalidSignature)
        #expect(verifier.check(signature: signature, timestamp: timestamp, body: body, now: 1_800_000_301) == .staleTimestamp(skewSeconds: 301))
        #expect(verifier.check(signature: nil, timestamp: timestamp, body: body, now: 1_800_000_000) == .missingHeaders)
        #expect(verifier.check(signature: "AAAA", timestamp: timestamp, body: body, now: 1_800_000_000) == .malformedSignature)
        #expect(TelnyxSignature(publicKeyBase64: "not a key") == nil)
    }

    /// Fuzz-found: `now - seconds` trapped for a timestamp near Int64's ends, so one forged
    /// header could bring the server down.
    @Test func aTimestampAtInt64sEndsIsStaleNotATrap() throws {
        let verifier = try #require(TelnyxSignature(publicKeyBase64: Data(Ed25519.PrivateKey.random().publicKey).base64EncodedString()))
        #expect(verifier.check(signature: "AAAA", timestamp: "-9223372036854775808", body: [], now: 1_800_000_000) == .staleTimestamp(skewSeconds: .max))
        #expect(verifier.check(signature: "AAAA", timestamp: "9223372036854775807", body: [], now: -1_800_000_000) == .staleTimestamp(skewSeconds: .min))
        #expect(verifier.check(signature: "AAAA", timestamp: "-9223372036854775808", body: [], now: 0) == .staleTimestamp(skewSeconds: .max))
    }

    private func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }
}
