/// One media socket's protocol state, whatever the carrier: each inbound frame is decoded by the
/// dialect, checked by the gate, and comes out as a step for whoever drives the socket. The
/// server's media handler and replay both drive it, so a recorded call meets exactly the rules a
/// live one met.
///
/// No I/O and no clock: the driver closes sockets and hands events to the call.
public struct MediaSession<Dialect: CarrierDialect>: MediaSessionDriving {
    public typealias Step = MediaSessionStep

    public private(set) var decoder: Dialect.Decoder
    public private(set) var gate: MediaStreamGate
    /// Set once the stream has started.
    public private(set) var encoder: Dialect.Encoder?

    /// - Parameters:
    ///   - callID: the call the stream URL was issued for; the start must name it.
    ///   - accountID: when set, the start must name this account.
    public init(callID: String, accountID: String?, maxMessageBytes: Int) {
        decoder = Dialect.makeDecoder(maxMessageBytes: maxMessageBytes)
        gate = MediaStreamGate(
            callID: Dialect.rules.startNamesWebhookCall ? callID : nil, accountID: accountID,
            supportedFormats: Dialect.rules.supportedFormats)
    }

    public mutating func receive(_ frame: CarrierFrame) -> Step {
        let decoded: CarrierEvent?
        do {
            decoded = try decoder.decode(frame)
        } catch {
            return .close(CarrierCloseCode(for: error), error.description, errorKind: error.metricKind)
        }
        guard let event = decoded else { return .ignore }
        switch gate.admit(event) {
        case .forward:
            return .forward(event)
        case .startStream:
            guard case .start(let start) = event else { return .forward(event) }
            encoder = Dialect.makeEncoder(for: start, decoder: decoder)
            return .started(start)
        case .refuse(let code, let reason):
            return .close(code, reason, errorKind: code == .unacceptableData ? "unsupported_format" : "stream_order")
        }
    }
}

/// What a media session makes of one inbound frame.
public enum MediaSessionStep {
    /// Pass the event to the call.
    case forward(CarrierEvent)
    /// The stream started: the session's encoder is ready, and the event goes to the call.
    case started(StreamStart)
    /// Nothing for the call.
    case ignore
    /// Close the socket: the code, the reason (log and close frame), and a bounded metrics label.
    case close(CarrierCloseCode, String, errorKind: String)
}

/// A media session whatever its dialect, for drivers that pick the dialect at run time (replay
/// of a recording names its carrier); the live handler uses `MediaSession` itself.
public protocol MediaSessionDriving {
    mutating func receive(_ frame: CarrierFrame) -> MediaSessionStep
}

/// The dialects this bridge speaks, by name: what recordings and replays name them by.
public enum CarrierDialects {
    public static let all: [any CarrierDialect.Type] = [
        TwilioDialect.self, TelnyxDialect.self, SignalWireDialect.self, PlivoDialect.self, AsteriskDialect.self, VonageDialect.self, ExotelDialect.self,
    ]

    public static var names: [String] {
        var names: [String] = []
        for dialect in all { names.append(dialect.name) }
        return names
    }

    public static func named(_ name: String) -> (any CarrierDialect.Type)? {
        all.first { $0.name == name }
    }

    /// A session in the named dialect; nil for a name no dialect has.
    public static func session(
        dialect name: String, callID: String, accountID: String?, maxMessageBytes: Int
    ) -> (any MediaSessionDriving)? {
        guard let dialect = named(name) else { return nil }
        func make<D: CarrierDialect>(_: D.Type) -> any MediaSessionDriving {
            MediaSession<D>(callID: callID, accountID: accountID, maxMessageBytes: maxMessageBytes)
        }
        return make(dialect)
    }
}
