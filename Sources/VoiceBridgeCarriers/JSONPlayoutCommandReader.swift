import NIOCore

/// Reads the playout commands a server sends on a JSON dialect (`media`, `mark`, `clear`) as
/// strictly as the carrier judges them: an unknown event, a missing or extra field or a wrong
/// JSON type is an error (Twilio's 31951). Dialects differ only in the stream binding: Twilio
/// requires its `streamSid` on every message, Telnyx allows none. The phone simulator and test
/// peers use it to catch protocol mistakes that a lenient reader would let through.
///
/// Decoded media goes into a buffer this reader owns and reuses, as on the server side.
struct JSONPlayoutCommandReader: Sendable {
    /// The key that must carry the stream id, with its expected value; nil: no such key allowed.
    let streamBinding: (key: StaticString, value: String)?
    var maxMessageBytes: Int

    private let streamBytes: [UInt8]
    private var payload: ByteBuffer
    private var scratch: [UInt8] = []

    init(streamBinding: (key: StaticString, value: String)?, maxMessageBytes: Int) {
        self.streamBinding = streamBinding
        self.maxMessageBytes = maxMessageBytes
        self.streamBytes = Array(streamBinding?.value.utf8 ?? "".utf8)
        self.payload = ByteBufferAllocator().buffer(capacity: 1024)
    }

    mutating func decode(_ text: ByteBuffer) throws(CarrierProtocolError) -> PlayoutCommand {
        try text.withReadableJSON(limit: maxMessageBytes) { raw throws(CarrierProtocolError) in try self.decode(bytes: raw) }
    }

    private mutating func decode(bytes raw: UnsafeRawBufferPointer) throws(CarrierProtocolError) -> PlayoutCommand {
        var scanner = JSONScanner(raw)
        try scanner.beginObject()
        var event: JSONStringSpan?
        var stream: JSONStringSpan?
        var media: JSONValueSpan?
        var mark: JSONValueSpan?
        var isFirst = true
        while let key = try scanner.nextKey(isFirst: &isFirst) {
            let value = try scanner.scanValue(depth: 1)
            if scanner.content(key, equals: "event") {
                guard event == nil else { throw .duplicateField("event") }
                guard case .string(let span) = value else { throw .wrongType(field: "event", expected: "string") }
                event = span
            } else if let binding = streamBinding, scanner.content(key, equals: binding.key) {
                guard stream == nil else { throw .duplicateField("\(binding.key)") }
                guard case .string(let span) = value else { throw .wrongType(field: "\(binding.key)", expected: "string") }
                stream = span
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
        if let binding = streamBinding {
            guard let stream else { throw .missingField("\(binding.key)") }
            let matches = streamBytes.withUnsafeBytes { scanner.content(stream, equals: $0) }
            guard matches else { throw .wrongStreamSid(expected: binding.value, got: scanner.lossyString(stream)) }
        }

        switch kind {
        case .media:
            if mark != nil { throw .unexpectedField("mark") }
            let payloadSpan = try scanner.onlyStringMember(named: "payload", of: media, object: "media")
            try JSONMediaMessageReader.decodePayload(payloadSpan, in: scanner, scratch: &scratch, into: &payload)
            // Sending no audio is never intended; flag it instead of silently accepting it.
            guard payload.readableBytes > 0 else {
                throw .invalidValue(field: "media.payload", reason: "empty payload")
            }
            return .media(payload)
        case .mark:
            if media != nil { throw .unexpectedField("media") }
            let nameSpan = try scanner.onlyStringMember(named: "name", of: mark, object: "mark")
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
}

extension JSONScanner {
    /// Reads an object that must contain exactly one member, a string named `member`.
    func onlyStringMember(
        named member: StaticString,
        of value: JSONValueSpan?,
        object: String
    ) throws(CarrierProtocolError) -> JSONStringSpan {
        // Built only on the error paths: this runs for every outbound media frame.
        func field() -> String { "\(object).\(member)" }
        guard let value else { throw .missingField(object) }
        guard case .object(let start) = value else { throw .wrongType(field: object, expected: "object") }
        var inner = JSONScanner(bytes, position: start)
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
