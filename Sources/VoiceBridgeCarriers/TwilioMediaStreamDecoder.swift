import NIOCore

/// Decodes the JSON text frames Twilio sends on a Media Streams socket into `CarrierEvent`s.
///
/// `media` arrives 50 times a second per call, so it is read by scanning bytes: no JSON tree,
/// no `JSONDecoder`, and the decoded audio goes into a buffer this decoder owns and reuses.
/// The once-per-call events (`connected`, `start`, `dtmf`, `mark`, `stop`) go through `Codable`.
///
/// Unknown members are ignored (Twilio may add fields), but every documented field is checked
/// for presence and exact JSON type, and counters must be strings of decimal digits.
public struct TwilioMediaStreamDecoder: Sendable {
    public static let defaultMaxMessageBytes = 64 * 1024

    private var reader: JSONMediaMessageReader

    /// Frames above this size are refused before they are parsed.
    public var maxMessageBytes: Int {
        get { reader.maxMessageBytes }
        set { reader.maxMessageBytes = newValue }
    }

    /// Once set, `media`, `dtmf`, `mark`, `stop` (and a repeated `start`) naming another stream
    /// are refused with `.wrongStreamSid`. A successful `start` sets it if it is still nil.
    public var expectedStreamSid: String? {
        get { reader.expectedStream }
        set { reader.expectedStream = newValue }
    }

    public init(maxMessageBytes: Int = TwilioMediaStreamDecoder.defaultMaxMessageBytes) {
        reader = JSONMediaMessageReader(sequenceKey: "sequenceNumber", streamKey: "streamSid", maxMessageBytes: maxMessageBytes)
    }

    public mutating func decode(_ text: ByteBuffer) throws(CarrierProtocolError) -> CarrierEvent {
        switch try reader.read(text) {
        case .media(let media):
            return .media(media)
        case .other(let name):
            return try text.withReadableJSON { raw throws(CarrierProtocolError) in try self.decodeRareEvent(name, json: raw) }
        }
    }

    private func checkStreamSid(_ got: String) throws(CarrierProtocolError) {
        guard let expected = expectedStreamSid else { return }
        guard got == expected else { throw .wrongStreamSid(expected: expected, got: got) }
    }

    private mutating func decodeRareEvent(_ name: String, json: UnsafeRawBufferPointer) throws(CarrierProtocolError) -> CarrierEvent {
        switch name {
        case "connected":
            let message = try CarrierMessageDecoding.decode(TwilioInboundMessages.Connected.self, from: json)
            return .connected(protocolName: message.protocol, version: message.version)

        case "start":
            let message = try CarrierMessageDecoding.decode(TwilioInboundMessages.Start.self, from: json)
            let sequence = try CarrierMessageDecoding.counter(message.sequenceNumber, field: "sequenceNumber")
            guard message.streamSid == message.start.streamSid else {
                throw .wrongStreamSid(expected: message.start.streamSid, got: message.streamSid)
            }
            try checkStreamSid(message.streamSid)
            let format = message.start.mediaFormat
            guard let mediaFormat = TwilioDialect.format(encoding: format.encoding, sampleRate: format.sampleRate, channels: format.channels) else {
                throw .unsupportedFormat("start.mediaFormat.encoding \"\(format.encoding)\"")
            }
            let start = StreamStart(
                sequenceNumber: sequence,
                streamID: message.start.streamSid,
                accountID: message.start.accountSid,
                callID: message.start.callSid,
                tracks: message.start.tracks,
                customParameters: message.start.customParameters ?? [:],
                mediaFormat: mediaFormat
            )
            if expectedStreamSid == nil {
                expectedStreamSid = start.streamID
            }
            return .start(start)

        case "dtmf":
            let message = try CarrierMessageDecoding.decode(TwilioInboundMessages.DTMF.self, from: json)
            let sequence = try CarrierMessageDecoding.counter(message.sequenceNumber, field: "sequenceNumber")
            try checkStreamSid(message.streamSid)
            let digit = try CarrierMessageDecoding.dtmfDigit(message.dtmf.digit, allowed: .telephone)
            return .dtmf(DTMFPress(sequenceNumber: sequence, track: message.dtmf.track, digit: digit))

        case "mark":
            let message = try CarrierMessageDecoding.decode(TwilioInboundMessages.Mark.self, from: json)
            let sequence = try CarrierMessageDecoding.counter(message.sequenceNumber, field: "sequenceNumber")
            try checkStreamSid(message.streamSid)
            return .mark(MarkEcho(sequenceNumber: sequence, name: message.mark.name))

        case "stop":
            let message = try CarrierMessageDecoding.decode(TwilioInboundMessages.Stop.self, from: json)
            let sequence = try CarrierMessageDecoding.counter(message.sequenceNumber, field: "sequenceNumber")
            try checkStreamSid(message.streamSid)
            return .stop(StreamStop(sequenceNumber: sequence, accountID: message.stop.accountSid, callID: message.stop.callSid))

        default:
            throw .unknownEvent(name)
        }
    }
}
