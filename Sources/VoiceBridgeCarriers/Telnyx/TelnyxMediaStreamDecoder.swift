#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOCore

/// Reads what Telnyx sends on a media stream (carriers.md §1.2) into neutral events.
///
/// - `media` takes the shared scanning path (`sequence_number`, `stream_id`).
/// - Delivery order is not guaranteed (§1.5). A media frame older than one already passed on
///   (by `media.chunk`, per track) is dropped and counted rather than reordered: a jitter buffer
///   would delay every frame to fix the rare late one, and a late 20 ms of caller audio is worth
///   less to the detectors than the latency.
/// - `error` frames become notices (logged and counted); unknown events too, as the carrier
///   notes advise (§8): log them, do not close a live call over them.
/// - `start.from`/`start.to` become the `From`/`To` flow variables, as Twilio's webhook gives them.
public struct TelnyxMediaStreamDecoder: CarrierInboundDecoder, Sendable {
    private var reader: JSONMediaMessageReader
    private var lastChunk = (inbound: 0, outbound: 0)
    /// Media frames dropped because a newer one had already been passed on.
    public private(set) var staleMediaDropped = 0

    /// Once set (by `start`), events naming another stream are refused.
    public var expectedStreamID: String? {
        get { reader.expectedStream }
        set { reader.expectedStream = newValue }
    }

    public init(maxMessageBytes: Int = TwilioMediaStreamDecoder.defaultMaxMessageBytes) {
        reader = JSONMediaMessageReader(sequenceKey: "sequence_number", streamKey: "stream_id", maxMessageBytes: maxMessageBytes)
    }

    public mutating func decode(_ frame: CarrierFrame) throws(CarrierProtocolError) -> CarrierEvent? {
        guard case .text(let text) = frame else { throw .binaryFrame }
        switch try reader.read(text) {
        case .media(let media):
            let isInbound = media.track == .inbound
            let last = isInbound ? lastChunk.inbound : lastChunk.outbound
            guard media.chunk > last else {
                staleMediaDropped += 1
                return nil
            }
            if isInbound { lastChunk.inbound = media.chunk } else { lastChunk.outbound = media.chunk }
            return .media(media)
        case .other(let name):
            return try text.withReadableJSON { raw throws(CarrierProtocolError) in try self.decodeRareEvent(name, json: raw) }
        }
    }

    private mutating func decodeRareEvent(_ name: String, json: UnsafeRawBufferPointer) throws(CarrierProtocolError) -> CarrierEvent? {
        switch name {
        case "connected":
            let message = try CarrierMessageDecoding.decode(TelnyxInboundMessages.Connected.self, from: json)
            return .connected(protocolName: "", version: message.version)

        case "start":
            let message = try CarrierMessageDecoding.decode(TelnyxInboundMessages.Start.self, from: json)
            let sequence = try CarrierMessageDecoding.counter(message.sequence_number, field: "sequence_number")
            try checkStream(message.stream_id)
            let format = message.start.media_format
            guard let mediaFormat = TelnyxDialect.format(encoding: format.encoding, sampleRate: format.sample_rate, channels: format.channels) else {
                throw .unsupportedFormat("start.media_format.encoding \"\(format.encoding)\"")
            }
            var parameters = message.start.custom_parameters ?? [:]
            if let from = message.start.from { parameters["From"] = from }
            if let to = message.start.to { parameters["To"] = to }
            if expectedStreamID == nil { expectedStreamID = message.stream_id }
            return .start(StreamStart(
                sequenceNumber: sequence,
                streamID: message.stream_id,
                accountID: message.start.user_id ?? "",
                callID: message.start.call_control_id,
                tracks: ["inbound"],
                customParameters: parameters,
                mediaFormat: mediaFormat
            ))

        case "dtmf":
            let message = try CarrierMessageDecoding.decode(TelnyxInboundMessages.DTMF.self, from: json)
            let sequence = try CarrierMessageDecoding.counter(message.sequence_number, field: "sequence_number")
            try checkStream(message.stream_id)
            let digit = try CarrierMessageDecoding.dtmfDigit(message.dtmf.digit, allowed: .withLetters)
            return .dtmf(DTMFPress(sequenceNumber: sequence, track: "inbound", digit: digit))

        case "mark":
            let message = try CarrierMessageDecoding.decode(TelnyxInboundMessages.Mark.self, from: json)
            let sequence = try CarrierMessageDecoding.counter(message.sequence_number, field: "sequence_number")
            try checkStream(message.stream_id)
            return .mark(MarkEcho(sequenceNumber: sequence, name: message.mark.name))

        case "stop":
            let message = try CarrierMessageDecoding.decode(TelnyxInboundMessages.Stop.self, from: json)
            let sequence = try CarrierMessageDecoding.counter(message.sequence_number, field: "sequence_number")
            try checkStream(message.stream_id)
            return .stop(StreamStop(sequenceNumber: sequence, accountID: message.stop.user_id ?? "", callID: message.stop.call_control_id))

        case "error":
            let message = try CarrierMessageDecoding.decode(TelnyxInboundMessages.ErrorFrame.self, from: json)
            let payload = message.payload
            return .notice(CarrierNotice(kind: "error", detail: "\(payload.code) \(payload.title): \(payload.detail ?? "")"))

        default:
            return .notice(CarrierNotice(kind: "unknown_event", detail: "event \"\(name)\""))
        }
    }

    private func checkStream(_ got: String) throws(CarrierProtocolError) {
        guard let expected = expectedStreamID else { return }
        guard got == expected else { throw .wrongStreamSid(expected: expected, got: got) }
    }
}

/// Telnyx's once-per-call messages, in its own snake_case spelling. Fields the docs mark as
/// always present are required; the rest are optional.
// swiftlint:disable identifier_name
enum TelnyxInboundMessages {
    struct Connected: Decodable {
        let version: String
    }

    struct Start: Decodable {
        struct Body: Decodable {
            let user_id: String?
            let call_control_id: String
            let call_session_id: String?
            let from: String?
            let to: String?
            let tags: [String]?
            let client_state: String?
            let custom_parameters: [String: String]?
            let media_format: Format
        }

        struct Format: Decodable {
            let encoding: String
            let sample_rate: Int
            let channels: Int
        }

        let sequence_number: String
        let start: Body
        let stream_id: String
    }

    struct DTMF: Decodable {
        struct Body: Decodable {
            let digit: String
        }

        let sequence_number: String
        let stream_id: String
        let occurred_at: String?
        let dtmf: Body
    }

    struct Mark: Decodable {
        let sequence_number: String
        let stream_id: String
        let mark: TwilioInboundMessages.Mark.Body
    }

    struct Stop: Decodable {
        struct Body: Decodable {
            let user_id: String?
            let call_control_id: String
        }

        let sequence_number: String
        let stream_id: String
        let stop: Body
    }

    struct ErrorFrame: Decodable {
        struct Payload: Decodable {
            let code: Int
            let title: String
            let detail: String?
        }

        let payload: Payload
        let stream_id: String?
    }
}
// swiftlint:enable identifier_name
