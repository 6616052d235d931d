/// A string value's content bytes (between the quotes), still JSON-escaped when `hasEscapes`.
public struct JSONStringSpan: Equatable, Sendable {
    public var start: Int
    public var end: Int
    public var hasEscapes: Bool
}

/// Where a value sits in the message. Containers are kept as spans and re-scanned on demand,
/// so reading a message never builds a tree.
public enum JSONValueSpan: Equatable, Sendable {
    case string(JSONStringSpan)
    case number(start: Int, end: Int)
    case object(start: Int)
    case array(start: Int)
    case bool(Bool)
    case null

    public var typeName: String {
        switch self {
        case .string: return "string"
        case .number: return "number"
        case .object: return "object"
        case .array: return "array"
        case .bool: return "boolean"
        case .null: return "null"
        }
    }
}

/// Byte-level JSON reader for the hot paths: it validates the full RFC 8259 grammar while
/// skipping, reports value positions, and never allocates unless it has to report an error.
///
/// Only valid while the bytes it points at are alive (inside a `withUnsafeReadableBytes`).
public struct JSONScanner {
    /// Deep nesting is never legitimate in a Media Streams message; the cap keeps a hostile
    /// `[[[[…` from exhausting the stack.
    static let maxDepth = 32

    public let bytes: UnsafeRawBufferPointer
    public var position: Int

    public init(_ bytes: UnsafeRawBufferPointer, position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    func failure(_ what: String) -> CarrierProtocolError {
        if position >= bytes.count {
            return .malformedJSON("\(what) (input ends at byte \(bytes.count))")
        }
        return .malformedJSON("\(what) at byte \(position)")
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"):
                position += 1
            default:
                return
            }
        }
    }

    public mutating func expectEnd() throws(CarrierProtocolError) {
        skipWhitespace()
        guard position == bytes.count else { throw failure("unexpected data after the top-level value") }
    }

    /// Consumes `{`; pair with `nextKey(isFirst:)`.
    public mutating func beginObject() throws(CarrierProtocolError) {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: "{") else {
            throw failure("expected '{'")
        }
        position += 1
    }

    /// Moves to the next member and returns its key, leaving the scanner at the value.
    /// Returns nil once the closing brace is consumed.
    public mutating func nextKey(isFirst: inout Bool) throws(CarrierProtocolError) -> JSONStringSpan? {
        skipWhitespace()
        guard position < bytes.count else { throw failure("unterminated object") }
        if bytes[position] == UInt8(ascii: "}") {
            position += 1
            return nil
        }
        if !isFirst {
            guard bytes[position] == UInt8(ascii: ",") else { throw failure("expected ',' or '}'") }
            position += 1
            skipWhitespace()
        }
        isFirst = false
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
            throw failure("expected a member name")
        }
        let key = try scanString()
        skipWhitespace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw failure("expected ':'") }
        position += 1
        return key
    }

    /// Scans one value of any type (validating containers completely) and returns where it is.
    public mutating func scanValue(depth: Int = 0) throws(CarrierProtocolError) -> JSONValueSpan {
        skipWhitespace()
        guard position < bytes.count else { throw failure("expected a value") }
        let start = position
        switch bytes[position] {
        case UInt8(ascii: "\""):
            return .string(try scanString())
        case UInt8(ascii: "{"):
            try skipObject(depth: depth + 1)
            return .object(start: start)
        case UInt8(ascii: "["):
            try skipArray(depth: depth + 1)
            return .array(start: start)
        case UInt8(ascii: "t"):
            try scanLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try scanLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try scanLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try scanNumber()
            return .number(start: start, end: position)
        default:
            throw failure("unexpected character")
        }
    }

    private mutating func skipObject(depth: Int) throws(CarrierProtocolError) {
        guard depth <= Self.maxDepth else { throw failure("nesting deeper than \(Self.maxDepth)") }
        try beginObject()
        var isFirst = true
        while try nextKey(isFirst: &isFirst) != nil {
            _ = try scanValue(depth: depth)
        }
    }

    private mutating func skipArray(depth: Int) throws(CarrierProtocolError) {
        guard depth <= Self.maxDepth else { throw failure("nesting deeper than \(Self.maxDepth)") }
        position += 1  // '['
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            return
        }
        while true {
            _ = try scanValue(depth: depth)
            skipWhitespace()
            guard position < bytes.count else { throw failure("unterminated array") }
            switch bytes[position] {
            case UInt8(ascii: ","):
                position += 1
            case UInt8(ascii: "]"):
                position += 1
                return
            default:
                throw failure("expected ',' or ']'")
            }
        }
    }

    /// Consumes a string starting at its opening quote.
    mutating func scanString() throws(CarrierProtocolError) -> JSONStringSpan {
        position += 1  // opening quote
        let start = position
        var hasEscapes = false
        let count = bytes.count
        while true {
            // Base64 payloads are long runs of plain bytes: step over them a word at a time.
            while position &+ 8 <= count,
                !Self.hasSpecialStringByte(bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self))
            {
                position &+= 8
            }
            guard position < count else { break }
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let span = JSONStringSpan(start: start, end: position, hasEscapes: hasEscapes)
                position += 1
                return span
            }
            if byte == UInt8(ascii: "\\") {
                hasEscapes = true
                position += 1
                guard position < count else { break }
                switch bytes[position] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                    UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    position += 1
                case UInt8(ascii: "u"):
                    guard position + 4 < count else {
                        position = count
                        throw failure("unterminated string")
                    }
                    for offset in 1...4 where Self.hexValue(bytes[position + offset]) == nil {
                        position += offset
                        throw failure("invalid \\u escape")
                    }
                    position += 5
                default:
                    throw failure("invalid escape")
                }
                continue
            }
            if byte < 0x20 {
                throw failure("unescaped control character in string")
            }
            position += 1
        }
        throw failure("unterminated string")
    }

    private mutating func scanLiteral(_ literal: StaticString) throws(CarrierProtocolError) {
        let length = literal.utf8CodeUnitCount
        guard position + length <= bytes.count else {
            position = bytes.count
            throw failure("truncated literal")
        }
        let expected = UnsafeRawBufferPointer(start: literal.utf8Start, count: length)
        for index in 0..<length where bytes[position + index] != expected[index] {
            throw failure("invalid literal")
        }
        position += length
    }

    private mutating func scanNumber() throws(CarrierProtocolError) {
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < bytes.count else { throw failure("truncated number") }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else if Self.isDigit(bytes[position]) {
            skipDigits()
        } else {
            throw failure("invalid number")
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard position < bytes.count, Self.isDigit(bytes[position]) else { throw failure("invalid number") }
            skipDigits()
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard position < bytes.count, Self.isDigit(bytes[position]) else { throw failure("invalid number") }
            skipDigits()
        }
    }

    private mutating func skipDigits() {
        while position < bytes.count, Self.isDigit(bytes[position]) { position += 1 }
    }

    /// True if any byte of `word` is '"', '\\' or a control character, i.e. anything that
    /// ends or complicates a string. Exact for "any" (the classic has-zero-byte bit trick).
    @inline(__always)
    static func hasSpecialStringByte(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quote = word ^ (ones &* UInt64(UInt8(ascii: "\"")))
        let backslash = word ^ (ones &* UInt64(UInt8(ascii: "\\")))
        let hasQuote = (quote &- ones) & ~quote
        let hasBackslash = (backslash &- ones) & ~backslash
        let hasControl = (word &- ones &* 0x20) & ~word
        return (hasQuote | hasBackslash | hasControl) & highs != 0
    }

    /// Byte equality a word at a time; keys and stream sids are compared on every message.
    @inline(__always)
    static func bytesEqual(_ lhs: UnsafeRawBufferPointer, _ rhs: UnsafeRawBufferPointer) -> Bool {
        let count = lhs.count
        guard count == rhs.count else { return false }
        var index = 0
        while index &+ 8 <= count {
            guard lhs.loadUnaligned(fromByteOffset: index, as: UInt64.self) == rhs.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            else { return false }
            index &+= 8
        }
        while index < count {
            guard lhs[index] == rhs[index] else { return false }
            index &+= 1
        }
        return true
    }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool {
        byte &- UInt8(ascii: "0") < 10
    }

    static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(byte - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
}

// MARK: - Reading string content

extension JSONScanner {
    public func rawContent(_ span: JSONStringSpan) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[span.start..<span.end])
    }

    /// Appends the decoded content of `span` to `output` (UTF-8). Surrogate pairs are joined;
    /// a lone surrogate is an error because it cannot be represented in UTF-8.
    func unescape(_ span: JSONStringSpan, into output: inout [UInt8]) throws(CarrierProtocolError) {
        var index = span.start
        while index < span.end {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "\\") else {
                output.append(byte)
                index += 1
                continue
            }
            let escape = bytes[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(at: index)
                index += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    guard index + 6 <= span.end, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                    else { throw .malformedJSON("unpaired surrogate escape at byte \(index - 6)") }
                    let low = hex4(at: index + 2)
                    guard (0xDC00...0xDFFF).contains(low) else {
                        throw .malformedJSON("unpaired surrogate escape at byte \(index - 6)")
                    }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw .malformedJSON("unpaired surrogate escape at byte \(index - 6)")
                }
                Self.appendUTF8(scalar, to: &output)
            default:  // '"', '\\', '/' stand for themselves; the scanner rejected everything else
                output.append(escape)
            }
        }
    }

    private func hex4(at index: Int) -> UInt32 {
        var value: UInt32 = 0
        for offset in 0..<4 {
            value = value << 4 | (Self.hexValue(bytes[index + offset]) ?? 0)
        }
        return value
    }

    private static func appendUTF8(_ scalar: UInt32, to output: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            output.append(UInt8(scalar))
        case 0x80..<0x800:
            output.append(UInt8(0xC0 | scalar >> 6))
            output.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            output.append(UInt8(0xE0 | scalar >> 12))
            output.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            output.append(UInt8(0x80 | scalar & 0x3F))
        default:
            output.append(UInt8(0xF0 | scalar >> 18))
            output.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            output.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            output.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// Compares the decoded content with an ASCII literal without allocating in the usual
    /// (unescaped) case.
    public func content(_ span: JSONStringSpan, equals literal: StaticString) -> Bool {
        let expected = UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        return content(span, equals: expected)
    }

    func content(_ span: JSONStringSpan, equals expected: UnsafeRawBufferPointer) -> Bool {
        if !span.hasEscapes {
            return Self.bytesEqual(rawContent(span), expected)
        }
        var decoded: [UInt8] = []
        guard (try? unescape(span, into: &decoded)) != nil else { return false }
        return decoded.elementsEqual(expected)
    }

    /// The decoded content as a Swift string; invalid UTF-8 is an error rather than being
    /// silently repaired, because these strings are identifiers and names.
    public func string(_ span: JSONStringSpan, field: @autoclosure () -> String) throws(CarrierProtocolError) -> String {
        let decoded: String?
        if span.hasEscapes {
            var buffer: [UInt8] = []
            try unescape(span, into: &buffer)
            decoded = String(validating: buffer, as: UTF8.self)
        } else {
            decoded = String(validating: rawContent(span), as: UTF8.self)
        }
        guard let decoded else { throw .invalidValue(field: field(), reason: "not valid UTF-8") }
        return decoded
    }

    /// Best-effort text for error messages.
    public func lossyString(_ span: JSONStringSpan) -> String {
        if let exact = try? string(span, field: "") { return exact }
        return String(decoding: rawContent(span), as: UTF8.self)
    }

    /// How a dialect spells a counter: Twilio and Telnyx put decimal digits inside a JSON string
    /// (`"sequenceNumber":"2"`), Plivo writes a JSON number (`"sequenceNumber":2`).
    public enum CounterSpelling: Sendable {
        case string
        case number
        /// Either, message by message (Exotel's pages show both).
        case either
    }

    /// A counter in `spelling`; the other spelling is a wrong type, and a number must be a plain
    /// non-negative integer (no sign, fraction or exponent).
    func counter(_ value: JSONValueSpan, spelling: CounterSpelling, field: @autoclosure () -> String) throws(CarrierProtocolError) -> Int {
        switch spelling {
        case .string:
            return try counter(value, field: field())
        case .number:
            guard case .number(let start, let end) = value else {
                throw .wrongType(field: field(), expected: "number")
            }
            return try Self.parseCounter(UnsafeRawBufferPointer(rebasing: bytes[start..<end]), field: field())
        case .either:
            if case .number(let start, let end) = value {
                return try Self.parseCounter(UnsafeRawBufferPointer(rebasing: bytes[start..<end]), field: field())
            }
            guard case .string = value else { throw .wrongType(field: field(), expected: "string or number") }
            return try counter(value, field: field())
        }
    }

    /// Twilio's counters (`sequenceNumber`, `chunk`, `timestamp`) are decimal digits inside a
    /// JSON string.
    func counter(_ value: JSONValueSpan, field: @autoclosure () -> String) throws(CarrierProtocolError) -> Int {
        guard case .string(let span) = value else {
            throw .wrongType(field: field(), expected: "string")
        }
        if span.hasEscapes {
            var decoded: [UInt8] = []
            try unescape(span, into: &decoded)
            return try Self.parseCounter(decoded, field: field())
        }
        return try Self.parseCounter(rawContent(span), field: field())
    }

    static func parseCounter(_ digits: some Collection<UInt8>, field: @autoclosure () -> String) throws(CarrierProtocolError) -> Int {
        // 18 digits always fit in Int64, so no overflow check is needed per digit.
        guard !digits.isEmpty, digits.count <= 18 else {
            throw .invalidValue(field: field(), reason: digits.isEmpty ? "empty counter" : "counter out of range")
        }
        var value = 0
        for byte in digits {
            guard isDigit(byte) else { throw .invalidValue(field: field(), reason: "expected decimal digits") }
            value = value &* 10 &+ Int(byte &- UInt8(ascii: "0"))
        }
        return value
    }

    /// Calls `body` with each element of the array that starts at `start` (a `.array` span);
    /// the array was validated when it was scanned.
    public func forEachElement(
        ofArrayAt start: Int, _ body: (JSONValueSpan, JSONScanner) throws(CarrierProtocolError) -> Void
    ) throws(CarrierProtocolError) {
        var scanner = JSONScanner(bytes, position: start + 1)
        scanner.skipWhitespace()
        if scanner.position < bytes.count, bytes[scanner.position] == UInt8(ascii: "]") { return }
        while true {
            let value = try scanner.scanValue(depth: 1)
            try body(value, scanner)
            scanner.skipWhitespace()
            guard scanner.position < bytes.count else { throw scanner.failure("unterminated array") }
            if bytes[scanner.position] == UInt8(ascii: "]") { return }
            scanner.position += 1  // ','
        }
    }

    /// How many elements the array at `start` holds: what to reserve before reading them.
    public func elementCount(ofArrayAt start: Int) throws(CarrierProtocolError) -> Int {
        var n = 0
        try forEachElement(ofArrayAt: start) { _, _ throws(CarrierProtocolError) in n += 1 }
        return n
    }

    /// A JSON number as an integer: digits with an optional sign; a fraction or exponent is
    /// rounded (timings a service may send as 12.0).
    public func integer(_ value: JSONValueSpan, field: @autoclosure () -> String) throws(CarrierProtocolError) -> Int {
        guard case let .number(start, end) = value else { throw .wrongType(field: field(), expected: "number") }
        var negative = false
        var i = start
        if bytes[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        var result = 0
        while i < end, Self.isDigit(bytes[i]), i - start < 18 {
            result = result &* 10 &+ Int(bytes[i] &- UInt8(ascii: "0"))
            i += 1
        }
        if i < end {
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
            guard let double = Double(text), double.isFinite, abs(double) < 1e15 else {
                throw .invalidValue(field: field(), reason: "not an integer")
            }
            return Int(double.rounded())
        }
        return negative ? -result : result
    }

    /// A JSON number as a Double (word timings and log-probabilities in transcripts; not a hot path).
    public func double(_ value: JSONValueSpan, field: @autoclosure () -> String) throws(CarrierProtocolError) -> Double {
        guard case let .number(start, end) = value else { throw .wrongType(field: field(), expected: "number") }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        guard let double = Double(text), double.isFinite else { throw .invalidValue(field: field(), reason: "not a finite number") }
        return double
    }
}
