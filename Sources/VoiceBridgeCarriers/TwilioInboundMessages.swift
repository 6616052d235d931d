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
}
