import NIOCore
import Testing
import VoiceBridgeCarriers

@Suite struct TwilioCarrierDecoderTests {
    func decode(_ json: String) throws(CarrierProtocolError) -> PlayoutCommand {
        var decoder = TwilioCarrierDecoder(streamSid: sampleStreamSid)
        return try decoder.decode(buffer(json))
    }

    @Test func acceptsTheDocumentedMessages() throws {
        // shared/docs/twilio-media-streams.md §2.
        #expect(try decode(#"{"event":"media","streamSid":"MZ0123456789abcdef0123456789abcdef","media":{"payload":"AAEC+/+/"}}"#) == .media(buffer([0, 1, 2, 0xFB, 0xFF, 0xBF])))
        #expect(try decode(#"{"event":"mark","streamSid":"MZ0123456789abcdef0123456789abcdef","mark":{"name":"turn-7:seg-3"}}"#) == .mark(name: "turn-7:seg-3"))
        #expect(try decode(#"{"event":"clear","streamSid":"MZ0123456789abcdef0123456789abcdef"}"#) == .clear)
    }

    @Test func fieldOrderAndWhitespaceAreJustJSON() throws {
        #expect(try decode(" { \"media\" : { \"payload\" : \"AAAA\" } , \"streamSid\":\"\(sampleStreamSid)\", \"event\":\"media\" } ") == .media(buffer([0, 0, 0])))
        #expect(try decode(#"{"mark":{"name":"a\/b\u00e9"},"event":"mark","streamSid":"\#(sampleStreamSid)"}"#) == .mark(name: "a/bé"))
    }

    @Test func rejectsExtraFields() {
        let sid = sampleStreamSid
        let cases: [(String, String)] = [
            (#"{"event":"media","sequenceNumber":"1","streamSid":"\#(sid)","media":{"payload":"AAAA"}}"#, "sequenceNumber"),
            (#"{"event":"media","streamSid":"\#(sid)","media":{"payload":"AAAA","track":"outbound"}}"#, "media.track"),
            (#"{"event":"media","streamSid":"\#(sid)","media":{"payload":"AAAA"},"mark":{"name":"x"}}"#, "mark"),
            (#"{"event":"mark","streamSid":"\#(sid)","mark":{"name":"x","at":1}}"#, "mark.at"),
            (#"{"event":"mark","streamSid":"\#(sid)","mark":{"name":"x"},"media":{"payload":"AAAA"}}"#, "media"),
            (#"{"event":"clear","streamSid":"\#(sid)","mark":{"name":"x"}}"#, "mark"),
            (#"{"event":"clear","streamSid":"\#(sid)","media":{}}"#, "media"),
            (#"{"event":"clear","streamSid":"\#(sid)","callSid":"CA1"}"#, "callSid"),
        ]
        for (json, field) in cases {
            #expect(throws: CarrierProtocolError.unexpectedField(field), "\(json)") { try decode(json) }
        }
    }

    @Test func rejectsMissingFields() {
        let sid = sampleStreamSid
        #expect(throws: CarrierProtocolError.missingField("mark")) { try decode(#"{"event":"mark","streamSid":"\#(sid)"}"#) }
        #expect(throws: CarrierProtocolError.missingField("mark.name")) { try decode(#"{"event":"mark","streamSid":"\#(sid)","mark":{}}"#) }
        #expect(throws: CarrierProtocolError.missingField("media")) { try decode(#"{"event":"media","streamSid":"\#(sid)"}"#) }
        #expect(throws: CarrierProtocolError.missingField("media.payload")) { try decode(#"{"event":"media","streamSid":"\#(sid)","media":{}}"#) }
        #expect(throws: CarrierProtocolError.missingField("streamSid")) { try decode(#"{"event":"clear"}"#) }
        #expect(throws: CarrierProtocolError.missingField("event")) { try decode(#"{"streamSid":"\#(sid)"}"#) }
    }

    @Test func rejectsWrongTypes() {
        let sid = sampleStreamSid
        #expect(throws: CarrierProtocolError.wrongType(field: "media.payload", expected: "string")) {
            try decode(#"{"event":"media","streamSid":"\#(sid)","media":{"payload":123}}"#)
        }
        #expect(throws: CarrierProtocolError.wrongType(field: "mark.name", expected: "string")) {
            try decode(#"{"event":"mark","streamSid":"\#(sid)","mark":{"name":7}}"#)
        }
        #expect(throws: CarrierProtocolError.wrongType(field: "media", expected: "object")) {
            try decode(#"{"event":"media","streamSid":"\#(sid)","media":"AAAA"}"#)
        }
        #expect(throws: CarrierProtocolError.wrongType(field: "streamSid", expected: "string")) {
            try decode(#"{"event":"clear","streamSid":null}"#)
        }
        #expect(throws: CarrierProtocolError.wrongType(field: "event", expected: "string")) {
            try decode(#"{"event":["clear"],"streamSid":"\#(sid)"}"#)
        }
    }

    @Test func rejectsUnknownEventsWrongStreamSidAndBadPayloads() {
        let sid = sampleStreamSid
        #expect(throws: CarrierProtocolError.unknownEvent("start")) { try decode(#"{"event":"start","streamSid":"\#(sid)"}"#) }
        #expect(throws: CarrierProtocolError.unknownEvent("CLEAR")) { try decode(#"{"event":"CLEAR","streamSid":"\#(sid)"}"#) }
        #expect(throws: CarrierProtocolError.wrongStreamSid(expected: sid, got: "MZstale")) {
            try decode(#"{"event":"clear","streamSid":"MZstale"}"#)
        }
        #expect(throws: CarrierProtocolError.invalidBase64) {
            try decode(#"{"event":"media","streamSid":"\#(sid)","media":{"payload":"AA=A"}}"#)
        }
        #expect(throws: CarrierProtocolError.invalidValue(field: "media.payload", reason: "empty payload")) {
            try decode(#"{"event":"media","streamSid":"\#(sid)","media":{"payload":""}}"#)
        }
        #expect(throws: CarrierProtocolError.duplicateField("streamSid")) {
            try decode(#"{"event":"clear","streamSid":"\#(sid)","streamSid":"\#(sid)"}"#)
        }
        #expect(throws: CarrierProtocolError.duplicateField("mark.name")) {
            try decode(#"{"event":"mark","streamSid":"\#(sid)","mark":{"name":"a","name":"b"}}"#)
        }
        do {
            _ = try decode(#"{"event":"clear","streamSid":"\#(sid)""#)
            Issue.record("accepted truncated JSON")
        } catch {
            guard case .malformedJSON = error else {
                Issue.record("unexpected \(error)")
                return
            }
        }
        var small = TwilioCarrierDecoder(streamSid: sid, maxMessageBytes: 10)
        let clear = #"{"event":"clear","streamSid":"\#(sid)"}"#
        #expect(throws: CarrierProtocolError.messageTooLarge(size: clear.utf8.count, limit: 10)) {
            try small.decode(buffer(clear))
        }
    }

    @Test func decodingManyMessagesReusesOnePayloadBuffer() throws {
        let encoder = TwilioMediaStreamEncoder(streamSid: sampleStreamSid)
        var message = ByteBuffer()
        encoder.writeMedia(buffer([UInt8](repeating: 0x55, count: 160)), into: &message)
        var decoder = TwilioCarrierDecoder(streamSid: sampleStreamSid)
        func address(_ command: PlayoutCommand) -> UInt? {
            guard case .media(let payload) = command else { return nil }
            return payload.withUnsafeReadableBytes { $0.baseAddress.map { UInt(bitPattern: $0) } }
        }
        let first = try address(decoder.decode(message))
        #expect(first != nil)
        for index in 0..<10_000 {
            guard try address(decoder.decode(message)) == first else {
                Issue.record("payload storage moved at iteration \(index)")
                return
            }
        }
    }
}
