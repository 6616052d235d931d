/// A rare JSON message (a start, a key, a mark echo) read into dotted paths: `event` (or another
/// kind key) apart, every scalar under its path (`start.media_format.sample_rate`), strings and
/// numbers told apart. Dictionaries are fine here; audio never comes this way.
///
/// Arrays and nulls are refused: none of the messages read this way has one.
struct JSONFields {
    enum Value: Equatable {
        case string(String)
        /// A number or boolean, as written.
        case literal(String)

        var text: String {
            switch self {
            case .string(let text), .literal(let text): text
            }
        }
    }

    var kind: String
    /// Every scalar by dotted path.
    var values: [String: Value] = [:]
    /// Top-level keys, in order (the kind key included).
    var keys: [String] = []

    init(json raw: UnsafeRawBufferPointer, kindKey: String) throws(CarrierProtocolError) {
        var scanner = JSONScanner(raw)
        try Self.readObject(&scanner, raw: raw, prefix: "", depth: 1, into: &values, keys: &keys)
        try scanner.expectEnd()
        guard case .string(let kind)? = values.removeValue(forKey: kindKey) else {
            throw values[kindKey] == nil ? .missingField(kindKey) : .wrongType(field: kindKey, expected: "string")
        }
        self.kind = kind
    }

    private static func readObject(
        _ scanner: inout JSONScanner, raw: UnsafeRawBufferPointer, prefix: String, depth: Int,
        into values: inout [String: Value], keys: inout [String]
    ) throws(CarrierProtocolError) {
        try scanner.beginObject()
        var isFirst = true
        while let keySpan = try scanner.nextKey(isFirst: &isFirst) {
            let key = prefix + (try scanner.string(keySpan, field: "key"))
            guard values[key] == nil, !keys.contains(key) else { throw .duplicateField(key) }
            if prefix.isEmpty { keys.append(key) }
            scanner.skipWhitespace()
            if scanner.position < raw.count, raw[scanner.position] == UInt8(ascii: "{") {
                guard depth < 4 else { throw .invalidValue(field: key, reason: "nested too deeply") }
                var ignored: [String] = []
                try readObject(&scanner, raw: raw, prefix: key + ".", depth: depth + 1, into: &values, keys: &ignored)
                continue
            }
            switch try scanner.scanValue(depth: depth) {
            case .string(let span):
                values[key] = .string(try scanner.string(span, field: key))
            case .number(let start, let end):
                values[key] = .literal(String(decoding: UnsafeRawBufferPointer(rebasing: raw[start..<end]), as: UTF8.self))
            case .bool(let flag):
                values[key] = .literal(flag ? "true" : "false")
            case .object, .array, .null:
                throw .wrongType(field: key, expected: "string, number or object")
            }
        }
    }

    /// The top-level scalars as text (Vonage's flattened headers).
    var topLevel: [String: String] {
        var result: [String: String] = [:]
        for (key, value) in values where !key.contains(".") { result[key] = value.text }
        return result
    }

    /// The scalars under `prefix.` as text, keyed by the rest of their path.
    func object(_ prefix: String) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in values where key.hasPrefix(prefix + ".") { result[String(key.dropFirst(prefix.count + 1))] = value.text }
        return result
    }

    func has(_ path: String) -> Bool { values[path] != nil || values.keys.contains { $0.hasPrefix(path + ".") } }

    /// A string at `path`; nil when absent, a wrong type when it is a number.
    func string(_ path: String) throws(CarrierProtocolError) -> String? {
        switch values[path] {
        case nil: return nil
        case .string(let text)?: return text
        case .literal?: throw .wrongType(field: path, expected: "string")
        }
    }

    func requiredString(_ path: String) throws(CarrierProtocolError) -> String {
        guard let value = try string(path) else { throw .missingField(path) }
        return value
    }

    /// A counter written either as a JSON number or as digits in a string (Exotel writes both).
    func counter(_ path: String) throws(CarrierProtocolError) -> Int? {
        guard let value = values[path] else { return nil }
        guard let number = Int(value.text), number >= 0 else {
            throw .invalidValue(field: path, reason: "expected a non-negative integer, got \"\(value.text)\"")
        }
        return number
    }
}
