import NIOCore

/// Telnyx Media Streaming (carriers.md §1): JSON text frames in snake_case, `stream_id` at the
/// top level of what Telnyx sends and nowhere in what it receives, counters as strings, marks
/// echoed on `clear` as Twilio does. Bidirectional audio needs `bidirectionalMode="rtp"`.
///
/// Formats: PCMU and PCMA at 8 kHz and L16 (big-endian) at 16 kHz, the bidirectional RTP codecs
/// the bridge can carry; G722, OPUS and AMR-WB are refused at the gate.
public enum TelnyxDialect: CarrierDialect {
    public static let name = "telnyx"
    public static let rules = CarrierSessionRules(
        echoesMarksOnClear: true, supportedFormats: [.mulaw8kMono, .alaw8kMono, .l16BigEndian16k], startNamesWebhookCall: false)

    public static func makeDecoder(maxMessageBytes: Int) -> TelnyxMediaStreamDecoder {
        TelnyxMediaStreamDecoder(maxMessageBytes: maxMessageBytes)
    }

    public static func makeEncoder(for start: StreamStart, decoder: TelnyxMediaStreamDecoder) -> TelnyxMediaStreamEncoder {
        TelnyxMediaStreamEncoder()
    }

    /// Telnyx's codec name for a format (`media_format.encoding`, `bidirectionalCodec`).
    public static func codecName(_ encoding: AudioEncoding) -> String {
        switch encoding {
        case .mulaw: "PCMU"
        case .alaw: "PCMA"
        case .l16: "L16"
        }
    }

    /// The format `media_format` names; nil for codecs the bridge cannot carry (G722, OPUS, AMR-WB).
    /// L16 is big-endian, network order (carriers.md §1.3, from Pipecat's serializer).
    public static func format(encoding: String, sampleRate: Int, channels: Int) -> MediaFormat? {
        let parsed: AudioEncoding
        switch encoding.uppercased() {
        case "PCMU": parsed = .mulaw
        case "PCMA": parsed = .alaw
        case "L16": parsed = .l16(.bigEndian)
        default: return nil
        }
        return MediaFormat(encoding: parsed, sampleRate: sampleRate, channels: channels)
    }
}

/// The three messages a server sends on a bidirectional RTP stream, byte for byte as documented:
/// no `stream_id`, no sequence numbers (carriers.md §1.3).
public struct TelnyxMediaStreamEncoder: CarrierOutboundEncoder, Sendable {
    private static let mediaPrefix = Array(#"{"event":"media","media":{"payload":""#.utf8)
    private static let markPrefix = Array(#"{"event":"mark","mark":{"name":""#.utf8)
    private static let objectSuffix = Array("\"}}".utf8)
    private static let clearMessage = Array(#"{"event":"clear"}"#.utf8)

    public init() {}

    public var mediaFrameKind: CarrierFrameKind { .text }

    public func writeMedia(_ payload: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) {
        buffer.reserveCapacity(
            minimumWritableBytes: Self.mediaPrefix.count + Base64Fast.encodedLength(payload.count) + Self.objectSuffix.count)
        buffer.writeBytes(Self.mediaPrefix)
        Base64Fast.encode(payload, into: &buffer)
        buffer.writeBytes(Self.objectSuffix)
    }

    public func writeMark(name: String, into buffer: inout ByteBuffer) {
        buffer.writeBytes(Self.markPrefix)
        JSONWriting.writeEscapedContent(name, into: &buffer)
        buffer.writeBytes(Self.objectSuffix)
    }

    public func writeClear(into buffer: inout ByteBuffer) {
        buffer.writeBytes(Self.clearMessage)
    }
}
