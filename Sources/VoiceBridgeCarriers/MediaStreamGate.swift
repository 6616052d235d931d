import NIOWebSocket

/// Decides, event by event, whether a Media Streams socket may go on: the order rules
/// (`connected`, then one `start`, then the rest) and the bindings checked at `start`.
///
/// A value type with no I/O, so each rule is tested without sockets; the server's media handler
/// carries out the verdicts, and a replay (VoiceBridgeRecording) applies the same rules to recorded
/// messages, which is why it lives here with the codec rather than in the server.
public struct MediaStreamGate: Sendable {
    public enum Phase: Equatable, Sendable {
        case awaitingStart
        case streaming(streamSid: String)
        case stopped
    }

    public enum Verdict: Equatable, Sendable {
        /// Pass the event to the call.
        case forward
        /// Pass `start` to the call; outbound messages now carry this streamSid.
        case startStream(streamSid: String)
        /// Close the socket with this code; the reason goes to the log and the close frame.
        case refuse(WebSocketErrorCode, String)
    }

    /// The CallSid the stream token was minted for.
    public let callSid: String
    /// When set, `start.accountSid` must equal it.
    public let accountSid: String?
    public private(set) var phase = Phase.awaitingStart

    public init(callSid: String, accountSid: String?) {
        self.callSid = callSid
        self.accountSid = accountSid
    }

    public mutating func admit(_ event: CarrierEvent) -> Verdict {
        switch (phase, event) {
        case (.awaitingStart, .connected):
            return .forward
        case (.awaitingStart, .start(let start)):
            guard start.callSid == callSid else {
                return .refuse(.policyViolation, "start.callSid \(start.callSid) is not the call this stream URL was issued for")
            }
            if let accountSid, start.accountSid != accountSid {
                return .refuse(.policyViolation, "start.accountSid \(start.accountSid) is not this account")
            }
            phase = .streaming(streamSid: start.streamSid)
            return .startStream(streamSid: start.streamSid)
        case (.awaitingStart, _):
            return .refuse(.policyViolation, "\(event.name) before start")
        case (.streaming, .connected), (.streaming, .start):
            return .refuse(.policyViolation, "\(event.name) after start")
        case (.streaming, .stop):
            phase = .stopped
            return .forward
        case (.streaming, _):
            return .forward
        case (.stopped, _):
            return .refuse(.policyViolation, "\(event.name) after stop")
        }
    }

    /// The close code for a message the decoder refused.
    public static func closeCode(for error: TwilioProtocolError) -> WebSocketErrorCode {
        switch error {
        case .messageTooLarge: .messageTooLarge
        case .binaryFrame: .unacceptableData
        case .malformedJSON, .invalidBase64: .dataInconsistentWithMessage
        default: .policyViolation
        }
    }

    /// A bounded label for `voicebridge_errors_total{kind=...}`.
    public static func errorKind(for error: TwilioProtocolError) -> String {
        switch error {
        case .messageTooLarge: "message_too_large"
        case .binaryFrame: "binary_frame"
        case .malformedJSON: "malformed_json"
        case .unknownEvent: "unknown_event"
        case .invalidBase64: "invalid_base64"
        case .wrongStreamSid: "wrong_stream_sid"
        default: "invalid_message"
        }
    }
}

extension CarrierEvent {
    /// The message's `event` value.
    public var name: String {
        switch self {
        case .connected: "connected"
        case .start: "start"
        case .media: "media"
        case .dtmf: "dtmf"
        case .mark: "mark"
        case .stop: "stop"
        }
    }
}
