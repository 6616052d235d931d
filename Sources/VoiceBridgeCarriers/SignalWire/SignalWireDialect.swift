import Foundation
import NIOCore

/// SignalWire's cXML `<Stream>` (carriers.md §3): Twilio's dialect with its own differences. The
/// server answers exactly as to Twilio (`media`, `mark`, `clear` with `streamSid`), so Twilio's
/// encoder serves; inbound is read leniently where SignalWire's documented shapes leave fields
/// out (no top-level `streamSid` on `start`/`media`/`stop`, `dtmf` with `duration` and no
/// `track`, `stop` with nothing but its counter, `mark` echoes without one).
public enum SignalWireDialect: CarrierDialect {
    public static let name = "signalwire"
    public static let rules = CarrierSessionRules(echoesMarksOnClear: true, supportedFormats: [.mulaw8kMono])

    public static func makeDecoder(maxMessageBytes: Int) -> SignalWireMediaStreamDecoder {
        SignalWireMediaStreamDecoder(maxMessageBytes: maxMessageBytes)
    }

    public static func makeEncoder(for start: StreamStart, decoder: SignalWireMediaStreamDecoder) -> TwilioMediaStreamEncoder {
        TwilioMediaStreamEncoder(streamSid: start.streamID)
    }

    /// SignalWire writes `audio/x-L16` with a capital L; L16's byte order is unstated, and the
    /// transports seen pass it on as little-endian (§3.4).
    public static func format(encoding: String, sampleRate: Int, channels: Int) -> MediaFormat? {
        TwilioDialect.format(encoding: encoding, sampleRate: sampleRate, channels: channels)
    }
}

public struct SignalWireMediaStreamDecoder: CarrierInboundDecoder, Sendable {
    private var reader: JSONMediaMessageReader

    /// Once set (by `start`), a message that names another stream is refused; one that names
    /// none is accepted, as SignalWire's examples send them.
    public var expectedStreamSid: String? {
        get { reader.expectedStream }
        set { reader.expectedStream = newValue }
    }

    public init(maxMessageBytes: Int = TwilioMediaStreamDecoder.defaultMaxMessageBytes) {
        reader = JSONMediaMessageReader(
            sequenceKey: "sequenceNumber", streamKey: "streamSid", streamRequired: false, maxMessageBytes: maxMessageBytes)
    }

    public mutating func decode(_ frame: CarrierFrame) throws(CarrierProtocolError) -> CarrierEvent? {
        guard case .text(let text) = frame else { throw .binaryFrame }
        switch try reader.read(text) {
        case .media(let media):
            return .media(media)
        case .other(let name):
            return try text.withReadableJSON { raw throws(CarrierProtocolError) in try self.decodeRareEvent(name, json: raw) }
        }
    }

    private mutating func decodeRareEvent(_ name: String, json: UnsafeRawBufferPointer) throws(CarrierProtocolError) -> CarrierEvent? {
        switch name {
        case "connected":
            let message = try CarrierMessageDecoding.decode(SignalWireInboundMessages.Connected.self, from: json)
            return .connected(protocolName: message.protocol ?? "", version: message.version)

        case "start":
            let message = try CarrierMessageDecoding.decode(SignalWireInboundMessages.Start.self, from: json)
            let sequence = try CarrierMessageDecoding.counter(message.sequenceNumber, field: "sequenceNumber")
            if let top = message.streamSid, top != message.start.streamSid {
                throw .wrongStreamSid(expected: message.start.streamSid, got: top)
            }
            try checkStream(message.start.streamSid)
            let format = message.start.mediaFormat
            guard let mediaFormat = SignalWireDialect.format(encoding: format.encoding, sampleRate: format.sampleRate, channels: format.channels) else {
                throw .unsupportedFormat("start.mediaFormat.encoding \"\(format.encoding)\"")
            }
            if expectedStreamSid == nil { expectedStreamSid = message.start.streamSid }
            return .start(StreamStart(
                sequenceNumber: sequence, streamID: message.start.streamSid, accountID: message.start.accountSid,
                callID: message.start.callSid, tracks: message.start.tracks ?? ["inbound"],
                customParameters: message.start.customParameters ?? [:], mediaFormat: mediaFormat))

        case "dtmf":
            let message = try CarrierMessageDecoding.decode(SignalWireInboundMessages.DTMF.self, from: json)
            let sequence = try message.sequenceNumber.map { (text) throws(CarrierProtocolError) in
                try CarrierMessageDecoding.counter(text, field: "sequenceNumber")
            } ?? 0
            try checkStream(message.streamSid)
            let digit = try CarrierMessageDecoding.dtmfDigit(message.dtmf.digit, allowed: .withLetters)
            return .dtmf(DTMFPress(sequenceNumber: sequence, track: "inbound", digit: digit))

        case "mark":
            let message = try CarrierMessageDecoding.decode(SignalWireInboundMessages.Mark.self, from: json)
            let sequence = try message.sequenceNumber.map { (text) throws(CarrierProtocolError) in
                try CarrierMessageDecoding.counter(text, field: "sequenceNumber")
            } ?? 0
            try checkStream(message.streamSid)
            return .mark(MarkEcho(sequenceNumber: sequence, name: message.mark.name))

        case "stop":
            let message = try CarrierMessageDecoding.decode(SignalWireInboundMessages.Stop.self, from: json)
            let sequence = try CarrierMessageDecoding.counter(message.sequenceNumber, field: "sequenceNumber")
            try checkStream(message.streamSid)
            return .stop(StreamStop(sequenceNumber: sequence, accountID: message.stop?.accountSid ?? "", callID: message.stop?.callSid ?? ""))

        default:
            throw .unknownEvent(name)
        }
    }

    private func checkStream(_ got: String?) throws(CarrierProtocolError) {
        guard let got, let expected = expectedStreamSid else { return }
        guard got == expected else { throw .wrongStreamSid(expected: expected, got: got) }
    }
}

/// SignalWire's once-per-call messages: Twilio's names, with the fields SignalWire may leave out
/// optional.
enum SignalWireInboundMessages {
    struct Connected: Decodable {
        let `protocol`: String?
        let version: String
    }

    struct Start: Decodable {
        struct Body: Decodable {
            let streamSid: String
            let accountSid: String
            let callSid: String
            let tracks: [String]?
            let customParameters: [String: String]?
            let mediaFormat: Format
        }

        typealias Format = TwilioInboundMessages.Start.Format

        let sequenceNumber: String
        let streamSid: String?
        let start: Body
    }

    struct DTMF: Decodable {
        struct Body: Decodable {
            let digit: String
            let duration: Int?
        }

        let sequenceNumber: String?
        let streamSid: String?
        let dtmf: Body
    }

    struct Mark: Decodable {
        let sequenceNumber: String?
        let streamSid: String?
        let mark: TwilioInboundMessages.Mark.Body
    }

    struct Stop: Decodable {
        struct Body: Decodable {
            let accountSid: String?
            let callSid: String?
        }

        let sequenceNumber: String
        let streamSid: String?
        let stop: Body?
    }
}
