import NIOCore
import Testing
import VoiceBridgeCarriers

/// SignalWire's documented shapes (carriers.md §3.2): Twilio's names, with its own omissions.
@Suite struct SignalWireCodecTests {
    static let streamSid = "7d56cc11-536d-4a45-b4fb-ed3d55be843b"

    func decode(_ json: String, into decoder: inout SignalWireMediaStreamDecoder) throws(CarrierProtocolError) -> CarrierEvent? {
        try decoder.decode(.text(ByteBuffer(string: json)))
    }

    @Test func theDocumentedMessagesDecode() throws {
        var decoder = SignalWireMediaStreamDecoder()
        #expect(try decode(#"{"event":"connected","protocol":"Call","version":"0.2.0"}"#, into: &decoder) == .connected(protocolName: "Call", version: "0.2.0"))
        let start = #"""
        {"event":"start","sequenceNumber":"1",
         "start":{"streamSid":"7d56cc11-536d-4a45-b4fb-ed3d55be843b","accountSid":"b08dacad-2f6c-4de1-93d6-cc732e0c69c5",
                  "callSid":"76ac3c36-56da-4a3e-a0d6-b5f8df6da9ad","tracks":["inbound"],"customParameters":{"session":"s-42"},
                  "mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}
        """#
        guard case .start(let started)? = try decode(start, into: &decoder) else {
            Issue.record("start not decoded")
            return
        }
        #expect(started.streamID == Self.streamSid && started.callID == "76ac3c36-56da-4a3e-a0d6-b5f8df6da9ad")
        #expect(started.customParameters == ["session": "s-42"])
        let media = #"{"event":"media","sequenceNumber":"42","media":{"track":"inbound","chunk":"41","timestamp":"820","payload":"/w=="}}"#
        guard case .media(let frame)? = try decode(media, into: &decoder) else {
            Issue.record("media without streamSid not decoded")
            return
        }
        #expect(frame.chunk == 41 && frame.timestampMs == 820)
        let dtmf = #"{"event":"dtmf","sequenceNumber":"123","streamSid":"\#(Self.streamSid)","dtmf":{"digit":"5","duration":2000}}"#
        #expect(try decode(dtmf, into: &decoder) == .dtmf(DTMFPress(sequenceNumber: 123, track: "inbound", digit: "5")))
        let mark = #"{"event":"mark","streamSid":"\#(Self.streamSid)","mark":{"name":"turn-3:seg-1"}}"#
        #expect(try decode(mark, into: &decoder) == .mark(MarkEcho(sequenceNumber: 0, name: "turn-3:seg-1")))
        #expect(try decode(#"{"event":"stop","sequenceNumber":"999"}"#, into: &decoder) == .stop(StreamStop(sequenceNumber: 999, accountID: "", callID: "")))
    }

    @Test func aStreamSidThatIsPresentMustBeThisStreams() {
        var decoder = SignalWireMediaStreamDecoder()
        decoder.expectedStreamSid = Self.streamSid
        #expect(throws: CarrierProtocolError.wrongStreamSid(expected: Self.streamSid, got: "other")) {
            try decoder.decode(.text(ByteBuffer(string: #"{"event":"mark","streamSid":"other","mark":{"name":"x"}}"#)))
        }
        #expect(throws: CarrierProtocolError.self) {
            try decoder.decode(.text(ByteBuffer(string: #"{"event":"media","sequenceNumber":"2","streamSid":"other","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"/w=="}}"#)))
        }
    }

    @Test func l16IsReadAsLittleEndianAndRefusedByTheGateForNow() throws {
        #expect(SignalWireDialect.format(encoding: "audio/x-L16", sampleRate: 16000, channels: 1) == MediaFormat(encoding: .l16(.littleEndian), sampleRate: 16000))
        #expect(!SignalWireDialect.rules.supportedFormats.contains(MediaFormat(encoding: .l16(.littleEndian), sampleRate: 16000)))
    }

    @Test func whatTheSimulatorSendsTheServerReadsAndTheServersRepliesAreTwiliosExactly() throws {
        var peer = SignalWireCarrierPeer(identity: CallIdentity(callID: "c", streamID: Self.streamSid, accountID: "a"))
        var session = MediaSession<SignalWireDialect>(callID: "c", accountID: nil, maxMessageBytes: 65_536)
        var out = ByteBuffer()
        _ = peer.writeConnected(into: &out)
        guard case .forward(.connected) = session.receive(.text(out)) else { Issue.record("connected"); return }
        out.clear()
        peer.writeStart(from: "+1", to: "+2", customParameters: [("From", "+1")], into: &out)
        guard case .started = session.receive(.text(out)) else { Issue.record("start: \(String(buffer: out))"); return }
        out.clear()
        [UInt8](repeating: 0xFF, count: 160).withUnsafeBytes { peer.writeMedia($0, timestampMs: 20, into: &out) }
        guard case .forward(.media) = session.receive(.text(out)) else { Issue.record("media"); return }
        out.clear()
        peer.writeDTMF(digit: "7", into: &out)
        guard case .forward(.dtmf(let press)) = session.receive(.text(out)) else { Issue.record("dtmf"); return }
        #expect(press.digit == "7")
        let encoder = try #require(session.encoder)
        out.clear()
        encoder.writeClear(into: &out)
        #expect(String(buffer: out) == #"{"event":"clear","streamSid":"\#(Self.streamSid)"}"#)
        #expect(try peer.decode(out) == .clear)
    }
}
