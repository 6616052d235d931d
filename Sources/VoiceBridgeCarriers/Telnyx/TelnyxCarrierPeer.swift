import Foundation
import NIOCore

/// Telnyx's end of a media stream, for the simulator: its encoder, and a strict decoder that
/// refuses anything but the three documented server messages.
public struct TelnyxCarrierPeer: CarrierPeerCodec, Sendable {
    public private(set) var encoder: TelnyxCarrierEncoder
    private var decoder: TelnyxCarrierDecoder
    private let mediaFormat: MediaFormat

    /// `identity.callID` is the call_control_id, `accountID` the user_id, `streamID` the stream_id.
    public init(identity: CallIdentity, mediaFormat: MediaFormat = .mulaw8kMono, maxMessageBytes: Int = 1 << 22) {
        encoder = TelnyxCarrierEncoder(streamID: identity.streamID, callControlID: identity.callID, userID: identity.accountID)
        decoder = TelnyxCarrierDecoder(maxMessageBytes: maxMessageBytes)
        self.mediaFormat = mediaFormat
    }

    public mutating func writeConnected(into buffer: inout ByteBuffer) -> Bool {
        encoder.writeConnected(into: &buffer)
        return true
    }

    public mutating func writeStart(from: String, to: String, customParameters: [(String, String)], into buffer: inout ByteBuffer) {
        encoder.writeStart(from: from, to: to, mediaFormat: mediaFormat, into: &buffer)
    }

    public mutating func writeMedia(_ payload: UnsafeRawBufferPointer, timestampMs: Int, into buffer: inout ByteBuffer) {
        encoder.writeMedia(payload, timestampMs: timestampMs, into: &buffer)
    }

    public mutating func writeDTMF(digit: Character, into buffer: inout ByteBuffer) {
        encoder.writeDTMF(digit: digit, occurredAt: Self.timestamp(Date()), into: &buffer)
    }

    public mutating func writeMarkEcho(name: String, into buffer: inout ByteBuffer) {
        encoder.writeMark(name: name, into: &buffer)
    }

    public var echoesMarksOnClear: Bool { TelnyxDialect.rules.echoesMarksOnClear }

    public mutating func writeClearAcknowledgement(into buffer: inout ByteBuffer) -> Bool { false }

    public mutating func writeStop(into buffer: inout ByteBuffer) -> Bool {
        encoder.writeStop(into: &buffer)
        return true
    }

    public mutating func decode(_ text: ByteBuffer) throws(CarrierProtocolError) -> PlayoutCommand {
        try decoder.decode(text)
    }

    /// `2025-06-05T08:54:19.698Z`: Telnyx's `occurred_at` (it sends microseconds; milliseconds
    /// are what Foundation's formatter writes, and the bridge only logs the value).
    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
