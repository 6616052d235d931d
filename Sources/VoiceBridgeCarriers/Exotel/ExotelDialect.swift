import NIOCore

/// Exotel's Voicebot (AgentStream) socket (carriers.md §5): Twilio's shape in snake_case
/// (`stream_sid`, `sequence_number`, `custom_parameters`), counters written as numbers on some of
/// Exotel's pages and as strings on others (both are read), no `track` on media, and base64
/// 16-bit little-endian PCM at 8 or 16 kHz (μ-law 8 kHz on the beta extension).
///
/// - What the bridge sends: `media`, `mark`, `clear`, each with `stream_sid`. A media message must
///   carry a multiple of 320 bytes and at least 3,200 (smaller ones distort): the call sends whole
///   multiples of its 20 ms frame reaching that (200 ms at 8 kHz, 100 ms at 16 kHz).
/// - Whether a `clear` echoes pending marks is undocumented, so the call settles them itself.
/// - Exotel connects straight to the URL in its Voicebot applet (no answer webhook); the URL's
///   Basic credentials (`wss://user:password@host/exotel/media`) admit it, and its query
///   parameters become flow variables.
public enum ExotelDialect: CarrierDialect {
    public static let name = "exotel"
    public static let rules = CarrierSessionRules(
        echoesMarksOnClear: false, supportedFormats: [.l16LittleEndian(8000), .l16LittleEndian(16000), .mulaw8kMono],
        startNamesWebhookCall: false, minimumMediaBytes: minimumMediaBytes)
    public static let minimumMediaBytes = 3200
    public static let maximumMediaBytes = 100_000

    public static func makeDecoder(maxMessageBytes: Int) -> ExotelMediaStreamDecoder {
        ExotelMediaStreamDecoder(maxMessageBytes: maxMessageBytes)
    }

    public static func makeEncoder(for start: StreamStart, decoder: ExotelMediaStreamDecoder) -> ExotelMediaStreamEncoder {
        ExotelMediaStreamEncoder(streamSid: start.streamID)
    }

    /// The format `media_format` names: `raw`/`audio/x-raw` (E1, E2) and `audio/l16` are L16,
    /// `audio/x-mulaw` is μ-law (the beta extension); nil for anything else.
    public static func format(encoding: String, sampleRate: Int) -> MediaFormat? {
        switch encoding.lowercased() {
        case "raw", "audio/x-raw", "audio/l16", "slin": MediaFormat(encoding: .l16(.littleEndian), sampleRate: sampleRate)
        case "audio/x-mulaw", "ulaw", "mulaw": MediaFormat(encoding: .mulaw, sampleRate: sampleRate)
        default: nil
        }
    }

    /// `media_format.encoding` as Exotel writes it for `format`.
    public static func encodingName(_ format: MediaFormat) -> String {
        format.encoding == .mulaw ? "audio/x-mulaw" : "audio/x-raw"
    }
}

/// Reads what Exotel sends into neutral events: `media` on the shared scanning path, the rest
/// (`connected`, `start`, `dtmf`, `mark`, `stop`) by dotted path.
public struct ExotelMediaStreamDecoder: CarrierInboundDecoder, Sendable {
    private var reader: JSONMediaMessageReader

    public init(maxMessageBytes: Int = TwilioMediaStreamDecoder.defaultMaxMessageBytes) {
        reader = JSONMediaMessageReader(
            sequenceKey: "sequence_number", streamKey: "stream_sid", streamRequired: false, counters: .either, trackRequired: false,
            maxMessageBytes: maxMessageBytes)
    }

    public mutating func decode(_ frame: CarrierFrame) throws(CarrierProtocolError) -> CarrierEvent? {
        guard case .text(let text) = frame else { throw .binaryFrame }
        switch try reader.read(text) {
        case .media(let media):
            return .media(media)
        case .other(let name):
            let message = try text.withReadableJSON { raw throws(CarrierProtocolError) in try JSONFields(json: raw, kindKey: "event") }
            return try interpret(name, message)
        }
    }

    private mutating func interpret(_ name: String, _ message: JSONFields) throws(CarrierProtocolError) -> CarrierEvent? {
        let sequence = try message.counter("sequence_number") ?? 0
        if name != "start", name != "connected", let expected = reader.expectedStream, let named = try message.string("stream_sid"), named != expected {
            throw .wrongStreamSid(expected: expected, got: named)
        }
        switch name {
        case "connected":
            return .connected(protocolName: "", version: "")
        case "start":
            guard reader.expectedStream == nil else { throw .invalidValue(field: "event", reason: "a second start") }
            var stream = try message.string("start.stream_sid")
            if stream == nil { stream = try message.string("stream_sid") }
            guard let stream else { throw .missingField("start.stream_sid") }
            let callID = try message.requiredString("start.call_sid")
            let encoding = try message.requiredString("start.media_format.encoding")
            guard let rate = try message.counter("start.media_format.sample_rate") else { throw .missingField("start.media_format.sample_rate") }
            guard let format = ExotelDialect.format(encoding: encoding, sampleRate: rate) else {
                throw .unsupportedFormat("start.media_format.encoding \"\(encoding)\"")
            }
            var parameters = message.object("start.custom_parameters")
            if let from = try message.string("start.from") { parameters["From"] = from }
            if let to = try message.string("start.to") { parameters["To"] = to }
            reader.expectedStream = stream
            return .start(StreamStart(
                sequenceNumber: sequence, streamID: stream, accountID: try message.string("start.account_sid") ?? "", callID: callID,
                tracks: ["inbound"], customParameters: parameters, mediaFormat: format))
        case "dtmf":
            let digit = try CarrierMessageDecoding.dtmfDigit(try message.requiredString("dtmf.digit"), allowed: .telephone)
            return .dtmf(DTMFPress(sequenceNumber: sequence, track: "inbound", digit: digit))
        case "mark":
            return .mark(MarkEcho(sequenceNumber: sequence, name: try message.requiredString("mark.name")))
        case "stop":
            return .stop(StreamStop(
                sequenceNumber: sequence, accountID: try message.string("stop.account_sid") ?? "", callID: try message.string("stop.call_sid") ?? ""))
        default:
            return .notice(CarrierNotice(kind: "unknown_event", detail: "event \"\(name)\""))
        }
    }
}

/// What the bridge sends Exotel, exactly as documented (§5.3), `stream_sid` on each.
public struct ExotelMediaStreamEncoder: CarrierOutboundEncoder, Sendable {
    private let mediaPrefix: [UInt8]
    private let markPrefix: [UInt8]
    private let clearMessage: [UInt8]
    private static let mediaSuffix = Array("\"}}".utf8)

    public init(streamSid: String) {
        let quoted = JSONWriting.quoted(streamSid)
        mediaPrefix = Array((#"{"event":"media","stream_sid":"# + quoted + #","media":{"payload":""#).utf8)
        markPrefix = Array((#"{"event":"mark","stream_sid":"# + quoted + #","mark":{"name":"#).utf8)
        clearMessage = Array((#"{"event":"clear","stream_sid":"# + quoted + "}").utf8)
    }

    public var mediaFrameKind: CarrierFrameKind { .text }

    public func writeMedia(_ payload: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) {
        buffer.reserveCapacity(minimumWritableBytes: mediaPrefix.count + Base64Fast.encodedLength(payload.count) + Self.mediaSuffix.count)
        buffer.writeBytes(mediaPrefix)
        Base64Fast.encode(payload, into: &buffer)
        buffer.writeBytes(Self.mediaSuffix)
    }

    public func writeMark(name: String, into buffer: inout ByteBuffer) {
        buffer.writeBytes(markPrefix)
        JSONWriting.writeQuoted(name, into: &buffer)
        buffer.writeString("}}")
    }

    public func writeClear(into buffer: inout ByteBuffer) {
        buffer.writeBytes(clearMessage)
    }
}
