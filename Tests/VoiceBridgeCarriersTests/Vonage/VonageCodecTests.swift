import Foundation
import NIOCore
import Testing
import VoiceBridgeCarriers

/// Vonage's WebSocket shapes, from carriers.md §4, both ways; its NCCO and its JWT.
@Suite struct VonageCodecTests {
    static let conversation = "CON-4d1e0f2a-8c3b-4f56-9a7e-0b1c2d3e4f50"

    func text(_ write: (inout ByteBuffer) -> Void) -> String {
        var buffer = ByteBuffer()
        write(&buffer)
        return String(buffer: buffer)
    }

    func decode(_ text: String, into decoder: inout VonageMediaStreamDecoder) throws(CarrierProtocolError) -> CarrierEvent? {
        try decoder.decode(.text(ByteBuffer(string: text)))
    }

    @Test func connectedIsTheStartWithItsFlattenedHeaders() throws {
        var decoder = VonageMediaStreamDecoder()
        let json = #"{"event":"websocket:connected","content-type":"audio/l16;rate=16000","conversation_uuid":"\#(Self.conversation)","caller":"447700900123","priority":3}"#
        guard case .start(let start)? = try decode(json, into: &decoder) else {
            Issue.record("no start")
            return
        }
        #expect(start.identity == CallIdentity(callID: Self.conversation, streamID: Self.conversation, accountID: ""))
        #expect(start.mediaFormat == .l16LittleEndian(16000))
        #expect(start.customParameters == ["conversation_uuid": Self.conversation, "caller": "447700900123", "priority": "3"])
        // Exactly one start.
        #expect(throws: CarrierProtocolError.self) { try decode(json, into: &decoder) }
    }

    @Test func audioKeysNotifiesAndClearedDecode() throws {
        var decoder = VonageMediaStreamDecoder()
        _ = try decode(#"{"event":"websocket:connected","content-type":"audio/l16;rate=8000"}"#, into: &decoder)
        guard case .media(let media)? = try decoder.decode(.binary(ByteBuffer(bytes: [UInt8](repeating: 1, count: 320)))) else {
            Issue.record("no media")
            return
        }
        #expect(media.payload.readableBytes == 320)
        #expect(media.timestampMs == 20)
        #expect(try decode(#"{"event":"websocket:dtmf","digit":"5","duration":260}"#, into: &decoder) == .dtmf(DTMFPress(sequenceNumber: 1, track: "inbound", digit: "5")))
        #expect(try decode(##"{"event":"websocket:dtmf","dtmf":{"digit":"#","duration":100}}"##, into: &decoder) == .dtmf(DTMFPress(sequenceNumber: 1, track: "inbound", digit: "#")))
        #expect(try decode(#"{"event":"websocket:notify","payload":{"name":"3.1"}}"#, into: &decoder) == .mark(MarkEcho(sequenceNumber: 1, name: "3.1")))
        #expect(try decode(#"{"event":"websocket:cleared"}"#, into: &decoder) == nil)
        guard case .notice(let notice)? = try decode(#"{"event":"websocket:error","reason":"x"}"#, into: &decoder) else {
            Issue.record("an unknown event should be a notice")
            return
        }
        #expect(notice.kind == "unknown_event")
    }

    @Test func badInputIsRefusedWithAReason() {
        var decoder = VonageMediaStreamDecoder()
        // (24 kHz L16 decodes; the session's gate refuses it as a format the bridge doesn't play.)
        #expect(throws: CarrierProtocolError.unsupportedFormat("content-type \"audio/pcmu;rate=8000\"")) {
            try decode(#"{"event":"websocket:connected","content-type":"audio/pcmu;rate=8000"}"#, into: &decoder)
        }
        #expect(throws: CarrierProtocolError.wrongType(field: "digit", expected: "string")) {
            try decode(#"{"event":"websocket:dtmf","digit":5}"#, into: &decoder)
        }
        #expect(throws: CarrierProtocolError.missingField("payload.name")) {
            try decode(#"{"event":"websocket:notify","payload":{}}"#, into: &decoder)
        }
        #expect(throws: CarrierProtocolError.missingField("event")) { try decode(#"{"digit":"5"}"#, into: &decoder) }
        #expect(throws: CarrierProtocolError.self) { try decode(#"{"event":"websocket:dtmf""#, into: &decoder) }
        var small = VonageMediaStreamDecoder(maxMessageBytes: 1000)
        #expect(throws: CarrierProtocolError.messageTooLarge(size: 2000, limit: 1000)) {
            try small.decode(.binary(ByteBuffer(bytes: [UInt8](repeating: 0, count: 2000))))
        }
    }

    @Test func whatTheBridgeSendsIsExactlyAsDocumented() {
        let encoder = VonageMediaStreamEncoder()
        #expect(encoder.mediaFrameKind == .binary)
        #expect(text { encoder.writeMark(name: "2.1", into: &$0) } == #"{"action":"notify","payload":{"name":"2.1"}}"#)
        #expect(text { encoder.writeClear(into: &$0) } == #"{"action":"clear"}"#)
        var frame = ByteBuffer()
        [UInt8](repeating: 7, count: 640).withUnsafeBytes { encoder.writeMedia($0, into: &frame) }
        #expect(frame.readableBytes == 640)
    }

    @Test func thePeerIsStrictAboutWhatAServerSends() throws {
        var peer = VonageCarrierPeer()
        #expect(try peer.decode(ByteBuffer(string: #"{"action":"clear"}"#)) == .clear)
        #expect(try peer.decode(ByteBuffer(string: #"{"action":"notify","payload":{"name":"1.1"}}"#)) == .mark(name: "1.1"))
        #expect(throws: CarrierProtocolError.unexpectedField("streamSid")) {
            try peer.decode(ByteBuffer(string: #"{"action":"clear","streamSid":"x"}"#))
        }
        #expect(throws: CarrierProtocolError.unknownEvent("clearAudio")) { try peer.decode(ByteBuffer(string: #"{"action":"clearAudio"}"#)) }
        #expect(throws: CarrierProtocolError.missingField("payload")) { try peer.decode(ByteBuffer(string: #"{"action":"notify"}"#)) }
        #expect(text { peer.writeStart(from: "", to: "", customParameters: [("conversation_uuid", "c")], into: &$0) }
            == #"{"event":"websocket:connected","content-type":"audio/l16;rate=16000","conversation_uuid":"c"}"#)
        #expect(text { _ = peer.writeClearAcknowledgement(into: &$0) } == #"{"event":"websocket:cleared"}"#)
    }

    @Test func theNCCOConnectsToTheSocketAndParsesBack() throws {
        let ncco = VonageConnectWebSocket(
            uri: "wss://vb.example.com/vonage/media/T", contentType: "audio/l16;rate=16000",
            eventURL: "https://vb.example.com/vonage/events", headers: [("conversation_uuid", Self.conversation)], signedUpgrade: true)
        #expect(ncco.render() == #"[{"action":"connect","eventType":"synchronous","eventUrl":["https://vb.example.com/vonage/events"],"endpoint":[{"type":"websocket","uri":"wss://vb.example.com/vonage/media/T","content-type":"audio/l16;rate=16000","headers":{"conversation_uuid":"\#(Self.conversation)"},"authorization":{"type":"vonage"}}]}]"#)
        #expect(try VonageConnectWebSocket.parse(ncco.render()) == ncco)
        #expect(VonageConnectWebSocket.transfer(dialing: "+15550009999") == #"[{"action":"connect","endpoint":[{"type":"phone","number":"15550009999"}]}]"#)
        #expect(throws: VonageConnectWebSocket.ParseError.self) {
            try VonageConnectWebSocket.parse(#"[{"action":"talk","text":"hi"}]"#)
        }
    }

    @Test func theJWTIsCheckedWithTheSignatureSecret() {
        let signature = VonageSignature(secret: "secret-one")
        let body = Array(#"{"uuid":"a","conversation_uuid":"b"}"#.utf8)
        let now: Int64 = 1_760_000_000
        let good = signature.token(body: body, issuedAt: now)
        #expect(signature.check(authorization: good, body: body, now: now + 10) == nil)
        // The upgrade: no body, no payload_hash to check.
        #expect(signature.check(authorization: signature.token(body: nil, issuedAt: now), body: nil, now: now) == nil)
        #expect(VonageSignature(secret: "secret-two").check(authorization: good, body: body, now: now) == .badSignature)
        #expect(signature.check(authorization: good, body: Array("{}".utf8), now: now) == .bodyMismatch)
        #expect(signature.check(authorization: good, body: body, now: now + 301) == .expired)
        #expect(signature.check(authorization: nil, body: body, now: now) == .missing)
        #expect(signature.check(authorization: "Bearer abc.def", body: body, now: now) == .malformed("expected three parts"))
        // A token whose header says "none" is refused whatever its signature.
        let parts = good.dropFirst("Bearer ".count).split(separator: ".")
        let none = "Bearer " + Base64Fast.encodeURLSafe(Array(#"{"alg":"none"}"#.utf8)) + "." + parts[1] + "."
        #expect(signature.check(authorization: none, body: body, now: now) == .malformed("alg must be HS256"))
    }
}

@Suite struct VonageSignatureEdgeTests {
    /// `now - iat` trapped for an `iat` near Int64's ends once the signature had verified (a
    /// holder of the secret could crash the server with one request).
    @Test func anIssuedAtAtInt64sEndsIsJudgedNotATrap() {
        let signer = VonageSignature(secret: "s3cret")
        #expect(signer.check(authorization: signer.token(body: nil, issuedAt: .min), body: nil, now: 1_800_000_000) == .expired)
        #expect(signer.check(authorization: signer.token(body: nil, issuedAt: .max), body: nil, now: -2) == nil)
        #expect(signer.check(authorization: signer.token(body: nil, issuedAt: 1_800_000_000), body: nil, now: 1_800_000_010) == nil)
    }
}
