import Foundation
import NIOCore

/// Vonage's Voice API WebSocket endpoint (carriers.md §4): raw 16-bit little-endian PCM in binary
/// frames both ways, exactly one 20 ms frame each (320 B at 8 kHz, 640 B at 16 kHz), and JSON
/// text for everything else. There is no envelope, no stream id and no sequence number.
///
/// - The first text frame, `websocket:connected`, carries the `content-type` and the NCCO's
///   `headers` flattened to its top level: it is the start. The bridge's NCCO puts the call's
///   `conversation_uuid` there, which names the call.
/// - `{"action":"notify","payload":{…}}` is the mark; Vonage echoes the payload in
///   `websocket:notify` once the audio queued before it has played. `{"action":"clear"}` drops
///   queued audio and is answered with `websocket:cleared`. Whether pending notifies are echoed on
///   a clear is undocumented, so the call settles them itself (`echoesMarksOnClear: false`); an
///   echo that still came would be an unknown mark, ignored.
/// - The call's end is never said on the socket: it just closes.
public enum VonageDialect: CarrierDialect {
    public static let name = "vonage"
    public static let rules = CarrierSessionRules(
        echoesMarksOnClear: false, supportedFormats: [.l16LittleEndian(16000), .l16LittleEndian(8000)], startNamesWebhookCall: false)
    /// The NCCO header that names the call in `websocket:connected`.
    public static let callHeader = "conversation_uuid"

    public static func makeDecoder(maxMessageBytes: Int) -> VonageMediaStreamDecoder {
        VonageMediaStreamDecoder(maxMessageBytes: maxMessageBytes)
    }

    public static func makeEncoder(for start: StreamStart, decoder: VonageMediaStreamDecoder) -> VonageMediaStreamEncoder {
        VonageMediaStreamEncoder()
    }

    /// `audio/l16;rate=16000`: the NCCO's `content-type` and `websocket:connected`'s.
    public static func contentType(_ format: MediaFormat) -> String {
        "audio/l16;rate=\(format.sampleRate)"
    }

    /// The format a `content-type` names; nil for anything Vonage does not stream.
    public static func format(contentType: String) -> MediaFormat? {
        let parts = contentType.lowercased().split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, parts[0] == "audio/l16", parts[1].hasPrefix("rate="), let rate = Int(parts[1].dropFirst(5)) else {
            return nil
        }
        return MediaFormat(encoding: .l16(.littleEndian), sampleRate: rate)
    }
}

/// Reads what Vonage sends into neutral events: binary audio (passed on without a copy) and the
/// JSON events `websocket:connected`, `websocket:dtmf`, `websocket:notify`, `websocket:cleared`.
public struct VonageMediaStreamDecoder: CarrierInboundDecoder, Sendable {
    public let maxMessageBytes: Int
    private var frames = 0
    private var connected = false

    public init(maxMessageBytes: Int = TwilioMediaStreamDecoder.defaultMaxMessageBytes) {
        self.maxMessageBytes = maxMessageBytes
    }

    public mutating func decode(_ frame: CarrierFrame) throws(CarrierProtocolError) -> CarrierEvent? {
        switch frame {
        case .binary(let audio):
            // No timestamps on the wire: the media clock is the frame count (20 ms each).
            return .media(try InboundMedia.binaryFrame(audio, counting: &frames, frameMs: 20, limit: maxMessageBytes))
        case .text(let text):
            let message = try text.withReadableJSON(limit: maxMessageBytes) { raw throws(CarrierProtocolError) in
                try JSONFields(json: raw, kindKey: "event")
            }
            return try interpret(message)
        }
    }

    private mutating func interpret(_ message: JSONFields) throws(CarrierProtocolError) -> CarrierEvent? {
        switch message.kind {
        case "websocket:connected":
            guard !connected else { throw .invalidValue(field: "event", reason: "a second websocket:connected") }
            connected = true
            let contentType = try message.requiredString("content-type")
            guard let format = VonageDialect.format(contentType: contentType) else {
                throw .unsupportedFormat("content-type \"\(contentType)\"")
            }
            var headers = message.topLevel
            headers["content-type"] = nil
            let call = headers[VonageDialect.callHeader] ?? ""
            return .start(StreamStart(
                sequenceNumber: 0, streamID: call, accountID: "", callID: call, tracks: ["inbound"],
                customParameters: headers, mediaFormat: format))
        case "websocket:dtmf":
            var text = try message.string("digit")
            if text == nil { text = try message.string("dtmf.digit") }
            guard let text else { throw .missingField("digit") }
            let digit = try CarrierMessageDecoding.dtmfDigit(text, allowed: .withLetters)
            return .dtmf(DTMFPress(sequenceNumber: frames, track: "inbound", digit: digit))
        case "websocket:notify":
            let name = try message.requiredString("payload.name")
            return .mark(MarkEcho(sequenceNumber: frames, name: name))
        case "websocket:cleared":
            return nil
        default:
            return .notice(CarrierNotice(kind: "unknown_event", detail: "event \"\(message.kind)\""))
        }
    }
}

/// What the bridge sends Vonage: audio as raw binary frames, `notify` and `clear` as the exact
/// JSON Vonage documents.
public struct VonageMediaStreamEncoder: CarrierOutboundEncoder, Sendable {
    public init() {}

    public var mediaFrameKind: CarrierFrameKind { .binary }

    public func writeMedia(_ payload: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) {
        buffer.writeBytes(payload)
    }

    /// `{"action":"notify","payload":{"name":"…"}}`: the payload is ours, echoed back as it is.
    public func writeMark(name: String, into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"action":"notify","payload":{"name":"#)
        JSONWriting.writeQuoted(name, into: &buffer)
        buffer.writeString("}}")
    }

    public func writeClear(into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"action":"clear"}"#)
    }
}
