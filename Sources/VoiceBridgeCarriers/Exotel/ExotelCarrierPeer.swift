import NIOCore

/// Exotel's end of a media socket, for the simulator: `connected`, `start` (counters as strings,
/// as Exotel's newer pages write them), `media` without a track, `dtmf`, the `mark` echo and
/// `stop`; and a strict reader of what a server sends, chunk rules included.
public struct ExotelCarrierPeer: CarrierPeerCodec, Sendable {
    public let identity: CallIdentity
    public let mediaFormat: MediaFormat
    private var sequence = 0
    private var chunk = 0
    private var payload: ByteBuffer
    private var scratch: [UInt8] = []

    public init(identity: CallIdentity, mediaFormat: MediaFormat = .l16LittleEndian(8000)) {
        self.identity = identity
        self.mediaFormat = mediaFormat
        self.payload = ByteBufferAllocator().buffer(capacity: 4096)
    }

    public var echoesMarksOnClear: Bool { ExotelDialect.rules.echoesMarksOnClear }

    /// The bridge's media messages: the dialect's minimum, whatever the rate.
    public func expectedMediaBytes(for format: MediaFormat) -> Int { ExotelDialect.minimumMediaBytes }

    private mutating func next() -> Int {
        sequence += 1
        return sequence
    }

    public mutating func writeConnected(into buffer: inout ByteBuffer) -> Bool {
        buffer.writeString(#"{"event":"connected"}"#)
        return true
    }

    public mutating func writeStart(from: String, to: String, customParameters: [(String, String)], into buffer: inout ByteBuffer) {
        let stream = JSONWriting.quoted(identity.streamID)
        buffer.writeString(#"{"event":"start","sequence_number":"\#(next())","stream_sid":"# + stream + #","start":{"stream_sid":"# + stream)
        buffer.writeString(#","call_sid":"# + JSONWriting.quoted(identity.callID) + #","account_sid":"# + JSONWriting.quoted(identity.accountID))
        buffer.writeString(#","from":"# + JSONWriting.quoted(from) + #","to":"# + JSONWriting.quoted(to) + #","custom_parameters":{"#)
        buffer.writeString(customParameters.map { JSONWriting.quoted($0.0) + ":" + JSONWriting.quoted($0.1) }.joined(separator: ","))
        buffer.writeString(#"},"media_format":{"encoding":"# + JSONWriting.quoted(ExotelDialect.encodingName(mediaFormat)))
        buffer.writeString(#","sample_rate":"\#(mediaFormat.sampleRate)","bit_rate":"\#(mediaFormat.encoding.bytesPerSample * 8)"}}}"#)
    }

    public mutating func writeMedia(_ payload: UnsafeRawBufferPointer, timestampMs: Int, into buffer: inout ByteBuffer) {
        chunk += 1
        buffer.writeString(#"{"event":"media","sequence_number":"\#(next())","stream_sid":"# + JSONWriting.quoted(identity.streamID))
        buffer.writeString(#","media":{"chunk":"\#(chunk)","timestamp":"\#(timestampMs)","payload":""#)
        Base64Fast.encode(payload, into: &buffer)
        buffer.writeString(#""}}"#)
    }

    public mutating func writeDTMF(digit: Character, into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"event":"dtmf","sequence_number":"\#(next())","stream_sid":"# + JSONWriting.quoted(identity.streamID))
        buffer.writeString(#","dtmf":{"digit":"# + JSONWriting.quoted(String(digit)) + #","duration":"100"}}"#)
    }

    public mutating func writeMarkEcho(name: String, into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"event":"mark","sequence_number":"\#(next())","stream_sid":"# + JSONWriting.quoted(identity.streamID))
        buffer.writeString(#","mark":{"name":"# + JSONWriting.quoted(name) + "}}")
    }

    public mutating func writeClearAcknowledgement(into buffer: inout ByteBuffer) -> Bool { false }

    public mutating func writeStop(into buffer: inout ByteBuffer) -> Bool {
        buffer.writeString(#"{"event":"stop","sequence_number":"\#(next())","stream_sid":"# + JSONWriting.quoted(identity.streamID))
        buffer.writeString(#","stop":{"call_sid":"# + JSONWriting.quoted(identity.callID) + #","account_sid":"# + JSONWriting.quoted(identity.accountID))
        buffer.writeString(#","reason":"callended"}}"#)
        return true
    }

    /// `media` (payload a multiple of 320 bytes, 3,200 to 100,000), `mark`, `clear`: each with
    /// this stream's `stream_sid` and nothing else.
    public mutating func decode(_ text: ByteBuffer) throws(CarrierProtocolError) -> PlayoutCommand {
        let message = try text.withReadableJSON(limit: 256 * 1024) { raw throws(CarrierProtocolError) in
            try JSONFields(json: raw, kindKey: "event")
        }
        let allowed: Set<String> = switch message.kind {
        case "media": ["event", "stream_sid", "media"]
        case "mark": ["event", "stream_sid", "mark"]
        case "clear": ["event", "stream_sid"]
        default: throw .unknownEvent(message.kind)
        }
        if let extra = message.keys.first(where: { !allowed.contains($0) }) { throw .unexpectedField(extra) }
        let stream = try message.requiredString("stream_sid")
        guard stream == identity.streamID else { throw .wrongStreamSid(expected: identity.streamID, got: stream) }
        switch message.kind {
        case "media":
            if let extra = message.values.keys.first(where: { $0.hasPrefix("media.") && $0 != "media.payload" }) { throw .unexpectedField(extra) }
            guard let bytes = Base64Fast.decode(try message.requiredString("media.payload")) else { throw .invalidBase64 }
            guard bytes.count % 320 == 0, (ExotelDialect.minimumMediaBytes...ExotelDialect.maximumMediaBytes).contains(bytes.count) else {
                throw .invalidValue(field: "media.payload", reason: "\(bytes.count) bytes; Exotel plays multiples of 320 from 3,200 to 100,000")
            }
            payload.clear()
            payload.writeBytes(bytes)
            return .media(payload)
        case "mark":
            return .mark(name: try message.requiredString("mark.name"))
        default:
            return .clear
        }
    }
}
