/// Decides, event by event, whether a carrier's media socket may go on: the order rules
/// (an optional `connected`, then one `start`, then the rest) and the bindings checked at `start`
/// (the call the stream URL was issued for, the account, a format the bridge plays).
///
/// A value type with no I/O, so each rule is tested without sockets; `MediaSession` applies it
/// for the server's handler and for replay alike.
public struct MediaStreamGate: Sendable {
    public enum Phase: Equatable, Sendable {
        case awaitingStart
        case streaming(streamID: String)
        case stopped
    }

    public enum Verdict: Equatable, Sendable {
        /// Pass the event to the call.
        case forward
        /// Pass `start` to the call; outbound messages now carry this stream id.
        case startStream(streamID: String)
        /// Close the socket with this code; the reason goes to the log and the close frame.
        case refuse(CarrierCloseCode, String)
    }

    /// The call id the stream token was minted for; nil when the start names the call otherwise.
    public let callID: String?
    /// When set, the start's account id must equal it.
    public let accountID: String?
    /// When set, the start's format must be one of these.
    public let supportedFormats: [MediaFormat]?
    public private(set) var phase = Phase.awaitingStart

    public init(callID: String?, accountID: String?, supportedFormats: [MediaFormat]? = nil) {
        self.callID = callID
        self.accountID = accountID
        self.supportedFormats = supportedFormats
    }

    public mutating func admit(_ event: CarrierEvent) -> Verdict {
        switch (phase, event) {
        case (.awaitingStart, .connected), (_, .notice):
            return .forward
        case (.awaitingStart, .start(let start)):
            if let callID, start.callID != callID {
                return .refuse(.policyViolation, "start names call \(start.callID), not the call this stream URL was issued for")
            }
            if let accountID, start.accountID != accountID {
                return .refuse(.policyViolation, "start names account \(start.accountID), not this account")
            }
            if let supportedFormats, !supportedFormats.contains(start.mediaFormat) {
                let supported = supportedFormats.map(\.description).joined(separator: ", ")
                return .refuse(
                    .unacceptableData,
                    CarrierProtocolError.unsupportedFormat("\(start.mediaFormat); this carrier's streams play \(supported)").description
                )
            }
            phase = .streaming(streamID: start.streamID)
            return .startStream(streamID: start.streamID)
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
    public static func closeCode(for error: CarrierProtocolError) -> CarrierCloseCode {
        CarrierCloseCode(for: error)
    }

    /// A bounded label for `voicebridge_errors_total{kind=...}`.
    public static func errorKind(for error: CarrierProtocolError) -> String {
        error.metricKind
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
        case .notice: "notice"
        }
    }
}
