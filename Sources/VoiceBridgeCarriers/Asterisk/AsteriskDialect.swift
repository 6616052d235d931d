import NIOCore

/// Asterisk's `chan_websocket` (carriers.md §6A): raw codec bytes in binary frames both ways, and
/// control in text frames, either JSON (`{"event":…}` / `{"command":…}`, Asterisk 20.18, 22.8,
/// 23.2 and later) or the older plain text (`NAME key:value …` / `COMMAND arg`). The bridge
/// answers in whichever its peer spoke.
///
/// Asterisk connects straight to the bridge (a `websocket_client` in `websocket_client.conf`
/// and `Dial(WebSocket/<client>/c(ulaw)f(json))`): there is no answer webhook, so no call id to
/// bind the start to, and the upgrade's own credentials (HTTP Basic) admit it.
///
/// A `FLUSH_MEDIA` frees queued marks with the audio and never reports them, so the call settles
/// them itself; `MEDIA_MARK_PROCESSED` fires when a mark reaches the head of the driver's queue.
public enum AsteriskDialect: CarrierDialect {
    public static let name = "asterisk"
    public static let rules = CarrierSessionRules(
        echoesMarksOnClear: false,
        supportedFormats: [.mulaw8kMono, .alaw8kMono, .l16LittleEndian(8000), .l16LittleEndian(16000)],
        startNamesWebhookCall: false)
    /// The only packetisation the bridge speaks: Asterisk drops the bytes of a message beyond its
    /// last whole frame, so 20 ms frames need a 20 ms `ptime`.
    public static let ptimeMs = 20

    public static func makeDecoder(maxMessageBytes: Int) -> AsteriskMediaStreamDecoder {
        AsteriskMediaStreamDecoder(maxMessageBytes: maxMessageBytes)
    }

    public static func makeEncoder(for start: StreamStart, decoder: AsteriskMediaStreamDecoder) -> AsteriskMediaStreamEncoder {
        AsteriskMediaStreamEncoder(controlFormat: decoder.controlFormat ?? .json)
    }

    /// How control messages are written on one connection.
    public enum ControlFormat: Sendable {
        case json
        case plainText
    }

    /// The format a `MEDIA_START` names. `slin*` is host order, little-endian on the servers
    /// Asterisk runs on.
    public static func format(named name: String) -> MediaFormat? {
        switch name {
        case "ulaw": .mulaw8kMono
        case "alaw": .alaw8kMono
        case "slin": MediaFormat(encoding: .l16(.littleEndian), sampleRate: 8000)
        case "slin16": MediaFormat(encoding: .l16(.littleEndian), sampleRate: 16000)
        default: nil
        }
    }

    /// The codec name for `c(…)` and `MEDIA_START.format`.
    public static func formatName(_ format: MediaFormat) -> String {
        switch (format.encoding, format.sampleRate) {
        case (.mulaw, _): "ulaw"
        case (.alaw, _): "alaw"
        case (.l16, 16000): "slin16"
        case (.l16, _): "slin"
        }
    }
}

/// What the bridge sends to Asterisk: audio as raw bytes in binary frames (whole 20 ms frames,
/// which the driver re-times at its `ptime`), `MARK_MEDIA` and `FLUSH_MEDIA` as text in the
/// connection's control format.
public struct AsteriskMediaStreamEncoder: CarrierOutboundEncoder, Sendable {
    public let controlFormat: AsteriskDialect.ControlFormat

    public init(controlFormat: AsteriskDialect.ControlFormat) {
        self.controlFormat = controlFormat
    }

    public var mediaFrameKind: CarrierFrameKind { .binary }

    public func writeMedia(_ payload: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) {
        buffer.writeBytes(payload)
    }

    /// `{"command":"MARK_MEDIA","correlation_id":"…"}` or `MARK_MEDIA …`. Asterisk ignores text
    /// messages over 128 bytes; the call's mark names are a few characters.
    public func writeMark(name: String, into buffer: inout ByteBuffer) {
        switch controlFormat {
        case .json:
            buffer.writeString(#"{"command":"MARK_MEDIA","correlation_id":"#)
            JSONWriting.writeQuoted(name, into: &buffer)
            buffer.writeString("}")
        case .plainText:
            buffer.writeString("MARK_MEDIA ")
            buffer.writeString(name)
        }
    }

    public func writeClear(into buffer: inout ByteBuffer) {
        switch controlFormat {
        case .json: buffer.writeString(#"{"command":"FLUSH_MEDIA"}"#)
        case .plainText: buffer.writeString("FLUSH_MEDIA")
        }
    }
}
