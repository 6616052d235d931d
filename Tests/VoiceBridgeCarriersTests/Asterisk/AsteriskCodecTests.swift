import NIOCore
import Testing
import VoiceBridgeCarriers

/// chan_websocket's shapes, from carriers.md §6A, both ways and in both control formats.
@Suite struct AsteriskCodecTests {
    static let channel = "pbx1-1760000000.42"
    static let connection = "e226e283-c90a-4ea9-9e37-389000b9ef47"

    func text(_ write: (inout ByteBuffer) -> Void) -> String {
        var buffer = ByteBuffer()
        write(&buffer)
        return String(buffer: buffer)
    }

    func decode(_ text: String, into decoder: inout AsteriskMediaStreamDecoder) throws(CarrierProtocolError) -> CarrierEvent? {
        try decoder.decode(.text(ByteBuffer(string: text)))
    }

    @Test func theJSONMediaStartBecomesANeutralStart() throws {
        var decoder = AsteriskMediaStreamDecoder()
        let json = #"{"event":"MEDIA_START","connection_id":"\#(Self.connection)","channel":"WebSocket/voicebridge-0000002a","channel_id":"\#(Self.channel)","format":"ulaw","optimal_frame_size":160,"ptime":20,"channel_variables":{"VB_SESSION":"s-42"}}"#
        guard case .start(let start)? = try decode(json, into: &decoder) else {
            Issue.record("no start")
            return
        }
        #expect(start.identity == CallIdentity(callID: Self.channel, streamID: Self.connection, accountID: ""))
        #expect(start.mediaFormat == .mulaw8kMono)
        #expect(start.customParameters == ["VB_SESSION": "s-42", "AsteriskChannel": "WebSocket/voicebridge-0000002a"])
        #expect(decoder.controlFormat == .json)
        #expect(AsteriskDialect.format(named: "slin16") == MediaFormat(encoding: .l16(.littleEndian), sampleRate: 16000))
    }

    @Test func thePlainTextMediaStartAndEventsDecodeToo() throws {
        var decoder = AsteriskMediaStreamDecoder()
        let start = "MEDIA_START connection_id:\(Self.connection) channel:WebSocket/voicebridge-0000002a channel_id:\(Self.channel) format:ulaw optimal_frame_size:160 ptime:20"
        guard case .start(let parsed)? = try decode(start, into: &decoder) else {
            Issue.record("no start")
            return
        }
        #expect(parsed.callID == Self.channel)
        #expect(decoder.controlFormat == .plainText)
        #expect(try decode("DTMF_END digit:5 channel_id:\(Self.channel)", into: &decoder) == .dtmf(DTMFPress(sequenceNumber: 0, track: "inbound", digit: "5")))
        #expect(try decode("MEDIA_MARK_PROCESSED correlation_id:1.1", into: &decoder) == .mark(MarkEcho(sequenceNumber: 0, name: "1.1")))
        #expect(try decode("QUEUE_DRAINED", into: &decoder) == nil)
        // The connection's format is fixed by its first event.
        #expect(throws: CarrierProtocolError.self) { try decode(#"{"event":"DTMF_END","digit":"1"}"#, into: &decoder) }
    }

    @Test func binaryFramesAreTheCallersAudioAsTheyCame() throws {
        var decoder = AsteriskMediaStreamDecoder()
        let frame = [UInt8](repeating: 0x55, count: 160)
        guard case .media(let media)? = try decoder.decode(.binary(ByteBuffer(bytes: frame))) else {
            Issue.record("no media")
            return
        }
        #expect(Array(media.payload.readableBytesView) == frame)
        #expect(media.chunk == 1 && media.timestampMs == 20)
    }

    @Test func whatTheBridgeCannotPlayOrDoesNotKnowIsRefused() {
        var decoder = AsteriskMediaStreamDecoder()
        #expect(throws: CarrierProtocolError.unsupportedFormat("MEDIA_START format \"opus\"")) {
            try decode(#"{"event":"MEDIA_START","connection_id":"c","channel_id":"x","format":"opus"}"#, into: &decoder)
        }
        var other = AsteriskMediaStreamDecoder()
        #expect(throws: CarrierProtocolError.self) {
            try decode(#"{"event":"MEDIA_START","connection_id":"c","channel_id":"x","format":"ulaw","ptime":30}"#, into: &other)
        }
        var started = AsteriskMediaStreamDecoder()
        _ = try? decode(#"{"event":"MEDIA_START","connection_id":"c","channel_id":"x","format":"ulaw","ptime":20}"#, into: &started)
        #expect(throws: CarrierProtocolError.wrongStreamSid(expected: "x", got: "y")) {
            try decode(#"{"event":"DTMF_END","channel_id":"y","digit":"1"}"#, into: &started)
        }
        #expect(throws: CarrierProtocolError.wrongType(field: "digit", expected: "string")) {
            try decode(#"{"event":"DTMF_END","channel_id":"x","digit":1}"#, into: &started)
        }
        guard case .notice(let notice)? = try? decode(#"{"event":"MEDIA_XOFF","channel_id":"x"}"#, into: &started) else {
            Issue.record("MEDIA_XOFF is not a notice")
            return
        }
        #expect(notice.kind == "media_xoff")
    }

    @Test(arguments: [AsteriskDialect.ControlFormat.json, .plainText])
    func theBridgeWritesCommandsInItsPeersFormatAndThePeerReadsThem(_ format: AsteriskDialect.ControlFormat) throws {
        let encoder = AsteriskMediaStreamEncoder(controlFormat: format)
        #expect(encoder.mediaFrameKind == .binary)
        let mark = text { encoder.writeMark(name: "1.2", into: &$0) }
        let flush = text { encoder.writeClear(into: &$0) }
        switch format {
        case .json:
            #expect(mark == #"{"command":"MARK_MEDIA","correlation_id":"1.2"}"#)
            #expect(flush == #"{"command":"FLUSH_MEDIA"}"#)
        case .plainText:
            #expect(mark == "MARK_MEDIA 1.2")
            #expect(flush == "FLUSH_MEDIA")
        }
        var peer = AsteriskCarrierPeer(identity: CallIdentity(callID: Self.channel, streamID: Self.connection, accountID: ""), controlFormat: format)
        #expect(try peer.decode(.text(ByteBuffer(string: mark))) == .mark(name: "1.2"))
        #expect(try peer.decode(.text(ByteBuffer(string: flush))) == .clear)
        #expect(try peer.decode(.binary(ByteBuffer(bytes: [1, 2, 3]))) == .media(ByteBuffer(bytes: [1, 2, 3])))
        // Asterisk ignores text over 128 bytes; a command it does not get is refused.
        #expect(throws: CarrierProtocolError.self) { try peer.decode(.text(ByteBuffer(string: String(repeating: "A", count: 129)))) }
        #expect(throws: CarrierProtocolError.self) { try peer.decode(.text(ByteBuffer(string: format == .json ? #"{"command":"HANGUP"}"# : "HANGUP"))) }
        // And the peer's own start reads back on the bridge's side in the same format.
        var decoder = AsteriskMediaStreamDecoder()
        let start = text { peer.writeStart(from: "", to: "", customParameters: [], into: &$0) }
        guard case .start? = try decoder.decode(.text(ByteBuffer(string: start))) else {
            Issue.record("the peer's start does not decode: \(start)")
            return
        }
        #expect(decoder.controlFormat == format)
    }

    @Test func basicCredentialsCompareExactly() {
        let credentials = BasicCredentials(username: "vb", password: "secret")
        #expect(credentials.headerValue == "Basic dmI6c2VjcmV0")
        #expect(credentials.accepts("Basic dmI6c2VjcmV0"))
        #expect(credentials.accepts("basic dmI6c2VjcmV0"))
        #expect(!credentials.accepts("Basic dmI6c2VjcmV1"))
        #expect(!credentials.accepts(nil))
        #expect(!credentials.accepts("Bearer dmI6c2VjcmV0"))
    }
}
