/// Why a carrier's media-stream message was refused, whatever the dialect. Field names are dotted JSON paths
/// (`media.payload`, `start.mediaFormat.sampleRate`) so a log line points at the exact spot.
public enum CarrierProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    case messageTooLarge(size: Int, limit: Int)
    /// A binary frame where the dialect sends only text (Twilio's error 31950).
    case binaryFrame
    /// A text frame where the dialect sends only binary media.
    case textFrame
    /// The stream announced an audio format the bridge does not play for this carrier.
    case unsupportedFormat(String)
    case malformedJSON(String)
    case unknownEvent(String)
    case missingField(String)
    /// A field the receiver does not allow; only strict decoders raise it (Twilio's 31951 "extra field").
    case unexpectedField(String)
    case duplicateField(String)
    case wrongType(field: String, expected: String)
    case invalidValue(field: String, reason: String)
    case invalidBase64
    case wrongStreamSid(expected: String, got: String)

    public var description: String {
        switch self {
        case .messageTooLarge(let size, let limit):
            return "message of \(size) bytes exceeds the \(limit)-byte limit"
        case .binaryFrame:
            return "binary frame received; this carrier's messages are JSON text frames"
        case .textFrame:
            return "text frame received where this carrier sends binary audio"
        case .unsupportedFormat(let format):
            return "unsupported media format: \(format)"
        case .malformedJSON(let detail):
            return "malformed JSON: \(detail)"
        case .unknownEvent(let event):
            return "unknown event \"\(event)\""
        case .missingField(let field):
            return "missing required field \"\(field)\""
        case .unexpectedField(let field):
            return "unexpected field \"\(field)\""
        case .duplicateField(let field):
            return "field \"\(field)\" appears more than once"
        case .wrongType(let field, let expected):
            return "field \"\(field)\" must be a JSON \(expected)"
        case .invalidValue(let field, let reason):
            return "field \"\(field)\" is invalid: \(reason)"
        case .invalidBase64:
            return "media payload is not valid base64"
        case .wrongStreamSid(let expected, let got):
            return "stream id \"\(got)\" does not match this stream's \"\(expected)\""
        }
    }
}
