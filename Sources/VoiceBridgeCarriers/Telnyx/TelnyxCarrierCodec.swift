import NIOCore

/// Writes what Telnyx sends on a media stream (carriers.md §1.2), for the phone simulator and
/// tests: snake_case, counters as strings, `stream_id` at the top level of every message but
/// `connected`. `sequence_number` is one counter across messages from `start` ("1"); `media.chunk`
/// counts per track from "1"; `media.timestamp` is milliseconds since the stream started (its
/// unit is unverified in Telnyx's docs).
public struct TelnyxCarrierEncoder: Sendable {
    public let streamID: String
    public let callControlID: String
    public let userID: String
    public private(set) var nextSequenceNumber = 1
    public private(set) var nextChunk = 1

    private let streamTail: [UInt8]

    public init(streamID: String, callControlID: String, userID: String) {
        self.streamID = streamID
        self.callControlID = callControlID
        self.userID = userID
        streamTail = Array(#","stream_id":"#.utf8) + Array(JSONWriting.quoted(streamID).utf8) + Array("}".utf8)
    }

    /// `{"event":"connected","version":"1.0.0"}`
    public func writeConnected(into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"event":"connected","version":"1.0.0"}"#)
    }

    public mutating func writeStart(from: String, to: String, mediaFormat: MediaFormat = .mulaw8kMono, into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"event":"start","sequence_number":""#)
        writeSequenceNumber(into: &buffer)
        buffer.writeString(#"","start":{"user_id":"#)
        JSONWriting.writeQuoted(userID, into: &buffer)
        buffer.writeString(#","call_control_id":"#)
        JSONWriting.writeQuoted(callControlID, into: &buffer)
        buffer.writeString(#","call_session_id":"#)
        JSONWriting.writeQuoted("session-" + callControlID, into: &buffer)
        buffer.writeString(#","from":"#)
        JSONWriting.writeQuoted(from, into: &buffer)
        buffer.writeString(#","to":"#)
        JSONWriting.writeQuoted(to, into: &buffer)
        buffer.writeString(#","tags":[],"media_format":{"encoding":"#)
        JSONWriting.writeQuoted(TelnyxDialect.codecName(mediaFormat.encoding), into: &buffer)
        buffer.writeString(#","sample_rate":"#)
        JSONWriting.writeDecimal(mediaFormat.sampleRate, into: &buffer)
        buffer.writeString(#","channels":"#)
        JSONWriting.writeDecimal(mediaFormat.channels, into: &buffer)
        buffer.writeString("}}")
        buffer.writeBytes(streamTail)
    }

    /// `{"event":"media","sequence_number":"N","media":{"track":"inbound","chunk":"C","timestamp":"T","payload":"…"},"stream_id":"…"}`
    public mutating func writeMedia(_ payload: UnsafeRawBufferPointer, timestampMs: Int, chunk: Int? = nil, into buffer: inout ByteBuffer) {
        buffer.reserveCapacity(minimumWritableBytes: 160 + Base64Fast.encodedLength(payload.count) + streamTail.count)
        buffer.writeString(#"{"event":"media","sequence_number":""#)
        writeSequenceNumber(into: &buffer)
        buffer.writeString(#"","media":{"track":"inbound","chunk":""#)
        JSONWriting.writeDecimal(chunk ?? nextChunk, into: &buffer)
        if chunk == nil { nextChunk += 1 }
        buffer.writeString(#"","timestamp":""#)
        JSONWriting.writeDecimal(timestampMs, into: &buffer)
        buffer.writeString(#"","payload":""#)
        Base64Fast.encode(payload, into: &buffer)
        buffer.writeString(#""}"#)
        buffer.writeBytes(streamTail)
    }

    /// `{"event":"dtmf","stream_id":"…","occurred_at":"…","sequence_number":"N","dtmf":{"digit":"1"}}`
    public mutating func writeDTMF(digit: Character, occurredAt: String, into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"event":"dtmf","stream_id":"#)
        JSONWriting.writeQuoted(streamID, into: &buffer)
        buffer.writeString(#","occurred_at":"#)
        JSONWriting.writeQuoted(occurredAt, into: &buffer)
        buffer.writeString(#","sequence_number":""#)
        writeSequenceNumber(into: &buffer)
        buffer.writeString(#"","dtmf":{"digit":"#)
        JSONWriting.writeQuoted(String(digit), into: &buffer)
        buffer.writeString("}}")
    }

    /// `{"event":"mark","stream_id":"…","sequence_number":"N","mark":{"name":"…"}}`
    public mutating func writeMark(name: String, into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"event":"mark","stream_id":"#)
        JSONWriting.writeQuoted(streamID, into: &buffer)
        buffer.writeString(#","sequence_number":""#)
        writeSequenceNumber(into: &buffer)
        buffer.writeString(#"","mark":{"name":"#)
        JSONWriting.writeQuoted(name, into: &buffer)
        buffer.writeString("}}")
    }

    /// `{"event":"error","payload":{"code":100003,"title":"malformed_frame","detail":"…"},"stream_id":"…"}`
    public func writeError(code: Int, title: String, detail: String, into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"event":"error","payload":{"code":"#)
        JSONWriting.writeDecimal(code, into: &buffer)
        buffer.writeString(#","title":"#)
        JSONWriting.writeQuoted(title, into: &buffer)
        buffer.writeString(#","detail":"#)
        JSONWriting.writeQuoted(detail, into: &buffer)
        buffer.writeString("}")
        buffer.writeBytes(streamTail)
    }

    /// `{"event":"stop","sequence_number":"N","stop":{"user_id":"…","call_control_id":"…"},"stream_id":"…"}`
    public mutating func writeStop(into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"event":"stop","sequence_number":""#)
        writeSequenceNumber(into: &buffer)
        buffer.writeString(#"","stop":{"user_id":"#)
        JSONWriting.writeQuoted(userID, into: &buffer)
        buffer.writeString(#","call_control_id":"#)
        JSONWriting.writeQuoted(callControlID, into: &buffer)
        buffer.writeString("}")
        buffer.writeBytes(streamTail)
    }

    private mutating func writeSequenceNumber(into buffer: inout ByteBuffer) {
        JSONWriting.writeDecimal(nextSequenceNumber, into: &buffer)
        nextSequenceNumber += 1
    }
}

/// Reads what a server sends to Telnyx as strictly as a strict peer should: exactly the
/// documented fields (§1.3), no `stream_id`, no sequence numbers, nothing extra.
public struct TelnyxCarrierDecoder: Sendable {
    private var reader: JSONPlayoutCommandReader

    public init(maxMessageBytes: Int = 1 << 22) {
        reader = JSONPlayoutCommandReader(streamBinding: nil, maxMessageBytes: maxMessageBytes)
    }

    public mutating func decode(_ text: ByteBuffer) throws(CarrierProtocolError) -> PlayoutCommand {
        try reader.decode(text)
    }
}
