import NIOCore
import Testing
import VoiceBridgeCarriers

/// Exotel's Voicebot shapes, from carriers.md §5: snake_case, counters as numbers or strings.
@Suite struct ExotelCodecTests {
    static let stream = "b6d1c2f0a9e84d3c"

    func text(_ write: (inout ByteBuffer) -> Void) -> String {
        var buffer = ByteBuffer()
        write(&buffer)
        return String(buffer: buffer)
    }

    func decode(_ text: String, into decoder: inout ExotelMediaStreamDecoder) throws(CarrierProtocolError) -> CarrierEvent? {
        try decoder.decode(.text(ByteBuffer(string: text)))
    }

    static let start = #"{"event":"start","sequence_number":"1","stream_sid":"b6d1c2f0a9e84d3c","start":{"stream_sid":"b6d1c2f0a9e84d3c","call_sid":"c1a2b3c4d5e6f7a8","account_sid":"exampleacct1","from":"+919876543210","to":"+918047491899","custom_parameters":{"session":"s42"},"media_format":{"encoding":"audio/x-raw","sample_rate":"8000","bit_rate":"16"}}}"#

    @Test func theStartInEitherSpellingBecomesANeutralStart() throws {
        var decoder = ExotelMediaStreamDecoder()
        #expect(try decode(#"{"event":"connected"}"#, into: &decoder) == .connected(protocolName: "", version: ""))
        guard case .start(let start)? = try decode(Self.start, into: &decoder) else {
            Issue.record("no start")
            return
        }
        #expect(start.identity == CallIdentity(callID: "c1a2b3c4d5e6f7a8", streamID: Self.stream, accountID: "exampleacct1"))
        #expect(start.mediaFormat == .l16LittleEndian(8000))
        #expect(start.customParameters == ["session": "s42", "From": "+919876543210", "To": "+918047491899"])
        // E1's older spelling: numbers and "raw".
        var older = ExotelMediaStreamDecoder()
        let numeric = #"{"event":"start","sequence_number":1,"start":{"stream_sid":"s","call_sid":"c","account_sid":"a","media_format":{"encoding":"raw","sample_rate":16000,"bit_rate":"128"}}}"#
        guard case .start(let wide)? = try decode(numeric, into: &older) else {
            Issue.record("no start")
            return
        }
        #expect(wide.mediaFormat == .l16LittleEndian(16000))
    }

    @Test func mediaKeysMarksAndStopDecode() throws {
        var decoder = ExotelMediaStreamDecoder()
        _ = try decode(Self.start, into: &decoder)
        let payload = Base64Fast.encode([UInt8](repeating: 3, count: 1600))
        guard case .media(let media)? = try decode(#"{"event":"media","sequence_number":"3","stream_sid":"\#(Self.stream)","media":{"chunk":"2","timestamp":"200","payload":"\#(payload)"}}"#, into: &decoder) else {
            Issue.record("no media")
            return
        }
        #expect(media.sequenceNumber == 3 && media.chunk == 2 && media.timestampMs == 200 && media.track == .inbound)
        #expect(media.payload.readableBytes == 1600)
        let numeric = #"{"event":"media","sequence_number":4,"stream_sid":"\#(Self.stream)","media":{"chunk":3,"timestamp":300,"payload":"\#(payload)"}}"#
        guard case .media(let second)? = try decode(numeric, into: &decoder) else {
            Issue.record("numeric counters refused")
            return
        }
        #expect(second.timestampMs == 300)
        #expect(try decode(#"{"event":"dtmf","sequence_number":"7","stream_sid":"\#(Self.stream)","dtmf":{"digit":"5","duration":"100"}}"#, into: &decoder)
            == .dtmf(DTMFPress(sequenceNumber: 7, track: "inbound", digit: "5")))
        #expect(try decode(#"{"event":"mark","sequence_number":"15","stream_sid":"\#(Self.stream)","mark":{"name":"3.1"}}"#, into: &decoder)
            == .mark(MarkEcho(sequenceNumber: 15, name: "3.1")))
        #expect(try decode(#"{"event":"stop","sequence_number":"20","stream_sid":"\#(Self.stream)","stop":{"call_sid":"c1a2b3c4d5e6f7a8","account_sid":"exampleacct1","reason":"callended"}}"#, into: &decoder)
            == .stop(StreamStop(sequenceNumber: 20, accountID: "exampleacct1", callID: "c1a2b3c4d5e6f7a8")))
        #expect(throws: CarrierProtocolError.wrongStreamSid(expected: Self.stream, got: "other")) {
            try decode(#"{"event":"mark","sequence_number":"16","stream_sid":"other","mark":{"name":"x"}}"#, into: &decoder)
        }
        #expect(throws: CarrierProtocolError.self) {
            try decode(#"{"event":"media","sequence_number":"-1","stream_sid":"\#(Self.stream)","media":{"chunk":"2","timestamp":"200","payload":""}}"#, into: &decoder)
        }
    }

    @Test func whatTheBridgeSendsIsExactlyAsDocumented() {
        let encoder = ExotelMediaStreamEncoder(streamSid: Self.stream)
        #expect(text { encoder.writeMark(name: "2.1", into: &$0) } == #"{"event":"mark","stream_sid":"\#(Self.stream)","mark":{"name":"2.1"}}"#)
        #expect(text { encoder.writeClear(into: &$0) } == #"{"event":"clear","stream_sid":"\#(Self.stream)"}"#)
        let media = text { buffer in [UInt8](repeating: 0, count: 3) .withUnsafeBytes { encoder.writeMedia($0, into: &buffer) } }
        #expect(media == #"{"event":"media","stream_sid":"\#(Self.stream)","media":{"payload":"AAAA"}}"#)
        #expect(ExotelDialect.rules.minimumMediaBytes == 3200)
    }

    @Test func thePeerHoldsTheServerToTheChunkRules() throws {
        var peer = ExotelCarrierPeer(identity: CallIdentity(callID: "c", streamID: Self.stream, accountID: "a"))
        let ok = Base64Fast.encode([UInt8](repeating: 0, count: 3200))
        guard case .media(let payload) = try peer.decode(ByteBuffer(string: #"{"event":"media","stream_sid":"\#(Self.stream)","media":{"payload":"\#(ok)"}}"#)) else {
            Issue.record("no media")
            return
        }
        #expect(payload.readableBytes == 3200)
        let small = Base64Fast.encode([UInt8](repeating: 0, count: 640))
        #expect(throws: CarrierProtocolError.self) {
            try peer.decode(ByteBuffer(string: #"{"event":"media","stream_sid":"\#(Self.stream)","media":{"payload":"\#(small)"}}"#))
        }
        #expect(throws: CarrierProtocolError.unexpectedField("streamSid")) {
            try peer.decode(ByteBuffer(string: #"{"event":"clear","stream_sid":"\#(Self.stream)","streamSid":"x"}"#))
        }
        #expect(try peer.decode(ByteBuffer(string: #"{"event":"clear","stream_sid":"\#(Self.stream)"}"#)) == .clear)
    }
}
