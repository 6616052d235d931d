import Foundation
import VoiceBridgeCarriers

/// A parsed JSON value, for the client's messages and request bodies.
///
/// The emulator needs to know which fields are present, their types, and whether two objects are
/// the same (the voice_settings rule), so it keeps the whole tree rather than decoding into a fixed
/// struct. Client traffic is small and rare, so a DOM is fine here; the outbound side is written
/// byte by byte (`ElevenLabsEmulatorJSONWriter`) to keep field order exact.
enum ElevenLabsEmulatorJSON: Equatable, Sendable, Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([ElevenLabsEmulatorJSON])
    case object([String: ElevenLabsEmulatorJSON])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([ElevenLabsEmulatorJSON].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: ElevenLabsEmulatorJSON].self))
        }
    }

    /// Parses a complete JSON text; nil when it isn't valid JSON.
    static func parse(_ text: String) -> ElevenLabsEmulatorJSON? {
        try? JSONDecoder().decode(ElevenLabsEmulatorJSON.self, from: Data(text.utf8))
    }

    static func parse(_ bytes: [UInt8]) -> ElevenLabsEmulatorJSON? {
        try? JSONDecoder().decode(ElevenLabsEmulatorJSON.self, from: Data(bytes))
    }

    subscript(key: String) -> ElevenLabsEmulatorJSON? {
        guard case .object(let fields) = self else { return nil }
        return fields[key]
    }

    var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    var numberValue: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    var isNull: Bool { self == .null }

    /// A short name of the JSON type, for validation messages.
    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "bool"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

/// Writes compact JSON (no spaces, like Starlette's `send_json`) with fields in the order given.
enum ElevenLabsEmulatorJSONWriter {
    /// `text` as a quoted JSON string. UTF-8 above ASCII is kept as is (`ensure_ascii=False`).
    static func quoted(_ text: String) -> String { JSONWriting.quoted(text) }

    /// A float the way Python's `json` prints it: shortest round-trip form, always with a point.
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 {
            return String(format: "%.1f", value)
        }
        return "\(value)"
    }

    static func array(_ items: [String]) -> String {
        "[" + items.joined(separator: ",") + "]"
    }

    /// An object from already-encoded values, in the given order.
    static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { quoted($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }
}

/// Hides credentials before anything the client sent is logged or recorded.
enum ElevenLabsEmulatorRedaction {
    static let placeholder = "<redacted>"
    /// JSON fields and query parameters that carry credentials.
    static let secretFields: Set<String> = ["xi-api-key", "xi_api_key", "authorization", "single_use_token", "token"]
    /// Headers that carry credentials.
    static let secretHeaders: Set<String> = ["xi-api-key", "authorization", "cookie"]

    /// Replaces the string value of every credential field in a JSON text, keeping the rest of the
    /// text byte for byte (so the log shows exactly what was sent, minus the secret). Works on
    /// invalid JSON too: it only needs string tokens.
    static func redactJSON(_ text: String) -> String {
        var scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        var lastKey: String?
        var expectingValue = false
        while i < scalars.count {
            let c = scalars[i]
            if c == "\"" {
                // A string token: find its end.
                var j = i + 1
                var content = String.UnicodeScalarView()
                while j < scalars.count, scalars[j] != "\"" {
                    if scalars[j] == "\\", j + 1 < scalars.count {
                        content.append(scalars[j])
                        j += 1
                    }
                    content.append(scalars[j])
                    j += 1
                }
                let end = min(j, scalars.count - 1)
                if expectingValue, let key = lastKey, secretFields.contains(key) {
                    out.append("\"")
                    out.append(contentsOf: placeholder.unicodeScalars)
                    out.append("\"")
                    expectingValue = false
                    lastKey = nil
                } else {
                    out.append(contentsOf: scalars[i...end])
                    lastKey = String(content)
                    expectingValue = false
                }
                i = end + 1
                continue
            }
            if c == ":" {
                expectingValue = lastKey != nil
            } else if c == "," || c == "{" || c == "}" || c == "[" || c == "]" {
                lastKey = nil
                expectingValue = false
            }
            out.append(c)
            i += 1
        }
        scalars.removeAll()
        return String(out)
    }

    /// A request target with the values of credential query parameters replaced.
    static func redactURI(_ uri: String) -> String {
        guard let question = uri.firstIndex(of: "?") else { return uri }
        let path = uri[..<question]
        let query = uri[uri.index(after: question)...]
        let parts = query.split(separator: "&", omittingEmptySubsequences: false).map { part -> String in
            let name = part.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
            return secretFields.contains(name.lowercased()) ? "\(name)=\(placeholder)" : String(part)
        }
        return path + "?" + parts.joined(separator: "&")
    }
}
