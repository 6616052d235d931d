import NIOCore

/// Decodes what a server sends to Twilio (`media`, `mark`, `clear`) as strictly as Twilio
/// judges it: an unknown event, a missing or extra field, a wrong JSON type or another
/// stream's `streamSid` is an error (Twilio's 31951). The phone simulator and the test peer
/// use it to catch protocol mistakes that a lenient reader would let through.
///
/// Decoded media goes into a buffer this decoder owns and reuses, as on the server side.
public struct TwilioCarrierDecoder: Sendable {
    public let streamSid: String
    public var maxMessageBytes: Int

    private let streamSidBytes: [UInt8]
    private var payload: ByteBuffer
    private var scratch: [UInt8] = []

    public init(streamSid: String, maxMessageBytes: Int = TwilioMediaStreamDecoder.defaultMaxMessageBytes) {
        self.streamSid = streamSid
        self.maxMessageBytes = maxMessageBytes
        self.streamSidBytes = Array(streamSid.utf8)
        self.payload = ByteBufferAllocator().buffer(capacity: 1024)
    }

    public mutating func decode(_ text: ByteBuffer) throws(CarrierProtocolError) -> PlayoutCommand {
        guard text.readableBytes <= maxMessageBytes else {
            throw .messageTooLarge(size: text.readableBytes, limit: maxMessageBytes)
        }
        let result = text.withUnsafeReadableBytes { raw -> Result<PlayoutCommand, CarrierProtocolError> in
            do throws(CarrierProtocolError) {
                return .success(try self.decode(bytes: raw))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private mutating func decode(bytes raw: UnsafeRawBufferPointer) throws(CarrierProtocolError) -> PlayoutCommand {
        var scanner = JSONScanner(raw)
        try scanner.beginObject()
        var event: JSONStringSpan?
        var sid: JSONStringSpan?
        var media: JSONValueSpan?
        var mark: JSONValueSpan?
        var isFirst = true
        while let key = try scanner.nextKey(isFirst: &isFirst) {
            let value = try scanner.scanValue(depth: 1)
            if scanner.content(key, equals: "event") {
                guard event == nil else { throw .duplicateField("event") }
                guard case .string(let span) = value else { throw .wrongType(field: "event", expected: "string") }
                event = span
            } else if scanner.content(key, equals: "streamSid") {
                guard sid == nil else { throw .duplicateField("streamSid") }
                guard case .string(let span) = value else { throw .wrongType(field: "streamSid", expected: "string") }
                sid = span
            } else if scanner.content(key, equals: "media") {
                guard media == nil else { throw .duplicateField("media") }
                media = value
            } else if scanner.content(key, equals: "mark") {
                guard mark == nil else { throw .duplicateField("mark") }
                mark = value
            } else {
                throw .unexpectedField(scanner.lossyString(key))
            }
        }
        try scanner.expectEnd()

        guard let event else { throw .missingField("event") }
        let kind: Kind
        if scanner.content(event, equals: "media") {
            kind = .media
        } else if scanner.content(event, equals: "mark") {
            kind = .mark
        } else if scanner.content(event, equals: "clear") {
            kind = .clear
        } else {
            throw .unknownEvent(scanner.lossyString(event))
        }
        guard let sid else { throw .missingField("streamSid") }
        let sidMatches = streamSidBytes.withUnsafeBytes { scanner.content(sid, equals: $0) }
        guard sidMatches else { throw .wrongStreamSid(expected: streamSid, got: scanner.lossyString(sid)) }

        switch kind {
        case .media:
            if mark != nil { throw .unexpectedField("mark") }
            let payloadSpan = try Self.onlyStringMember(named: "payload", of: media, object: "media", scanner: scanner)
            try TwilioMediaStreamDecoder.decodePayload(payloadSpan, in: scanner, scratch: &scratch, into: &payload)
            // Sending no audio is never intended; flag it instead of silently accepting it.
            guard payload.readableBytes > 0 else {
                throw .invalidValue(field: "media.payload", reason: "empty payload")
            }
            return .media(payload)
        case .mark:
            if media != nil { throw .unexpectedField("media") }
            let nameSpan = try Self.onlyStringMember(named: "name", of: mark, object: "mark", scanner: scanner)
            return .mark(name: try scanner.string(nameSpan, field: "mark.name"))
        case .clear:
            if media != nil { throw .unexpectedField("media") }
            if mark != nil { throw .unexpectedField("mark") }
            return .clear
        }
    }

    private enum Kind {
        case media, mark, clear
    }

    /// Reads an object that must contain exactly one member, a string named `member`.
    private static func onlyStringMember(
        named member: StaticString,
        of value: JSONValueSpan?,
        object: String,
        scanner: JSONScanner
    ) throws(CarrierProtocolError) -> JSONStringSpan {
        // Built only on the error paths: this runs for every outbound media frame.
        func field() -> String { "\(object).\(member)" }
        guard let value else { throw .missingField(object) }
        guard case .object(let start) = value else { throw .wrongType(field: object, expected: "object") }
        var inner = JSONScanner(scanner.bytes, position: start)
        try inner.beginObject()
        var found: JSONStringSpan?
        var isFirst = true
        while let key = try inner.nextKey(isFirst: &isFirst) {
            let memberValue = try inner.scanValue(depth: 2)
            guard inner.content(key, equals: member) else {
                throw .unexpectedField("\(object).\(inner.lossyString(key))")
            }
            guard found == nil else { throw .duplicateField(field()) }
            guard case .string(let span) = memberValue else { throw .wrongType(field: field(), expected: "string") }
            found = span
        }
        guard let found else { throw .missingField(field()) }
        return found
    }
}
