import NIOCore

/// The hot path shared by the JSON dialects whose `media` messages look alike (Twilio, Telnyx,
/// SignalWire, Plivo):
/// `{"event":"media", <sequence>, <stream id>, "media":{"track","chunk","timestamp","payload"}}`
/// with only the spelling of the top-level keys differing. `media` arrives 50 times a second per
/// call, so it is read by scanning bytes: no JSON tree, and the decoded audio goes into a buffer
/// this reader owns and reuses. Other events are named and left to the dialect's `Codable` path.
///
/// Unknown members are ignored (carriers add fields), but every field read is checked for
/// presence and exact JSON type, and counters must be strings of decimal digits.
struct JSONMediaMessageReader: Sendable {
    enum Message {
        case media(InboundMedia)
        /// Any other event, by name, for the dialect to decode.
        case other(String)
    }

    let sequenceKey: StaticString
    let streamKey: StaticString
    /// Twilio and Telnyx put the stream id on every media message; SignalWire leaves it out.
    let streamRequired: Bool
    /// How `sequenceNumber` and `media.chunk` are spelled; `media.timestamp` is a string except
    /// where counters may be either (Exotel).
    let counters: JSONScanner.CounterSpelling
    /// Exotel's media has no `track`: it is the caller's.
    let trackRequired: Bool
    var maxMessageBytes: Int

    /// Once set, media naming another stream is refused with `.wrongStreamSid`.
    var expectedStream: String? {
        didSet { expectedStreamBytes = Array(expectedStream?.utf8 ?? "".utf8) }
    }

    private var expectedStreamBytes: [UInt8] = []
    private var payload: ByteBuffer
    /// Holds an escaped payload (`\/`) after unescaping; kept so that path doesn't allocate either.
    private var scratch: [UInt8] = []

    init(
        sequenceKey: StaticString, streamKey: StaticString, streamRequired: Bool = true,
        counters: JSONScanner.CounterSpelling = .string, trackRequired: Bool = true, maxMessageBytes: Int
    ) {
        self.trackRequired = trackRequired
        self.sequenceKey = sequenceKey
        self.streamKey = streamKey
        self.streamRequired = streamRequired
        self.counters = counters
        self.maxMessageBytes = maxMessageBytes
        self.payload = ByteBufferAllocator().buffer(capacity: 320)
        self.scratch.reserveCapacity(512)
    }

    mutating func read(_ text: ByteBuffer) throws(CarrierProtocolError) -> Message {
        try text.withReadableJSON(limit: maxMessageBytes) { raw throws(CarrierProtocolError) in try self.read(bytes: raw) }
    }

    private mutating func read(bytes raw: UnsafeRawBufferPointer) throws(CarrierProtocolError) -> Message {
        var scanner = JSONScanner(raw)
        try scanner.beginObject()
        var event: JSONStringSpan?
        var sequenceNumber: JSONValueSpan?
        var stream: JSONStringSpan?
        var media: JSONValueSpan?
        var mediaFields = MediaFields()
        var isFirst = true
        while let key = try scanner.nextKey(isFirst: &isFirst) {
            if scanner.content(key, equals: "media") {
                guard media == nil else { throw .duplicateField("media") }
                scanner.skipWhitespace()
                if scanner.position < raw.count, raw[scanner.position] == UInt8(ascii: "{") {
                    // Read the members in this same pass so the payload is scanned only once.
                    media = .object(start: scanner.position)
                    mediaFields = try MediaFields(scanning: &scanner)
                } else {
                    media = try scanner.scanValue(depth: 1)
                }
                continue
            }
            let value = try scanner.scanValue(depth: 1)
            if scanner.content(key, equals: "event") {
                guard event == nil else { throw .duplicateField("event") }
                guard case .string(let span) = value else { throw .wrongType(field: "event", expected: "string") }
                event = span
            } else if scanner.content(key, equals: sequenceKey) {
                guard sequenceNumber == nil else { throw .duplicateField("\(sequenceKey)") }
                sequenceNumber = value
            } else if scanner.content(key, equals: streamKey) {
                guard stream == nil else { throw .duplicateField("\(streamKey)") }
                guard case .string(let span) = value else { throw .wrongType(field: "\(streamKey)", expected: "string") }
                stream = span
            }
        }
        try scanner.expectEnd()

        guard let event else { throw .missingField("event") }
        if scanner.content(event, equals: "media") {
            return .media(try decodeMedia(scanner, sequenceNumber: sequenceNumber, stream: stream, media: media, fields: mediaFields))
        }
        return .other(try scanner.string(event, field: "event"))
    }

    /// The members of a `media` object, located but not yet interpreted.
    private struct MediaFields {
        var track: JSONValueSpan?
        var chunk: JSONValueSpan?
        var timestamp: JSONValueSpan?
        var payload: JSONValueSpan?

        init() {}

        init(scanning scanner: inout JSONScanner) throws(CarrierProtocolError) {
            try scanner.beginObject()
            var isFirst = true
            while let key = try scanner.nextKey(isFirst: &isFirst) {
                let value = try scanner.scanValue(depth: 2)
                if scanner.content(key, equals: "payload") {
                    guard payload == nil else { throw .duplicateField("media.payload") }
                    payload = value
                } else if scanner.content(key, equals: "track") {
                    guard track == nil else { throw .duplicateField("media.track") }
                    track = value
                } else if scanner.content(key, equals: "chunk") {
                    guard chunk == nil else { throw .duplicateField("media.chunk") }
                    chunk = value
                } else if scanner.content(key, equals: "timestamp") {
                    guard timestamp == nil else { throw .duplicateField("media.timestamp") }
                    timestamp = value
                }
            }
        }
    }

    private mutating func decodeMedia(
        _ scanner: JSONScanner,
        sequenceNumber: JSONValueSpan?,
        stream: JSONStringSpan?,
        media: JSONValueSpan?,
        fields: MediaFields
    ) throws(CarrierProtocolError) -> InboundMedia {
        guard let sequenceNumber else { throw .missingField("\(sequenceKey)") }
        let sequence = try scanner.counter(sequenceNumber, spelling: counters, field: "\(sequenceKey)")
        if stream == nil, streamRequired { throw .missingField("\(streamKey)") }
        if let stream, let expectedStream {
            let matches = expectedStreamBytes.withUnsafeBytes { scanner.content(stream, equals: $0) }
            guard matches else { throw .wrongStreamSid(expected: expectedStream, got: scanner.lossyString(stream)) }
        }
        guard let media else { throw .missingField("media") }
        guard case .object = media else { throw .wrongType(field: "media", expected: "object") }

        let mediaTrack: MediaTrack
        if fields.track == nil, !trackRequired {
            mediaTrack = .inbound
        } else if let track = fields.track, case .string(let trackSpan) = track, scanner.content(trackSpan, equals: "inbound") {
            mediaTrack = .inbound
        } else if let track = fields.track, case .string(let trackSpan) = track, scanner.content(trackSpan, equals: "outbound") {
            mediaTrack = .outbound
        } else {
            guard let track = fields.track else { throw .missingField("media.track") }
            guard case .string(let trackSpan) = track else { throw .wrongType(field: "media.track", expected: "string") }
            throw .invalidValue(
                field: "media.track",
                reason: "expected \"inbound\" or \"outbound\", got \"\(scanner.lossyString(trackSpan))\""
            )
        }
        guard let chunk = fields.chunk else { throw .missingField("media.chunk") }
        let chunkNumber = try scanner.counter(chunk, spelling: counters, field: "media.chunk")
        guard let timestamp = fields.timestamp else { throw .missingField("media.timestamp") }
        let timestampMs = try scanner.counter(timestamp, spelling: counters == .either ? .either : .string, field: "media.timestamp")
        guard let payloadValue = fields.payload else { throw .missingField("media.payload") }
        guard case .string(let payloadSpan) = payloadValue else {
            throw .wrongType(field: "media.payload", expected: "string")
        }
        try Self.decodePayload(payloadSpan, in: scanner, scratch: &scratch, into: &payload)
        return InboundMedia(
            sequenceNumber: sequence,
            track: mediaTrack,
            chunk: chunkNumber,
            timestampMs: timestampMs,
            payload: payload
        )
    }

    /// Replaces `output`'s content with the decoded payload. Shared with the carrier-side decoders.
    static func decodePayload(
        _ span: JSONStringSpan,
        in scanner: JSONScanner,
        scratch: inout [UInt8],
        into output: inout ByteBuffer
    ) throws(CarrierProtocolError) {
        output.clear()
        let valid: Bool
        if span.hasEscapes {
            // Some JSON writers escape '/' as "\/"; base64 uses '/', so unescape first.
            scratch.removeAll(keepingCapacity: true)
            try scanner.unescape(span, into: &scratch)
            valid = scratch.withUnsafeBytes { Base64Fast.decode($0, into: &output) }
        } else {
            valid = Base64Fast.decode(scanner.rawContent(span), into: &output)
        }
        guard valid else {
            output.clear()
            throw .invalidBase64
        }
    }
}
