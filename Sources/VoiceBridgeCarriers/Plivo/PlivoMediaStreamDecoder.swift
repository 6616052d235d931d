import NIOCore

/// Reads what Plivo sends on an audio stream (carriers.md §2.2) into neutral events.
///
/// - `media` takes the shared scanning path with numeric counters; its `timestamp` is a string of
///   Unix epoch milliseconds, reported to the call as milliseconds since the first frame.
/// - `playedStream` (and `played`, the support pages' spelling) is a checkpoint's echo.
/// - `clearedAudio` acknowledges a clear: nothing for the call (it already resolved its marks).
/// - `stop` is not in Plivo's protocol pages but its SDK decodes one, so it is read leniently;
///   `playFailed`, `error` and unknown events become notices (logged, counted, never a close).
/// - The parser is lenient about what Plivo clones leave out (`streamId` on `playedStream`), strict
///   on the type of every field it reads.
public struct PlivoMediaStreamDecoder: CarrierInboundDecoder, Sendable {
    private var reader: JSONMediaMessageReader
    private var firstTimestamp: Int?

    /// Once set (by `start`), events naming another stream are refused.
    public var expectedStreamID: String? {
        get { reader.expectedStream }
        set { reader.expectedStream = newValue }
    }

    public init(maxMessageBytes: Int = TwilioMediaStreamDecoder.defaultMaxMessageBytes) {
        reader = JSONMediaMessageReader(
            sequenceKey: "sequenceNumber", streamKey: "streamId", streamRequired: false, counters: .number,
            maxMessageBytes: maxMessageBytes)
    }

    public mutating func decode(_ frame: CarrierFrame) throws(CarrierProtocolError) -> CarrierEvent? {
        guard case .text(let text) = frame else { throw .binaryFrame }
        switch try reader.read(text) {
        case .media(var media):
            let first = firstTimestamp ?? media.timestampMs
            firstTimestamp = first
            media.timestampMs = max(0, media.timestampMs - first)
            return .media(media)
        case .other(let name):
            return try text.withReadableJSON { raw throws(CarrierProtocolError) in try self.decodeRareEvent(name, json: raw) }
        }
    }

    private mutating func decodeRareEvent(_ name: String, json: UnsafeRawBufferPointer) throws(CarrierProtocolError) -> CarrierEvent? {
        switch name {
        case "start":
            let message = try CarrierMessageDecoding.decode(PlivoInboundMessages.Start.self, from: json)
            let sequence = try Self.counter(message.sequenceNumber, field: "sequenceNumber")
            let body = message.start
            try checkStream(body.streamId)
            guard let format = PlivoDialect.format(encoding: body.mediaFormat.encoding, sampleRate: body.mediaFormat.sampleRate) else {
                throw .unsupportedFormat("start.mediaFormat.encoding \"\(body.mediaFormat.encoding)\"")
            }
            if expectedStreamID == nil { expectedStreamID = body.streamId }
            return .start(StreamStart(
                sequenceNumber: sequence,
                streamID: body.streamId,
                accountID: body.accountId ?? "",
                callID: body.callId,
                tracks: body.tracks ?? ["inbound"],
                customParameters: Self.extraHeaders(message.extra_headers),
                mediaFormat: format
            ))

        case "dtmf":
            let message = try CarrierMessageDecoding.decode(PlivoInboundMessages.DTMF.self, from: json)
            let sequence = try Self.counter(message.sequenceNumber, field: "sequenceNumber")
            try checkStream(message.streamId)
            let digit = try CarrierMessageDecoding.dtmfDigit(message.dtmf.digit, allowed: .withLetters)
            return .dtmf(DTMFPress(sequenceNumber: sequence, track: message.dtmf.track ?? "inbound", digit: digit))

        case "playedStream", "played":
            let message = try CarrierMessageDecoding.decode(PlivoInboundMessages.Played.self, from: json)
            let sequence = try Self.counter(message.sequenceNumber ?? 0, field: "sequenceNumber")
            try checkStream(message.streamId)
            return .mark(MarkEcho(sequenceNumber: sequence, name: message.name))

        case "clearedAudio":
            let message = try CarrierMessageDecoding.decode(PlivoInboundMessages.Cleared.self, from: json)
            try checkStream(message.streamId)
            return nil

        case "stop":
            let message = try CarrierMessageDecoding.decode(PlivoInboundMessages.Stop.self, from: json)
            let sequence = try Self.counter(message.sequenceNumber ?? 0, field: "sequenceNumber")
            try checkStream(message.streamId)
            return .stop(StreamStop(sequenceNumber: sequence, accountID: "", callID: ""))

        case "playFailed", "error":
            return .notice(CarrierNotice(kind: name == "error" ? "error" : "play_failed", detail: String(decoding: json, as: UTF8.self)))

        default:
            return .notice(CarrierNotice(kind: "unknown_event", detail: "event \"\(name)\""))
        }
    }

    private func checkStream(_ got: String?) throws(CarrierProtocolError) {
        guard let got, let expected = expectedStreamID else { return }
        guard got == expected else { throw .wrongStreamSid(expected: expected, got: got) }
    }

    private static func counter(_ value: Int, field: String) throws(CarrierProtocolError) -> Int {
        guard value >= 0 else { throw .invalidValue(field: field, reason: "negative counter") }
        return value
    }

    /// `extraHeaders` as `start` repeats them: `a=1,b=2` in one page of Plivo's docs, `a=1;b=2`
    /// in another, so both separators split (carriers.md §2.1).
    static func extraHeaders(_ text: String?) -> [String: String] {
        guard let text else { return [:] }
        var values: [String: String] = [:]
        for pair in text.split(whereSeparator: { $0 == "," || $0 == ";" }) {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty else { continue }
            values[String(parts[0])] = String(parts[1])
        }
        return values
    }
}

/// Plivo's once-per-call messages. Fields Plivo documents as always present are required; the
/// rest are optional, since Plivo-compatible carriers leave some out.
// swiftlint:disable identifier_name
enum PlivoInboundMessages {
    struct Start: Decodable {
        struct Body: Decodable {
            let callId: String
            let streamId: String
            let accountId: String?
            let tracks: [String]?
            let mediaFormat: Format
        }

        struct Format: Decodable {
            let encoding: String
            let sampleRate: Int
        }

        let sequenceNumber: Int
        let start: Body
        let extra_headers: String?
    }

    struct DTMF: Decodable {
        struct Body: Decodable {
            let track: String?
            let digit: String
            let timestamp: String?
        }

        let sequenceNumber: Int
        let streamId: String?
        let dtmf: Body
    }

    struct Played: Decodable {
        let sequenceNumber: Int?
        let streamId: String?
        let name: String
    }

    struct Cleared: Decodable {
        let sequenceNumber: Int?
        let streamId: String?
    }

    struct Stop: Decodable {
        let sequenceNumber: Int?
        let streamId: String?
        let reason: String?
    }
}
// swiftlint:enable identifier_name
