import NIOCore
import Testing
import VoiceBridgeCarriers

@Suite struct TwilioMediaStreamEncoderTests {
    let encoder = TwilioMediaStreamEncoder(streamSid: sampleStreamSid)

    @Test func mediaIsExactlyTheDocumentedShape() {
        var output = ByteBuffer()
        let payload: [UInt8] = [0, 1, 2, 0xFB, 0xFF, 0xBF, 0x7F]
        payload.withUnsafeBytes { encoder.writeMedia($0, into: &output) }
        #expect(text(output) == #"{"event":"media","streamSid":"MZ0123456789abcdef0123456789abcdef","media":{"payload":"AAEC+/+/fw=="}}"#)

        var fromBuffer = ByteBuffer()
        encoder.writeMedia(buffer(payload), into: &fromBuffer)
        #expect(fromBuffer == output)
    }

    @Test func aFullFrameOfSilence() {
        var output = ByteBuffer()
        encoder.writeMedia(buffer([UInt8](repeating: 0xFF, count: 160)), into: &output)
        #expect(text(output) == #"{"event":"media","streamSid":"\#(sampleStreamSid)","media":{"payload":"\#(silencePayloadBase64)"}}"#)
    }

    @Test func markIsExactlyTheDocumentedShape() {
        var output = ByteBuffer()
        encoder.writeMark(name: "turn-7:seg-3", into: &output)
        #expect(text(output) == #"{"event":"mark","streamSid":"MZ0123456789abcdef0123456789abcdef","mark":{"name":"turn-7:seg-3"}}"#)
    }

    @Test func markNamesAreJSONEscaped() {
        var output = ByteBuffer()
        encoder.writeMark(name: "a\"b\\c/d\ne\u{01}f\tg\u{1F}é✓", into: &output)
        #expect(text(output) == #"{"event":"mark","streamSid":"\#(sampleStreamSid)","mark":{"name":"a\"b\\c/d\ne\u0001f\tg\u001fé✓"}}"#)
    }

    @Test func clearIsExactlyTheDocumentedShape() {
        var output = ByteBuffer()
        encoder.writeClear(into: &output)
        #expect(text(output) == #"{"event":"clear","streamSid":"MZ0123456789abcdef0123456789abcdef"}"#)
    }

    @Test func writesAppendAndCommandsMapToMessages() {
        var output = ByteBuffer(string: ">")
        encoder.write(.clear, into: &output)
        #expect(text(output) == #">{"event":"clear","streamSid":"\#(sampleStreamSid)"}"#)

        var viaCommand = ByteBuffer()
        var direct = ByteBuffer()
        encoder.write(.mark(name: "m"), into: &viaCommand)
        encoder.writeMark(name: "m", into: &direct)
        #expect(viaCommand == direct)

        viaCommand.clear()
        direct.clear()
        encoder.write(.media(buffer([1, 2, 3])), into: &viaCommand)
        encoder.writeMedia(buffer([1, 2, 3]), into: &direct)
        #expect(viaCommand == direct)
    }

    @Test func aStreamSidNeedingEscapesIsEscaped() {
        var output = ByteBuffer()
        TwilioMediaStreamEncoder(streamSid: "MZ\"x").writeClear(into: &output)
        #expect(text(output) == #"{"event":"clear","streamSid":"MZ\"x"}"#)
    }
}

@Suite struct TwilioCarrierEncoderTests {
    @Test func everyMessageIsExactlyTheDocumentedShapeWithOneSequenceCounter() {
        var encoder = TwilioCarrierEncoder(streamSid: sampleStreamSid, accountSid: sampleAccountSid, callSid: sampleCallSid)
        var output = ByteBuffer()
        func take() -> String {
            defer { output.clear() }
            return text(output)
        }

        encoder.writeConnected(into: &output)
        #expect(take() == #"{"event":"connected","protocol":"Call","version":"1.0.0"}"#)

        encoder.writeStart(customParameters: [("session", "s-42"), ("token", "opaque-one-time-token")], into: &output)
        #expect(take() == #"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC0123456789abcdef0123456789abcdef","streamSid":"MZ0123456789abcdef0123456789abcdef","callSid":"CA0123456789abcdef0123456789abcdef","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1},"customParameters":{"session":"s-42","token":"opaque-one-time-token"}},"streamSid":"MZ0123456789abcdef0123456789abcdef"}"#)

        encoder.writeMedia(buffer([UInt8](repeating: 0xFF, count: 160)), timestampMs: 20, into: &output)
        #expect(take() == #"{"event":"media","sequenceNumber":"2","media":{"track":"inbound","chunk":"1","timestamp":"20","payload":"\#(silencePayloadBase64)"},"streamSid":"MZ0123456789abcdef0123456789abcdef"}"#)

        encoder.writeMedia(buffer([0, 1, 2]), timestampMs: 40, into: &output)
        #expect(take() == #"{"event":"media","sequenceNumber":"3","media":{"track":"inbound","chunk":"2","timestamp":"40","payload":"AAEC"},"streamSid":"MZ0123456789abcdef0123456789abcdef"}"#)

        encoder.writeDTMF(digit: "5", into: &output)
        #expect(take() == #"{"event":"dtmf","streamSid":"MZ0123456789abcdef0123456789abcdef","sequenceNumber":"4","dtmf":{"track":"inbound_track","digit":"5"}}"#)

        encoder.writeMark(name: "turn-7:seg-3", into: &output)
        #expect(take() == #"{"event":"mark","sequenceNumber":"5","streamSid":"MZ0123456789abcdef0123456789abcdef","mark":{"name":"turn-7:seg-3"}}"#)

        encoder.writeStop(into: &output)
        #expect(take() == #"{"event":"stop","sequenceNumber":"6","stop":{"accountSid":"AC0123456789abcdef0123456789abcdef","callSid":"CA0123456789abcdef0123456789abcdef"},"streamSid":"MZ0123456789abcdef0123456789abcdef"}"#)
        #expect(encoder.nextSequenceNumber == 7)
    }

    @Test func startWithoutParametersAndCustomTracks() {
        var encoder = TwilioCarrierEncoder(streamSid: "MZ1", accountSid: "AC1", callSid: "CA1")
        var output = ByteBuffer()
        encoder.writeStart(tracks: ["inbound", "outbound"], mediaFormat: MediaFormat(encoding: .l16(.littleEndian), sampleRate: 16000, channels: 2), into: &output)
        #expect(text(output) == #"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC1","streamSid":"MZ1","callSid":"CA1","tracks":["inbound","outbound"],"mediaFormat":{"encoding":"audio/x-l16","sampleRate":16000,"channels":2},"customParameters":{}},"streamSid":"MZ1"}"#)
    }

    @Test func chunksCountPerTrack() {
        var encoder = TwilioCarrierEncoder(streamSid: "MZ1", accountSid: "AC1", callSid: "CA1")
        var output = ByteBuffer()
        encoder.writeMedia(buffer([1]), timestampMs: 0, track: .outbound, into: &output)
        #expect(text(output) == #"{"event":"media","sequenceNumber":"1","media":{"track":"outbound","chunk":"1","timestamp":"0","payload":"AQ=="},"streamSid":"MZ1"}"#)
        output.clear()
        encoder.writeMedia(buffer([1]), timestampMs: 0, track: .inbound, into: &output)
        #expect(text(output).contains(#""chunk":"1""#))
        output.clear()
        encoder.writeMedia(buffer([1]), timestampMs: 1_234_567, track: .outbound, into: &output)
        #expect(text(output).contains(#""sequenceNumber":"3","media":{"track":"outbound","chunk":"2","timestamp":"1234567""#))
    }

    @Test func markEchoAndParametersAreEscaped() {
        var encoder = TwilioCarrierEncoder(streamSid: "MZ1", accountSid: "AC1", callSid: "CA1")
        var output = ByteBuffer()
        encoder.writeMark(name: "q\"\\\n", into: &output)
        #expect(text(output) == #"{"event":"mark","sequenceNumber":"1","streamSid":"MZ1","mark":{"name":"q\"\\\n"}}"#)
        output.clear()
        encoder.writeStart(customParameters: [("k\"", "v\u{0}")], into: &output)
        #expect(text(output).contains(#""customParameters":{"k\"":"v\u0000"}"#))
    }
}
