import NIOCore

/// Writes what Twilio sends on a Media Streams socket, for the phone simulator and for tests.
///
/// Field order and spelling follow Twilio's documented examples. `sequenceNumber` is one
/// counter across all messages of the stream: `start` carries "1" and every later message
/// increments it (`connected` has none). `media.chunk` counts per track from "1".
///
/// The load generator sends `media` 50 times a second per simulated call, so media is written
/// straight as bytes around precomputed fixed parts.
public struct TwilioCarrierEncoder: Sendable {
    public let streamSid: String
    public let accountSid: String
    public let callSid: String

    /// The sequence number the next message (other than `connected`) will carry.
    public private(set) var nextSequenceNumber = 1
    public private(set) var nextInboundChunk = 1
    public private(set) var nextOutboundChunk = 1

    private let escapedStreamSid: [UInt8]
    private let mediaHead: [UInt8]
    private let mediaTail: [UInt8]

    public init(streamSid: String, accountSid: String, callSid: String) {
        self.streamSid = streamSid
        self.accountSid = accountSid
        self.callSid = callSid
        escapedStreamSid = JSONWriting.escaped(streamSid)
        mediaHead = Array(#"{"event":"media","sequenceNumber":""#.utf8)
        mediaTail = Array(#""},"streamSid":""#.utf8) + escapedStreamSid + Array(#""}"#.utf8)
    }

    /// `{"event":"connected","protocol":"Call","version":"1.0.0"}`
    public func writeConnected(into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#)
    }

    public mutating func writeStart(
        tracks: [String] = ["inbound"],
        customParameters: [(name: String, value: String)] = [],
        mediaFormat: MediaFormat = .mulaw8kMono,
        into buffer: inout ByteBuffer
    ) {
        buffer.writeString(#"{"event":"start","sequenceNumber":""#)
        writeSequenceNumber(into: &buffer)
        buffer.writeString(#"","start":{"accountSid":"#)
        JSONWriting.writeQuoted(accountSid, into: &buffer)
        buffer.writeString(#","streamSid":"#)
        buffer.writeInteger(UInt8(ascii: "\""))
        buffer.writeBytes(escapedStreamSid)
        buffer.writeString(#"","callSid":"#)
        JSONWriting.writeQuoted(callSid, into: &buffer)
        buffer.writeString(#","tracks":["#)
        for (index, track) in tracks.enumerated() {
            if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
            JSONWriting.writeQuoted(track, into: &buffer)
        }
        buffer.writeString(#"],"mediaFormat":{"encoding":"#)
        JSONWriting.writeQuoted(TwilioDialect.encodingName(mediaFormat.encoding), into: &buffer)
        buffer.writeString(#","sampleRate":"#)
        JSONWriting.writeDecimal(mediaFormat.sampleRate, into: &buffer)
        buffer.writeString(#","channels":"#)
        JSONWriting.writeDecimal(mediaFormat.channels, into: &buffer)
        buffer.writeString(#"},"customParameters":{"#)
        for (index, parameter) in customParameters.enumerated() {
            if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
            JSONWriting.writeQuoted(parameter.name, into: &buffer)
            buffer.writeInteger(UInt8(ascii: ":"))
            JSONWriting.writeQuoted(parameter.value, into: &buffer)
        }
        buffer.writeString(#"}},"streamSid":""#)
        buffer.writeBytes(escapedStreamSid)
        buffer.writeString(#""}"#)
    }

    /// `{"event":"media","sequenceNumber":"N","media":{"track":"inbound","chunk":"C","timestamp":"T","payload":"…"},"streamSid":"MZ…"}`
    ///
    /// - Parameter timestampMs: milliseconds since the stream started, as the caller's clock says.
    public mutating func writeMedia(
        _ payload: UnsafeRawBufferPointer,
        timestampMs: Int,
        track: MediaTrack = .inbound,
        into buffer: inout ByteBuffer
    ) {
        buffer.reserveCapacity(minimumWritableBytes: 160 + Base64Fast.encodedLength(payload.count) + mediaTail.count)
        buffer.writeBytes(mediaHead)
        writeSequenceNumber(into: &buffer)
        switch track {
        case .inbound:
            buffer.writeString(#"","media":{"track":"inbound","chunk":""#)
            JSONWriting.writeDecimal(nextInboundChunk, into: &buffer)
            nextInboundChunk += 1
        case .outbound:
            buffer.writeString(#"","media":{"track":"outbound","chunk":""#)
            JSONWriting.writeDecimal(nextOutboundChunk, into: &buffer)
            nextOutboundChunk += 1
        }
        buffer.writeString(#"","timestamp":""#)
        JSONWriting.writeDecimal(timestampMs, into: &buffer)
        buffer.writeString(#"","payload":""#)
        Base64Fast.encode(payload, into: &buffer)
        buffer.writeBytes(mediaTail)
    }

    public mutating func writeMedia(
        _ payload: ByteBuffer,
        timestampMs: Int,
        track: MediaTrack = .inbound,
        into buffer: inout ByteBuffer
    ) {
        payload.withUnsafeReadableBytes { writeMedia($0, timestampMs: timestampMs, track: track, into: &buffer) }
    }

    /// `{"event":"dtmf","streamSid":"MZ…","sequenceNumber":"N","dtmf":{"track":"inbound_track","digit":"5"}}`
    public mutating func writeDTMF(digit: Character, into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"event":"dtmf","streamSid":""#)
        buffer.writeBytes(escapedStreamSid)
        buffer.writeString(#"","sequenceNumber":""#)
        writeSequenceNumber(into: &buffer)
        buffer.writeString(#"","dtmf":{"track":"inbound_track","digit":"#)
        JSONWriting.writeQuoted(String(digit), into: &buffer)
        buffer.writeString("}}")
    }

    /// The echo of a mark the server sent:
    /// `{"event":"mark","sequenceNumber":"N","streamSid":"MZ…","mark":{"name":"…"}}`
    public mutating func writeMark(name: String, into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"event":"mark","sequenceNumber":""#)
        writeSequenceNumber(into: &buffer)
        buffer.writeString(#"","streamSid":""#)
        buffer.writeBytes(escapedStreamSid)
        buffer.writeString(#"","mark":{"name":"#)
        JSONWriting.writeQuoted(name, into: &buffer)
        buffer.writeString("}}")
    }

    /// `{"event":"stop","sequenceNumber":"N","stop":{"accountSid":"AC…","callSid":"CA…"},"streamSid":"MZ…"}`
    public mutating func writeStop(into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"event":"stop","sequenceNumber":""#)
        writeSequenceNumber(into: &buffer)
        buffer.writeString(#"","stop":{"accountSid":"#)
        JSONWriting.writeQuoted(accountSid, into: &buffer)
        buffer.writeString(#","callSid":"#)
        JSONWriting.writeQuoted(callSid, into: &buffer)
        buffer.writeString(#"},"streamSid":""#)
        buffer.writeBytes(escapedStreamSid)
        buffer.writeString(#""}"#)
    }

    private mutating func writeSequenceNumber(into buffer: inout ByteBuffer) {
        JSONWriting.writeDecimal(nextSequenceNumber, into: &buffer)
        nextSequenceNumber += 1
    }
}
