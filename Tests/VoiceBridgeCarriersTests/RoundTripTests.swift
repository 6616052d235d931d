import NIOCore
import Testing
import VoiceBridgeAudio
import VoiceBridgeCarriers

@Suite struct RoundTripTests {
    @Test func carrierEncoderToServerDecoder() throws {
        var random = SplitMix64(seed: 0xCA11)
        var carrier = TwilioCarrierEncoder(streamSid: sampleStreamSid, accountSid: sampleAccountSid, callSid: sampleCallSid)
        var server = TwilioMediaStreamDecoder()
        var wire = ByteBuffer()

        carrier.writeConnected(into: &wire)
        #expect(try server.decode(wire) == .connected(protocolName: "Call", version: "1.0.0"))
        wire.clear()

        let parameters = [(name: "token", value: "t/+= \"ü\""), (name: "session", value: "s-42")]
        carrier.writeStart(customParameters: parameters, into: &wire)
        guard case .start(let start) = try server.decode(wire) else {
            Issue.record("expected start")
            return
        }
        #expect(start.customParameters == ["token": "t/+= \"ü\"", "session": "s-42"])
        #expect(start.sequenceNumber == 1)
        wire.clear()

        var expectedSequence = 2
        for index in 0..<300 {
            let payload = random.bytes(Int.random(in: 0...400, using: &random))
            carrier.writeMedia(buffer(payload), timestampMs: index * 20, into: &wire)
            let event = try server.decode(wire)
            let expected = InboundMedia(sequenceNumber: expectedSequence, track: .inbound, chunk: index + 1, timestampMs: index * 20, payload: buffer(payload))
            #expect(event == .media(expected))
            expectedSequence += 1
            wire.clear()
        }

        carrier.writeDTMF(digit: "#", into: &wire)
        #expect(try server.decode(wire) == .dtmf(DTMFPress(sequenceNumber: expectedSequence, track: "inbound_track", digit: "#")))
        wire.clear()
        carrier.writeMark(name: "1.2 \"quoted\" ✓", into: &wire)
        #expect(try server.decode(wire) == .mark(MarkEcho(sequenceNumber: expectedSequence + 1, name: "1.2 \"quoted\" ✓")))
        wire.clear()
        carrier.writeStop(into: &wire)
        #expect(try server.decode(wire) == .stop(StreamStop(sequenceNumber: expectedSequence + 2, accountID: sampleAccountSid, callID: sampleCallSid)))
    }

    @Test func serverEncoderToStrictCarrierDecoder() throws {
        var random = SplitMix64(seed: 0x5E4)
        let encoder = TwilioMediaStreamEncoder(streamSid: sampleStreamSid)
        var decoder = TwilioCarrierDecoder(streamSid: sampleStreamSid)
        var wire = ByteBuffer()
        let nameScalars = Array("ab:.-_ \"\\/\n\t\u{0}\u{1F}é✓😀")
        for _ in 0..<300 {
            let payload = random.bytes(Int.random(in: 1...2000, using: &random))
            encoder.writeMedia(buffer(payload), into: &wire)
            #expect(try decoder.decode(wire) == .media(buffer(payload)))
            wire.clear()

            let name = String((0..<Int.random(in: 0...12, using: &random)).map { _ in nameScalars.randomElement(using: &random)! })
            encoder.writeMark(name: name, into: &wire)
            #expect(try decoder.decode(wire) == .mark(name: name))
            wire.clear()
        }
        encoder.writeClear(into: &wire)
        #expect(try decoder.decode(wire) == .clear)
    }
}
