/// Why an ElevenLabs WebSocket (or a turn on it) ended without all of its audio.
///
/// Built from the JSON error frame when the server sent one (`{"message","error","code"}`), else
/// from the close code and reason. Close reasons are cut to 123 bytes on the wire, so matching
/// uses the start of each known text (doc §1.6, §2.2).
public enum ElevenLabsWebSocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1008 "Invalid API key", or a 401/403 refusal of the handshake. Retrying can't help.
    case invalidAPIKey(String)
    /// 1008 "This request exceeds your quota ...". Retrying can't help.
    case quotaExceeded(String)
    /// 1008 "Have not received a new text input within the timeout ...": keep-alives were late.
    case inactivityTimeout(String)
    /// 1008 "Maximum simultaneous contexts ..." (multi-context): more than 5 live contexts.
    case tooManyContexts(String)
    /// 1008 "voice_settings field must be provided in the first message ...".
    case voiceSettingsChanged(String)
    /// 1008 "We are sorry, something went wrong ...": a generic server fault, worth retrying.
    case serverError(String)
    /// Any other 1008.
    case policyViolation(String)
    /// 1009; the service sends it for a voice that doesn't fit the model.
    case messageTooBig(String)
    /// Another close code from the server.
    case closed(code: Int, reason: String)
    /// The connection ended without a close frame (1006), e.g. a network drop.
    case connectionLost(String)
    /// No connection: refused, unreachable, timed out, TLS failure.
    case connectFailed(String)
    /// The server answered the upgrade with this HTTP status instead of 101.
    case handshakeRefused(status: Int)
    /// A frame that isn't a JSON object of the documented shape.
    case malformedMessage(String)
    /// The configuration can't be used (bad URL, bad schedule, missing key).
    case invalidConfiguration(String)
    /// The source was closed (the call ended) while the turn was still speaking.
    case sourceClosed

    /// The 1008 close after which the same request can't succeed: the fallback chain moves on
    /// and trips its breaker rather than retrying.
    public var isAuthenticationOrQuota: Bool {
        switch self {
        case .invalidAPIKey, .quotaExceeded: true
        case .handshakeRefused(let status): status == 401 || status == 403
        default: false
        }
    }

    /// Whether reconnecting may help (a drop, a server fault, our own late keep-alive or context
    /// accounting). Authentication, quota, settings and configuration problems are final.
    public var isRetryable: Bool {
        switch self {
        case .inactivityTimeout, .tooManyContexts, .serverError, .connectionLost, .closed, .malformedMessage:
            true
        case .handshakeRefused(let status):
            status == 429 || status >= 500
        case .invalidAPIKey, .quotaExceeded, .voiceSettingsChanged, .policyViolation, .messageTooBig, .connectFailed,
            .invalidConfiguration, .sourceClosed:
            false
        }
    }

    public var description: String {
        switch self {
        case .invalidAPIKey(let r): "ElevenLabs rejected the API key: \(r)"
        case .quotaExceeded(let r): "ElevenLabs quota exceeded: \(r)"
        case .inactivityTimeout(let r): "ElevenLabs closed the socket for inactivity: \(r)"
        case .tooManyContexts(let r): "ElevenLabs refused another context: \(r)"
        case .voiceSettingsChanged(let r): "ElevenLabs refused changed voice settings: \(r)"
        case .serverError(let r): "ElevenLabs server error: \(r)"
        case .policyViolation(let r): "ElevenLabs closed the socket (1008): \(r)"
        case .messageTooBig(let r): "ElevenLabs closed the socket (1009, often a voice/model mismatch): \(r)"
        case .closed(let code, let r): "ElevenLabs closed the socket (\(code)): \(r)"
        case .connectionLost(let r): "connection to ElevenLabs lost: \(r)"
        case .connectFailed(let r): "can't connect to ElevenLabs: \(r)"
        case .handshakeRefused(let status): "ElevenLabs refused the WebSocket upgrade with HTTP \(status)"
        case .malformedMessage(let r): "malformed ElevenLabs message: \(r)"
        case .invalidConfiguration(let r): "ElevenLabs WebSocket not configured: \(r)"
        case .sourceClosed: "the ElevenLabs WebSocket source was closed"
        }
    }

    /// Classifies a close frame. `message` is the text of a JSON error frame that came just
    /// before it, which is the full text where the close reason is cut.
    public static func fromClose(code: Int, reason: String, message: String? = nil) -> ElevenLabsWebSocketError {
        let text = (message?.isEmpty == false ? message! : reason)
        switch code {
        case 1008:
            let lower = text.lowercased()
            if lower.hasPrefix("invalid api key") || lower.contains("api key") || lower.contains("unauthorized") {
                return .invalidAPIKey(text)
            }
            if lower.contains("exceeds your quota") || lower.contains("quota") {
                return .quotaExceeded(text)
            }
            if lower.hasPrefix("have not received a new text input") || lower.contains("timeout") {
                return .inactivityTimeout(text)
            }
            if lower.hasPrefix("maximum simultaneous contexts") || lower.contains("max_active_conversations") {
                return .tooManyContexts(text)
            }
            if lower.hasPrefix("voice_settings") {
                return .voiceSettingsChanged(text)
            }
            if lower.hasPrefix("we are sorry, something went wrong") {
                return .serverError(text)
            }
            return .policyViolation(text)
        case 1009:
            return .messageTooBig(text)
        case 1006:
            return .connectionLost(text.isEmpty ? "no close frame" : text)
        case 1011:
            return .serverError(text)
        default:
            return .closed(code: code, reason: text)
        }
    }
}
