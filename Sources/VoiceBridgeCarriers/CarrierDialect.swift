import NIOCore

/// A whole WebSocket message as it came off a carrier's media socket.
public enum CarrierFrame {
    case text(ByteBuffer)
    case binary(ByteBuffer)
}

/// Which WebSocket opcode a message goes out in.
public enum CarrierFrameKind: Sendable, Equatable {
    case text
    case binary
}

/// Reads one carrier's inbound wire messages into neutral events.
public protocol CarrierInboundDecoder {
    /// nil: the message asks nothing of the call (a stale frame dropped, a notice logged).
    /// Throws for a message the carrier should never send; the session closes the socket.
    mutating func decode(_ frame: CarrierFrame) throws(CarrierProtocolError) -> CarrierEvent?
}

/// Writes one carrier's outbound messages (the three playout commands) into a buffer, exactly
/// as the carrier documents them: strict carriers drop a message with an extra field.
public protocol CarrierOutboundEncoder {
    /// How `writeMedia` output is framed: text for JSON dialects, binary for Vonage and Asterisk.
    var mediaFrameKind: CarrierFrameKind { get }
    /// Audio in the stream's format, at most one 20 ms frame per call on the media path.
    func writeMedia(_ payload: UnsafeRawBufferPointer, into buffer: inout ByteBuffer)
    /// A checkpoint echoed once everything before it has played (Twilio's `mark`, Plivo's `checkpoint`).
    func writeMark(name: String, into buffer: inout ByteBuffer)
    /// Drop everything queued at the carrier.
    func writeClear(into buffer: inout ByteBuffer)
}

/// What differs between carriers beyond the bytes: the rules a session follows.
public struct CarrierSessionRules: Sendable {
    /// Twilio and Telnyx echo every pending mark when a clear drops them; Plivo and Asterisk drop
    /// them silently. The call resolves pending marks itself when the carrier stays silent.
    public var echoesMarksOnClear: Bool
    /// The formats the bridge plays on this carrier. A start announcing any other is refused
    /// (rather than answered in the wrong format).
    public var supportedFormats: [MediaFormat]
    /// Whether the start names the call by the id its answer webhook carried (Twilio's CallSid).
    /// Telnyx's start carries a call_control_id where TeXML's webhook had a CallSid, so there the
    /// one-time token in the stream URL is the only binding.
    public var startNamesWebhookCall: Bool
    /// The smallest media message the carrier plays without distortion (Exotel: 3,200 bytes in
    /// multiples of 320); the call then sends whole multiples of its 20 ms frame that reach it.
    public var minimumMediaBytes: Int

    public init(echoesMarksOnClear: Bool, supportedFormats: [MediaFormat], startNamesWebhookCall: Bool = true, minimumMediaBytes: Int = 0) {
        self.echoesMarksOnClear = echoesMarksOnClear
        self.supportedFormats = supportedFormats
        self.startNamesWebhookCall = startNamesWebhookCall
        self.minimumMediaBytes = minimumMediaBytes
    }
}

/// One carrier's media-stream dialect: its wire codec and its session rules. The live handler and
/// replay are generic over it, so the media path dispatches statically.
public protocol CarrierDialect {
    associatedtype Decoder: CarrierInboundDecoder
    associatedtype Encoder: CarrierOutboundEncoder

    /// Lower-case name used in config, metrics labels, logs and `voicebridge call --carrier`.
    static var name: String { get }
    static var rules: CarrierSessionRules { get }
    static func makeDecoder(maxMessageBytes: Int) -> Decoder
    /// Built once the stream has started: outbound messages may need its ids, or what the
    /// decoder learned (Asterisk answers in the control format its peer spoke).
    static func makeEncoder(for start: StreamStart, decoder: Decoder) -> Encoder
}

/// The WebSocket close code a session asks for, in RFC 6455's numbers, so that this module needs
/// no WebSocket library; the server and replay convert it.
public struct CarrierCloseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let normalClosure = CarrierCloseCode(rawValue: 1000)
    public static let goingAway = CarrierCloseCode(rawValue: 1001)
    public static let protocolError = CarrierCloseCode(rawValue: 1002)
    public static let unacceptableData = CarrierCloseCode(rawValue: 1003)
    public static let dataInconsistentWithMessage = CarrierCloseCode(rawValue: 1007)
    public static let policyViolation = CarrierCloseCode(rawValue: 1008)
    public static let messageTooLarge = CarrierCloseCode(rawValue: 1009)
    public static let unexpectedServerError = CarrierCloseCode(rawValue: 1011)

    public var description: String { String(rawValue) }

    /// The close code for a message a decoder refused.
    public init(for error: CarrierProtocolError) {
        switch error {
        case .messageTooLarge: self = .messageTooLarge
        case .binaryFrame, .textFrame, .unsupportedFormat: self = .unacceptableData
        case .malformedJSON, .invalidBase64: self = .dataInconsistentWithMessage
        default: self = .policyViolation
        }
    }
}

extension CarrierProtocolError {
    /// A bounded label for `voicebridge_errors_total{kind=...}`.
    public var metricKind: String {
        switch self {
        case .messageTooLarge: "message_too_large"
        case .binaryFrame: "binary_frame"
        case .textFrame: "text_frame"
        case .unsupportedFormat: "unsupported_format"
        case .malformedJSON: "malformed_json"
        case .unknownEvent: "unknown_event"
        case .invalidBase64: "invalid_base64"
        case .wrongStreamSid: "wrong_stream_sid"
        default: "invalid_message"
        }
    }
}

extension ByteBuffer {
    /// `withUnsafeReadableBytes` with a typed error passed through (NIO's rethrows untyped); a
    /// message over `limit` bytes is refused before it is read.
    func withReadableJSON<T>(
        limit: Int = .max, _ body: (UnsafeRawBufferPointer) throws(CarrierProtocolError) -> T
    ) throws(CarrierProtocolError) -> T {
        guard readableBytes <= limit else { throw .messageTooLarge(size: readableBytes, limit: limit) }
        let result = withUnsafeReadableBytes { raw -> Result<T, CarrierProtocolError> in
            do throws(CarrierProtocolError) {
                return .success(try body(raw))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}
