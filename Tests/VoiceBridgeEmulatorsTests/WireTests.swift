import Foundation
import NIOCore
import Testing
@testable import VoiceBridgeEmulators

let sid = "MZ0123456789abcdef0123456789abcdef"

func validate(_ json: String, streamSid: String = sid) throws(ServerMessageViolation) -> ServerMessageValidator.Message {
    var validator = ServerMessageValidator(streamSid: streamSid)
    let result = Array(json.utf8).withUnsafeBytes { bytes in
        Result { () throws(ServerMessageViolation) in try validator.validate(bytes) }
    }
    return try result.get()
}

func jsonObject(_ buffer: ByteBuffer) throws -> [String: Any] {
    try #require(JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
}

@Suite struct ServerMessageValidatorTests {
    @Test func acceptsTheThreeMessagesInAnyKeyOrder() throws {
        let payload = Base64.encode([UInt8](repeating: 0xFF, count: 160))
        var validator = ServerMessageValidator(streamSid: sid)
        let media = #"{ "media" : {"payload":"\#(payload)"}, "streamSid":"\#(sid)","event":"media" }"#
        let result = try Array(media.utf8).withUnsafeBytes { b throws(ServerMessageViolation) in try validator.validate(b) }
        #expect(result == .media)
        #expect(validator.payload == [UInt8](repeating: 0xFF, count: 160))
        #expect(try validate(#"{"event":"mark","streamSid":"\#(sid)","mark":{"name":"turn-7:seg-3"}}"#) == .mark(name: "turn-7:seg-3"))
        #expect(try validate(#"{"event":"clear","streamSid":"\#(sid)"}"#) == .clear)
        #expect(try validate("{\"streamSid\":\"\(sid)\",\n\t\"event\":\"clear\"}\r\n") == .clear)
    }

    @Test func decodesEscapes() throws {
        #expect(try validate(#"{"event":"mark","streamSid":"\#(sid)","mark":{"name":"a\"b\u00e9\ud83d\ude00"}}"#) == .mark(name: "a\"bé😀"))
        // An escaped slash inside base64 is still valid JSON.
        var validator = ServerMessageValidator(streamSid: sid)
        let media = #"{"event":"media","streamSid":"\#(sid)","media":{"payload":"\/\/\/\/"}}"#
        _ = try Array(media.utf8).withUnsafeBytes { b throws(ServerMessageViolation) in try validator.validate(b) }
        #expect(validator.payload == [0xFF, 0xFF, 0xFF])
    }

    @Test(arguments: [
        (#"{"event":"media","streamSid":"\#(sid)","media":{"payload":"/w==","track":"outbound"}}"#, ServerMessageViolation.extraField("media.track")),
        (#"{"event":"media","streamSid":"\#(sid)","sequenceNumber":"3","media":{"payload":"/w=="}}"#, .extraField("sequenceNumber")),
        (#"{"event":"mark","streamSid":"\#(sid)"}"#, .missingField("mark")),
        (#"{"event":"mark","streamSid":"\#(sid)","mark":{}}"#, .missingField("mark.name")),
        (#"{"event":"mark","streamSid":"\#(sid)","mark":{"name":7}}"#, .wrongType("mark.name")),
        (#"{"event":"mark","streamSid":"\#(sid)","mark":"x"}"#, .wrongType("mark")),
        (#"{"event":"clear","streamSid":"MZffffffffffffffffffffffffffffffff"}"#, .wrongStreamSid),
        (#"{"event":"clear"}"#, .missingField("streamSid")),
        (#"{"streamSid":"\#(sid)"}"#, .missingField("event")),
        (#"{"event":"stop","streamSid":"\#(sid)"}"#, .unknownEvent("stop")),
        (#"{"event":"clear","streamSid":"\#(sid)","mark":{"name":"x"}}"#, .extraField("mark")),
        (#"{"event":"media","streamSid":"\#(sid)","media":{"payload":"abc"}}"#, .invalid("media.payload is not valid base64")),
        (#"{"event":"clear","event":"clear","streamSid":"\#(sid)"}"#, .duplicateField("event")),
        (#"{"event":"clear","streamSid":"\#(sid)"} x"#, .invalid("trailing data after the object")),
        (#"["event"]"#, .invalid("expected an object")),
        (#"{"event":"clear","streamSid":"\#(sid)""#, .invalid("unterminated object")),
    ])
    func rejectsProtocolViolations(_ json: String, _ expected: ServerMessageViolation) {
        #expect(throws: expected) { try validate(json) }
    }
}

@Suite struct CarrierWireTests {
    let wire = CarrierWire(
        streamSid: sid, accountSid: "AC0123456789abcdef0123456789abcdef", callSid: "CA0123456789abcdef0123456789abcdef")

    @Test func mediaMatchesTwilioShape() throws {
        let track = CallerTrack(ulaw: [UInt8](repeating: 0x55, count: 200))
        var buffer = ByteBuffer()
        track.withFrameBase64(1) { wire.writeMedia(sequenceNumber: 9, chunk: 2, timestampMs: 40, payloadBase64: $0, into: &buffer) }
        let json = try jsonObject(buffer)
        #expect(json["event"] as? String == "media")
        #expect(json["sequenceNumber"] as? String == "9")
        #expect(json["streamSid"] as? String == sid)
        let media = try #require(json["media"] as? [String: String])
        #expect(media["track"] == "inbound" && media["chunk"] == "2" && media["timestamp"] == "40")
        let payloadText = try #require(media["payload"])
        let payload = try #require(Data(base64Encoded: payloadText))
        #expect([UInt8](payload) == [UInt8](repeating: 0x55, count: 40) + [UInt8](repeating: 0xFF, count: 120))
        // Past the end of the track: silence.
        buffer.clear()
        track.withFrameBase64(50) { wire.writeMedia(sequenceNumber: 1, chunk: 51, timestampMs: 1020, payloadBase64: $0, into: &buffer) }
        let silent = try #require((try jsonObject(buffer))["media"] as? [String: String])
        #expect(Data(base64Encoded: silent["payload"]!) == Data(repeating: 0xFF, count: 160))
    }

    @Test func startCarriesParametersAndFormat() throws {
        var buffer = ByteBuffer()
        wire.writeStart(customParameters: [("session", "s-42"), ("quote", "a\"b")], into: &buffer)
        let json = try jsonObject(buffer)
        #expect(json["sequenceNumber"] as? String == "1")
        let start = try #require(json["start"] as? [String: Any])
        #expect(start["streamSid"] as? String == sid)
        #expect(start["tracks"] as? [String] == ["inbound"])
        #expect(start["customParameters"] as? [String: String] == ["session": "s-42", "quote": "a\"b"])
        let format = try #require(start["mediaFormat"] as? [String: Any])
        #expect(format["encoding"] as? String == "audio/x-mulaw")
        #expect(format["sampleRate"] as? Int == 8000)
        #expect(format["channels"] as? Int == 1)
    }

    @Test func markEchoDTMFAndStop() throws {
        var buffer = ByteBuffer()
        wire.writeMarkEcho(sequenceNumber: 311, name: "turn-7:\"seg\"", into: &buffer)
        var json = try jsonObject(buffer)
        #expect(Set(json.keys) == ["event", "sequenceNumber", "streamSid", "mark"])
        #expect((json["mark"] as? [String: String]) == ["name": "turn-7:\"seg\""])
        buffer.clear()
        wire.writeDTMF(sequenceNumber: 57, digit: "#", into: &buffer)
        json = try jsonObject(buffer)
        #expect((json["dtmf"] as? [String: String]) == ["track": "inbound_track", "digit": "#"])
        buffer.clear()
        wire.writeStop(sequenceNumber: 900, into: &buffer)
        json = try jsonObject(buffer)
        #expect((json["stop"] as? [String: String])?["callSid"] == "CA0123456789abcdef0123456789abcdef")
    }
}

@Suite struct WebhookTests {
    @Test func hmacSHA1MatchesRFC2202() {
        let mac = SHA1.hmac(key: [UInt8](repeating: 0x0B, count: 20), message: Array("Hi There".utf8))
        #expect(mac.map { String(format: "%02x", $0) }.joined() == "b617318655057264e28bc0b6fb378c8ef146be00")
        let long = SHA1.hmac(key: [UInt8](repeating: 0xAA, count: 80), message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))
        #expect(long.map { String(format: "%02x", $0) }.joined() == "aa4ae5e15272d00e95705637ce8a3b55ed402112")
    }

    @Test func signatureMatchesAnIndependentImplementation() {
        // Expected value from Python's hmac/hashlib over url + sorted name+value pairs (§4.1).
        let signature = TwilioRequestSignature.compute(
            authToken: "12345", url: "https://mycompany.com/myapp.php?foo=1&bar=2",
            parameters: [
                ("To", "+18005551212"), ("From", "+14158675310"), ("Caller", "+14158675310"),
                ("Digits", "1234"), ("CallSid", "CA1234567890ABCDE"),
            ])
        #expect(signature == "GvWf1cFY/Q7PnoempGyD5oXAezc=")
    }

    @Test func webhookFormIsTwilioLike() {
        let request = VoiceWebhookRequest(
            url: "http://127.0.0.1:8080/voice", callSid: "CA1", accountSid: "AC1", from: "+1 555", to: "+1555",
            authToken: "tok")
        #expect(request.body.contains("From=%2B1+555"))
        #expect(request.body.contains("CallStatus=ringing"))
        #expect(request.body.contains("Direction=inbound"))
        #expect(request.body.contains("ApiVersion=2010-04-01"))
        #expect(request.signature == TwilioRequestSignature.compute(authToken: "tok", url: request.url, parameters: request.parameters))
    }

    @Test func sidsHaveTwilioShape() {
        let callSid = TwilioSid.make("CA")
        #expect(callSid.count == 34 && callSid.hasPrefix("CA"))
        #expect(callSid.dropFirst(2).allSatisfy { $0.isHexDigit && !$0.isUppercase })
        #expect(TwilioSid.make("CA") != callSid)
    }

    @Test func twimlStreamAndParameters() throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <Response>
              <Say>Hi</Say>
              <!-- <Connect><Stream url="wss://wrong"/></Connect> -->
              <Connect>
                <Stream url="wss://media.example.com/twilio/stream/abc?token=x&amp;y=1" statusCallback="https://x">
                  <Parameter name="session" value="s-42"/>
                  <Parameter name='token' value='a&lt;b'/>
                </Stream>
              </Connect>
            </Response>
            """
        let instruction = try StreamInstruction.parse(twiml: xml)
        #expect(instruction.url == "wss://media.example.com/twilio/stream/abc?token=x&y=1")
        #expect(instruction.parameters == [.init(name: "session", value: "s-42"), .init(name: "token", value: "a<b")])
        #expect(throws: SimulatorError.self) { try StreamInstruction.parse(twiml: "<Response><Say>x</Say></Response>") }
    }

    @Test func streamURLDropsQueryAndMapsLoopbackWSS() throws {
        let e = try Endpoint.stream(from: "wss://127.0.0.1:9000/stream/t1?token=abc")
        #expect(e.scheme == "ws" && e.host == "127.0.0.1" && e.port == 9000 && e.target == "/stream/t1")
        #expect(try Endpoint.stream(from: "wss://localhost/s").port == 443)
        #expect(try Endpoint.stream(from: "wss://[::1]:8443/s").host == "::1")
        #expect(try Endpoint.stream(from: "ws://example.com/s").hostHeader == "example.com")
        #expect(throws: SimulatorError.self) { try Endpoint.stream(from: "wss://example.com/s") }
        #expect(throws: SimulatorError.self) { try Endpoint.stream(from: "https://127.0.0.1/s") }
        #expect(throws: SimulatorError.self) { try Endpoint(parsing: "127.0.0.1:80/x") }
    }
}
