import NIOCore

/// Decodes the JSON text frames Twilio sends on a Media Streams socket into `CarrierEvent`s.
///
/// `media` arrives 50 times a second per call, so it is read by scanning bytes: no JSON tree,
/// no `JSONDecoder`, and the decoded audio goes into a buffer this decoder owns and reuses.
/// The once-per-call events (`connected`, `start`, `dtmf`, `mark`, `stop`) go through `Codable`.
///
/// Unknown members are ignored (Twilio may add fields), but every documented field is checked
/// for presence and exact JSON type, and counters must be strings of decimal digits.
public struct TwilioMediaStreamDecoder: Sendable {
    public static let defaultMaxMessageBytes = 64 * 1024

    /// Frames above this size are refused before they are parsed.
    public var maxMessageBytes: Int

    /// Once set, `media`, `dtmf`, `mark`, `stop` (and a repeated `start`) naming another stream
    /// are refused with `.wrongStreamSid`. A successful `start` sets it if it is still nil.
    public var expectedStreamSid: String? {
        didSet { expectedStreamSidBytes = Array(expectedStreamSid?.utf8 ?? "".utf8) }
    }

    private var expectedStreamSidBytes: [UInt8] = []
    private var payload: ByteBuffer
    /// Holds an escaped payload (`\/`) after unescaping; kept so that path doesn't allocate either.
    private var scratch: [UInt8] = []

    public init(maxMessageBytes: Int = TwilioMediaStreamDecoder.defaultMaxMessageBytes) {
        self.maxMessageBytes = maxMessageBytes
        self.payload = ByteBufferAllocator().buffer(capacity: 320)
        self.scratch.reserveCapacity(512)
    }

    public mutating func decode(_ text: ByteBuffer) throws(CarrierProtocolError) -> CarrierEvent {
        guard text.readableBytes <= maxMessageBytes else {
            throw .messageTooLarge(size: text.readableBytes, limit: maxMessageBytes)
        }
        let result = text.withUnsafeReadableBytes { raw -> Result<CarrierEvent, CarrierProtocolError> in
            do throws(CarrierProtocolError) {
                return .success(try self.decode(bytes: raw))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private mutating func decode(bytes raw: UnsafeRawBufferPointer) throws(CarrierProtocolError) -> CarrierEvent {
        var scanner = JSONScanner(raw)
        try scanner.beginObject()
        var event: JSONStringSpan?
        var sequenceNumber: JSONValueSpan?
        var streamSid: JSONStringSpan?
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
            } else if scanner.content(key, equals: "sequenceNumber") {
                guard sequenceNumber == nil else { throw .duplicateField("sequenceNumber") }
                sequenceNumber = value
            } else if scanner.content(key, equals: "streamSid") {
                guard streamSid == nil else { throw .duplicateField("streamSid") }
                guard case .string(let span) = value else { throw .wrongType(field: "streamSid", expected: "string") }
                streamSid = span
            }
        }
        try scanner.expectEnd()

        guard let event else { throw .missingField("event") }
        if scanner.content(event, equals: "media") {
            return .media(
                try decodeMedia(scanner, sequenceNumber: sequenceNumber, streamSid: streamSid, media: media, fields: mediaFields)
            )
        }
        let name = try scanner.string(event, field: "event")
        return try decodeRareEvent(name, json: raw)
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
        streamSid: JSONStringSpan?,
        media: JSONValueSpan?,
        fields: MediaFields
    ) throws(CarrierProtocolError) -> InboundMedia {
        guard let sequenceNumber else { throw .missingField("sequenceNumber") }
        let sequence = try scanner.counter(sequenceNumber, field: "sequenceNumber")
        guard let streamSid else { throw .missingField("streamSid") }
        try checkStreamSid(streamSid, in: scanner)
        guard let media else { throw .missingField("media") }
        guard case .object = media else { throw .wrongType(field: "media", expected: "object") }

        guard let track = fields.track else { throw .missingField("media.track") }
        guard case .string(let trackSpan) = track else { throw .wrongType(field: "media.track", expected: "string") }
        let mediaTrack: MediaTrack
        if scanner.content(trackSpan, equals: "inbound") {
            mediaTrack = .inbound
        } else if scanner.content(trackSpan, equals: "outbound") {
            mediaTrack = .outbound
        } else {
            throw .invalidValue(
                field: "media.track",
                reason: "expected \"inbound\" or \"outbound\", got \"\(scanner.lossyString(trackSpan))\""
            )
        }
        guard let chunk = fields.chunk else { throw .missingField("media.chunk") }
        let chunkNumber = try scanner.counter(chunk, field: "media.chunk")
        guard let timestamp = fields.timestamp else { throw .missingField("media.timestamp") }
        let timestampMs = try scanner.counter(timestamp, field: "media.timestamp")
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

    /// Replaces `output`'s content with the decoded payload. Shared with the carrier-side decoder.
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

    private func checkStreamSid(_ span: JSONStringSpan, in scanner: JSONScanner) throws(CarrierProtocolError) {
        guard let expected = expectedStreamSid else { return }
        let matches = expectedStreamSidBytes.withUnsafeBytes { scanner.content(span, equals: $0) }
        guard matches else { throw .wrongStreamSid(expected: expected, got: scanner.lossyString(span)) }
    }

    private func checkStreamSid(_ got: String) throws(CarrierProtocolError) {
        guard let expected = expectedStreamSid else { return }
        guard got == expected else { throw .wrongStreamSid(expected: expected, got: got) }
    }

    private mutating func decodeRareEvent(_ name: String, json: UnsafeRawBufferPointer) throws(CarrierProtocolError) -> CarrierEvent {
        switch name {
        case "connected":
            let message = try TwilioInboundMessages.decode(TwilioInboundMessages.Connected.self, from: json)
            return .connected(protocolName: message.protocol, version: message.version)

        case "start":
            let message = try TwilioInboundMessages.decode(TwilioInboundMessages.Start.self, from: json)
            let sequence = try TwilioInboundMessages.counter(message.sequenceNumber, field: "sequenceNumber")
            guard message.streamSid == message.start.streamSid else {
                throw .wrongStreamSid(expected: message.start.streamSid, got: message.streamSid)
            }
            try checkStreamSid(message.streamSid)
            let format = message.start.mediaFormat
            guard let mediaFormat = TwilioDialect.format(encoding: format.encoding, sampleRate: format.sampleRate, channels: format.channels) else {
                throw .unsupportedFormat("start.mediaFormat.encoding \"\(format.encoding)\"")
            }
            let start = StreamStart(
                sequenceNumber: sequence,
                streamID: message.start.streamSid,
                accountID: message.start.accountSid,
                callID: message.start.callSid,
                tracks: message.start.tracks,
                customParameters: message.start.customParameters ?? [:],
                mediaFormat: mediaFormat
            )
            if expectedStreamSid == nil {
                expectedStreamSid = start.streamID
            }
            return .start(start)

        case "dtmf":
            let message = try TwilioInboundMessages.decode(TwilioInboundMessages.DTMF.self, from: json)
            let sequence = try TwilioInboundMessages.counter(message.sequenceNumber, field: "sequenceNumber")
            try checkStreamSid(message.streamSid)
            let digits = message.dtmf.digit
            guard digits.count == 1, let digit = digits.first, "0123456789*#".contains(digit) else {
                throw .invalidValue(field: "dtmf.digit", reason: "expected one of 0-9, * or #, got \"\(digits)\"")
            }
            return .dtmf(DTMFPress(sequenceNumber: sequence, track: message.dtmf.track, digit: digit))

        case "mark":
            let message = try TwilioInboundMessages.decode(TwilioInboundMessages.Mark.self, from: json)
            let sequence = try TwilioInboundMessages.counter(message.sequenceNumber, field: "sequenceNumber")
            try checkStreamSid(message.streamSid)
            return .mark(MarkEcho(sequenceNumber: sequence, name: message.mark.name))

        case "stop":
            let message = try TwilioInboundMessages.decode(TwilioInboundMessages.Stop.self, from: json)
            let sequence = try TwilioInboundMessages.counter(message.sequenceNumber, field: "sequenceNumber")
            try checkStreamSid(message.streamSid)
            return .stop(StreamStop(sequenceNumber: sequence, accountID: message.stop.accountSid, callID: message.stop.callSid))

        default:
            throw .unknownEvent(name)
        }
    }
}
