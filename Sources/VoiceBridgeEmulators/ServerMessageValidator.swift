/// Strictly checks what a server sends on a Twilio socket (twilio-media-streams.md §2): exactly
/// `{"event":"media","streamSid":…,"media":{"payload":…}}`, `{"event":"mark","streamSid":…,"mark":{"name":…}}`
/// or `{"event":"clear","streamSid":…}`, in any key order. Anything else is what Twilio reports as
/// 31951: non-JSON, an unknown event, a missing or extra field, a wrong type, a wrong `streamSid`.
///
/// Reads the bytes in place; the media payload is decoded into ``payload``, reused across messages.
public struct ServerMessageValidator: Sendable {
    public enum Message: Sendable, Equatable {
        /// Audio; the decoded bytes are in ``ServerMessageValidator/payload``.
        case media
        case mark(name: String)
        case clear
    }

    public let streamSid: String
    private let streamSidBytes: [UInt8]
    /// The decoded payload of the last `media` message.
    public private(set) var payload: [UInt8] = []

    public init(streamSid: String) {
        self.streamSid = streamSid
        self.streamSidBytes = Array(streamSid.utf8)
        payload.reserveCapacity(8000)
    }

    /// Validates one text message. Throws ``ServerMessageViolation`` with a reason if it breaks the protocol.
    public mutating func validate(_ bytes: UnsafeRawBufferPointer) throws(ServerMessageViolation) -> Message {
        var reader = StrictJSONReader(bytes)
        var event: Range<Int>?
        var sid: Range<Int>?
        var sidEscaped = false
        var payloadRange: Range<Int>?
        var payloadEscaped = false
        var markName: String?
        var sawMedia = false, sawMark = false

        try reader.readObject { reader, key throws(ServerMessageViolation) in
            switch key {
            case "event":
                guard event == nil else { throw .duplicateField("event") }
                let s = try reader.readString(field: "event")
                guard !s.escaped else { throw .invalid("field 'event' has an unexpected escape") }
                event = s.range
            case "streamSid":
                guard sid == nil else { throw .duplicateField("streamSid") }
                let s = try reader.readString(field: "streamSid")
                sid = s.range
                sidEscaped = s.escaped
            case "media":
                guard !sawMedia else { throw .duplicateField("media") }
                sawMedia = true
                try reader.expectObject(field: "media")
                try reader.readObject { reader, key throws(ServerMessageViolation) in
                    guard key == "payload" else { throw .extraField("media.\(key)") }
                    guard payloadRange == nil else { throw .duplicateField("media.payload") }
                    let s = try reader.readString(field: "media.payload")
                    payloadRange = s.range
                    payloadEscaped = s.escaped
                }
                guard payloadRange != nil else { throw .missingField("media.payload") }
            case "mark":
                guard !sawMark else { throw .duplicateField("mark") }
                sawMark = true
                try reader.expectObject(field: "mark")
                try reader.readObject { reader, key throws(ServerMessageViolation) in
                    guard key == "name" else { throw .extraField("mark.\(key)") }
                    guard markName == nil else { throw .duplicateField("mark.name") }
                    let s = try reader.readString(field: "mark.name")
                    markName = try reader.decodedString(s)
                }
                guard markName != nil else { throw .missingField("mark.name") }
            default:
                throw .extraField(key)
            }
        }
        try reader.expectEnd()

        guard let event else { throw .missingField("event") }
        let eventName = String(decoding: bytes[event], as: UTF8.self)
        guard let sid else { throw .missingField("streamSid") }
        let sidMatches =
            sidEscaped
            ? (try? reader.decodedString((sid, true))) == streamSid
            : bytes[sid].elementsEqual(streamSidBytes)
        switch eventName {
        case "media":
            if sawMark { throw .extraField("mark") }
            guard sawMedia, let payloadRange else { throw .missingField("media") }
            guard sidMatches else { throw .wrongStreamSid }
            let ok: Bool
            if payloadEscaped {
                let text = Array(try reader.decodedString((payloadRange, true)).utf8)
                ok = text.withUnsafeBytes { Base64.decode($0, into: &payload) }
            } else {
                ok = Base64.decode(UnsafeRawBufferPointer(rebasing: bytes[payloadRange]), into: &payload)
            }
            guard ok else { throw .invalid("media.payload is not valid base64") }
            return .media
        case "mark":
            if sawMedia { throw .extraField("media") }
            guard sawMark, let markName else { throw .missingField("mark") }
            guard sidMatches else { throw .wrongStreamSid }
            return .mark(name: markName)
        case "clear":
            if sawMedia { throw .extraField("media") }
            if sawMark { throw .extraField("mark") }
            guard sidMatches else { throw .wrongStreamSid }
            return .clear
        default:
            throw .unknownEvent(eventName)
        }
    }
}

public enum ServerMessageViolation: Error, Equatable, Sendable, CustomStringConvertible {
    case invalid(String)
    case extraField(String)
    case missingField(String)
    case duplicateField(String)
    case wrongType(String)
    case unknownEvent(String)
    case wrongStreamSid
    case binaryFrame
    case payloadSize(Int)

    public var description: String {
        switch self {
        case .invalid(let why): "invalid message: \(why)"
        case .extraField(let name): "extra field '\(name)'"
        case .missingField(let name): "missing field '\(name)'"
        case .duplicateField(let name): "duplicate field '\(name)'"
        case .wrongType(let name): "field '\(name)' has the wrong type"
        case .unknownEvent(let name): "unknown event '\(name)'"
        case .wrongStreamSid: "wrong streamSid"
        case .binaryFrame: "binary frame (Twilio 31950)"
        case .payloadSize(let n): "media payload is \(n) bytes, not 160"
        }
    }
}

/// Just enough of a strict JSON reader for the three server messages: objects and strings, with
/// RFC 8259 whitespace and escapes. Anything else where a field is expected is a type error.
struct StrictJSONReader {
    let bytes: UnsafeRawBufferPointer
    var index = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    mutating func expectObject(field: String) throws(ServerMessageViolation) {
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { throw .wrongType(field) }
    }

    /// Reads `{ "key": value, … }`, calling `body` with each key; `body` must consume the value.
    mutating func readObject(
        _ body: (inout StrictJSONReader, String) throws(ServerMessageViolation) -> Void
    ) throws(ServerMessageViolation) {
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { throw .invalid("expected an object") }
        index += 1
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw .invalid("expected a key") }
            let key = try decodedString(readString(field: "key"))
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw .invalid("expected ':'") }
            index += 1
            try body(&self, key)
            skipSpace()
            guard index < bytes.count else { throw .invalid("unterminated object") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else { throw .invalid("expected ',' or '}'") }
            index += 1
            return
        }
    }

    /// Reads a string value; returns the range between the quotes and whether it holds escapes.
    mutating func readString(field: String) throws(ServerMessageViolation) -> (range: Range<Int>, escaped: Bool) {
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw .wrongType(field) }
        index += 1
        let start = index
        var escaped = false
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let range = start..<index
                index += 1
                return (range, escaped)
            }
            if byte == UInt8(ascii: "\\") {
                escaped = true
                index += 2
                continue
            }
            guard byte >= 0x20 else { throw .invalid("control character in a string") }
            index += 1
        }
        throw .invalid("unterminated string")
    }

    func decodedString(_ s: (range: Range<Int>, escaped: Bool)) throws(ServerMessageViolation) -> String {
        let raw = bytes[s.range]
        if !s.escaped {
            guard let text = String(validating: raw, as: UTF8.self) else { throw .invalid("string is not UTF-8") }
            return text
        }
        var out: [UInt8] = []
        var i = s.range.lowerBound
        func hex4(_ at: Int) throws(ServerMessageViolation) -> UInt32 {
            guard at + 4 <= s.range.upperBound else { throw .invalid("bad \\u escape") }
            var value: UInt32 = 0
            for k in at..<(at + 4) {
                guard let digit = Character(UnicodeScalar(bytes[k])).hexDigitValue else { throw .invalid("bad \\u escape") }
                value = value << 4 | UInt32(digit)
            }
            return value
        }
        while i < s.range.upperBound {
            let byte = bytes[i]
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                i += 1
                continue
            }
            guard i + 1 < s.range.upperBound else { throw .invalid("bad escape") }
            let next = bytes[i + 1]
            i += 2
            switch next {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(next)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(i)
                i += 4
                if (0xD800..<0xDC00).contains(scalar) {
                    guard i + 6 <= s.range.upperBound, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                        throw .invalid("lone surrogate")
                    }
                    let low = try hex4(i + 2)
                    guard (0xDC00..<0xE000).contains(low) else { throw .invalid("lone surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw .invalid("bad \\u escape") }
                out.append(contentsOf: Array(String(Character(unicode)).utf8))
            default: throw .invalid("bad escape")
            }
        }
        guard let text = String(validating: out, as: UTF8.self) else { throw .invalid("string is not UTF-8") }
        return text
    }

    mutating func expectEnd() throws(ServerMessageViolation) {
        skipSpace()
        guard index == bytes.count else { throw .invalid("trailing data after the object") }
    }
}
