import Foundation
import NIOCore

/// Plivo Audio Streams (carriers.md §2): JSON text frames in camelCase, `streamId` rather than
/// `streamSid`, counters as JSON numbers, `playAudio`/`checkpoint`/`clearAudio` going out, and no
/// `connected` greeting.
///
/// A `checkpoint` is acknowledged (`playedStream`) only if its audio really played; a
/// `clearAudio` drops pending checkpoints without a word (§2.3), so the call resolves them itself
/// when it clears (`echoesMarksOnClear: false`).
///
/// Formats: `audio/x-mulaw;rate=8000` and little-endian `audio/x-l16` at 8 or 16 kHz, whichever
/// the answer's `contentType` asked for.
public enum PlivoDialect: CarrierDialect {
    public static let name = "plivo"
    public static let rules = CarrierSessionRules(
        echoesMarksOnClear: false, supportedFormats: [.mulaw8kMono, .l16LittleEndian(8000), .l16LittleEndian(16000)])

    public static func makeDecoder(maxMessageBytes: Int) -> PlivoMediaStreamDecoder {
        PlivoMediaStreamDecoder(maxMessageBytes: maxMessageBytes)
    }

    public static func makeEncoder(for start: StreamStart, decoder: PlivoMediaStreamDecoder) -> PlivoMediaStreamEncoder {
        PlivoMediaStreamEncoder(streamID: start.streamID, format: start.mediaFormat)
    }

    /// `contentType` of the answer's `<Stream>`: `audio/x-mulaw;rate=8000`, `audio/x-l16;rate=16000`.
    public static func contentType(_ format: MediaFormat) -> String {
        "\(mimeType(format.encoding));rate=\(format.sampleRate)"
    }

    /// The MIME type of `start.mediaFormat.encoding` and `playAudio.media.contentType`.
    public static func mimeType(_ encoding: AudioEncoding) -> String {
        switch encoding {
        case .mulaw: "audio/x-mulaw"
        case .alaw: "audio/x-alaw"
        case .l16: "audio/x-l16"
        }
    }

    /// The format an answer's `contentType` (`audio/x-l16;rate=16000`) asks for; nil if Plivo
    /// streams no such thing.
    public static func format(contentType: String) -> MediaFormat? {
        let parts = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, parts[1].hasPrefix("rate="), let rate = Int(parts[1].dropFirst(5)),
            let format = format(encoding: parts[0], sampleRate: rate), rules.supportedFormats.contains(format)
        else { return nil }
        return format
    }

    /// The format a start names; nil for an encoding Plivo does not stream. L16 is little-endian
    /// (carriers.md §2.3, from Plivo's own transport).
    public static func format(encoding: String, sampleRate: Int) -> MediaFormat? {
        switch encoding.lowercased() {
        case "audio/x-mulaw": MediaFormat(encoding: .mulaw, sampleRate: sampleRate)
        case "audio/x-l16": MediaFormat(encoding: .l16(.littleEndian), sampleRate: sampleRate)
        default: nil
        }
    }
}

/// The three messages the bridge sends on a bidirectional Plivo stream, byte for byte as
/// documented (§2.3): `playAudio` with the stream's content type and rate and no stream id,
/// `checkpoint` and `clearAudio` with it.
public struct PlivoMediaStreamEncoder: CarrierOutboundEncoder, Sendable {
    private let mediaPrefix: [UInt8]
    private let checkpointPrefix: [UInt8]
    private let clearMessage: [UInt8]
    private static let mediaSuffix = Array("\"}}".utf8)
    private static let checkpointSuffix = Array("\"}".utf8)

    public init(streamID: String, format: MediaFormat) {
        let quotedStream = JSONWriting.quoted(streamID)
        mediaPrefix = Array(
            (#"{"event":"playAudio","media":{"contentType":"# + JSONWriting.quoted(PlivoDialect.mimeType(format.encoding))
                + #","sampleRate":\#(format.sampleRate),"payload":""#).utf8)
        checkpointPrefix = Array((#"{"event":"checkpoint","streamId":"# + quotedStream + #","name":""#).utf8)
        clearMessage = Array((#"{"event":"clearAudio","streamId":"# + quotedStream + "}").utf8)
    }

    public var mediaFrameKind: CarrierFrameKind { .text }

    public func writeMedia(_ payload: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) {
        buffer.reserveCapacity(
            minimumWritableBytes: mediaPrefix.count + Base64Fast.encodedLength(payload.count) + Self.mediaSuffix.count)
        buffer.writeBytes(mediaPrefix)
        Base64Fast.encode(payload, into: &buffer)
        buffer.writeBytes(Self.mediaSuffix)
    }

    public func writeMark(name: String, into buffer: inout ByteBuffer) {
        buffer.writeBytes(checkpointPrefix)
        JSONWriting.writeEscapedContent(name, into: &buffer)
        buffer.writeBytes(Self.checkpointSuffix)
    }

    public func writeClear(into buffer: inout ByteBuffer) {
        buffer.writeBytes(clearMessage)
    }
}
