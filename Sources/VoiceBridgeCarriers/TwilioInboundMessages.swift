#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The once-per-call Twilio messages, read with `Codable`: they are rare enough that clarity
/// beats speed. Swift's strict `Decodable` typing gives the exact-type checks the protocol
/// needs (a number where a string belongs is refused, and vice versa).
enum TwilioInboundMessages {
    struct Connected: Decodable {
        let `protocol`: String
        let version: String
    }

    struct Start: Decodable {
        struct Body: Decodable {
            let accountSid: String
            let streamSid: String
            let callSid: String
            let tracks: [String]
            /// Optional because Twilio's documentation does not promise `{}` when no
            /// `<Parameter>` was set; when present it must be an object of strings.
            let customParameters: [String: String]?
            let mediaFormat: Format
        }

        struct Format: Decodable {
            let encoding: String
            let sampleRate: Int
            let channels: Int
        }

        let sequenceNumber: String
        let streamSid: String
        let start: Body
    }

    struct DTMF: Decodable {
        struct Body: Decodable {
            let track: String
            let digit: String
        }

        let sequenceNumber: String
        let streamSid: String
        let dtmf: Body
    }

    struct Mark: Decodable {
        struct Body: Decodable {
            let name: String
        }

        let sequenceNumber: String
        let streamSid: String
        let mark: Body
    }

    struct Stop: Decodable {
        struct Body: Decodable {
            let accountSid: String
            let callSid: String
        }

        let sequenceNumber: String
        let streamSid: String
        let stop: Body
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
