#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `Codable` for the once-per-call messages of every JSON dialect, with decoding errors mapped to
/// `CarrierProtocolError`s whose field names are dotted JSON paths. Swift's strict `Decodable`
/// typing gives the exact-type checks the protocols need (a number where a string belongs is
/// refused, and vice versa).
enum CarrierMessageDecoding {
    /// The keys every dialect sends, and the DTMF-only A-D that Telnyx and SignalWire allow.
    enum DigitSet {
        case telephone
        case withLetters

        var description: String {
            switch self {
            case .telephone: "0-9, * or #"
            case .withLetters: "0-9, *, # or A-D"
            }
        }

        func contains(_ digit: Character) -> Bool {
            switch self {
            case .telephone: "0123456789*#".contains(digit)
            case .withLetters: "0123456789*#ABCD".contains(digit)
            }
        }
    }

    /// A `dtmf.digit` value: exactly one key of `allowed` (letters in either case, given upper).
    static func dtmfDigit(_ text: String, allowed: DigitSet) throws(CarrierProtocolError) -> Character {
        guard text.count == 1, let digit = text.uppercased().first, allowed.contains(digit) else {
            throw .invalidValue(field: "dtmf.digit", reason: "expected one of \(allowed.description), got \"\(text)\"")
        }
        return digit
    }

    static func decode<Message: Decodable>(
        _ type: Message.Type,
        from json: UnsafeRawBufferPointer
    ) throws(CarrierProtocolError) -> Message {
        do {
            return try JSONDecoder().decode(type, from: Data(json))
        } catch {
            throw protocolError(from: error)
        }
    }

    static func counter(_ text: String, field: String) throws(CarrierProtocolError) -> Int {
        try JSONScanner.parseCounter(text.utf8, field: field)
    }

    static func protocolError(from error: any Error) -> CarrierProtocolError {
        guard let error = error as? DecodingError else {
            return .malformedJSON(String(describing: error))
        }
        switch error {
        case .keyNotFound(let key, let context):
            return .missingField(path(context.codingPath + [key]))
        case .typeMismatch(let type, let context):
            return .wrongType(field: path(context.codingPath), expected: jsonTypeName(type))
        case .valueNotFound(let type, let context):
            return .wrongType(field: path(context.codingPath), expected: jsonTypeName(type))
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return .malformedJSON(context.debugDescription)
            }
            return .invalidValue(field: path(context.codingPath), reason: context.debugDescription)
        @unknown default:
            return .malformedJSON(String(describing: error))
        }
    }

    private static func path(_ codingPath: [any CodingKey]) -> String {
        var result = ""
        for key in codingPath {
            if let index = key.intValue {
                result += "[\(index)]"
            } else {
                if !result.isEmpty { result += "." }
                result += key.stringValue
            }
        }
        return result
    }

    private static func jsonTypeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "string"
        case is Int.Type, is Double.Type: return "number"
        case is Bool.Type: return "boolean"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") || (name.hasPrefix("[") && !name.contains(":")) {
                return "array"
            }
            return "object"
        }
    }
}
