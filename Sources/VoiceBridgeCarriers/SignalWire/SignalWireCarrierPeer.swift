import NIOCore

/// SignalWire's end of a cXML stream, for the simulator: its messages as documented (§3.2:
/// version 0.2.0, UUID ids, no top-level `streamSid` on `start`/`media`/`stop`, `dtmf` with a
/// duration), and a strict reader of the server's messages, which are Twilio's exactly.
public struct SignalWireCarrierPeer: CarrierPeerCodec, Sendable {
    public let identity: CallIdentity
    public private(set) var nextSequenceNumber = 1
    public private(set) var nextChunk = 1
    private var decoder: TwilioCarrierDecoder

    public init(identity: CallIdentity, maxMessageBytes: Int = 1 << 22) {
        self.identity = identity
        decoder = TwilioCarrierDecoder(streamSid: identity.streamID, maxMessageBytes: maxMessageBytes)
    }

    public mutating func writeConnected(into buffer: inout ByteBuffer) -> Bool {
        buffer.writeString(#"{"event":"connected","protocol":"Call","version":"0.2.0"}"#)
        return true
    }

    public mutating func writeStart(from: String, to: String, customParameters: [(String, String)], into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"event":"start","sequenceNumber":""#)
        writeSequenceNumber(into: &buffer)
        buffer.writeString(#"","start":{"streamSid":"#)
        JSONWriting.writeQuoted(identity.streamID, into: &buffer)
        buffer.writeString(#","accountSid":"#)
        JSONWriting.writeQuoted(identity.accountID, into: &buffer)
        buffer.writeString(#","callSid":"#)
        JSONWriting.writeQuoted(identity.callID, into: &buffer)
        buffer.writeString(#","tracks":["inbound"]"#)
        if !customParameters.isEmpty {
            buffer.writeString(#","customParameters":{"#)
            for (index, parameter) in customParameters.enumerated() {
                if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
                JSONWriting.writeQuoted(parameter.0, into: &buffer)
                buffer.writeInteger(UInt8(ascii: ":"))
                JSONWriting.writeQuoted(parameter.1, into: &buffer)
            }
            buffer.writeString("}")
        }
        buffer.writeString(#","mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}"#)
    }

    public mutating func writeMedia(_ payload: UnsafeRawBufferPointer, timestampMs: Int, into buffer: inout ByteBuffer) {
        buffer.reserveCapacity(minimumWritableBytes: 128 + Base64Fast.encodedLength(payload.count))
        buffer.writeString(#"{"event":"media","sequenceNumber":""#)
        writeSequenceNumber(into: &buffer)
        buffer.writeString(#"","media":{"track":"inbound","chunk":""#)
        JSONWriting.writeDecimal(nextChunk, into: &buffer)
        nextChunk += 1
        buffer.writeString(#"","timestamp":""#)
        JSONWriting.writeDecimal(timestampMs, into: &buffer)
        buffer.writeString(#"","payload":""#)
        Base64Fast.encode(payload, into: &buffer)
        buffer.writeString(#""}}"#)
    }

    public mutating func writeDTMF(digit: Character, into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"event":"dtmf","sequenceNumber":""#)
        writeSequenceNumber(into: &buffer)
        buffer.writeString(#"","streamSid":"#)
        JSONWriting.writeQuoted(identity.streamID, into: &buffer)
        buffer.writeString(#","dtmf":{"digit":"#)
        JSONWriting.writeQuoted(String(digit), into: &buffer)
        buffer.writeString(#","duration":120}}"#)
    }

    public mutating func writeMarkEcho(name: String, into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"event":"mark","streamSid":"#)
        JSONWriting.writeQuoted(identity.streamID, into: &buffer)
        buffer.writeString(#","mark":{"name":"#)
        JSONWriting.writeQuoted(name, into: &buffer)
        buffer.writeString("}}")
    }

    public var echoesMarksOnClear: Bool { SignalWireDialect.rules.echoesMarksOnClear }

    public mutating func writeClearAcknowledgement(into buffer: inout ByteBuffer) -> Bool { false }

    public mutating func writeStop(into buffer: inout ByteBuffer) -> Bool {
        buffer.writeString(#"{"event":"stop","sequenceNumber":""#)
        writeSequenceNumber(into: &buffer)
        buffer.writeString(#""}"#)
        return true
    }

    public mutating func decode(_ text: ByteBuffer) throws(CarrierProtocolError) -> PlayoutCommand {
        try decoder.decode(text)
    }

    private mutating func writeSequenceNumber(into buffer: inout ByteBuffer) {
        JSONWriting.writeDecimal(nextSequenceNumber, into: &buffer)
        nextSequenceNumber += 1
    }
}
