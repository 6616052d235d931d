import NIOCore

/// Reads what Asterisk's `chan_websocket` sends (carriers.md §6A) into neutral events.
///
/// - Binary frames are the caller's audio, one per packetisation interval, passed on as they
///   came (no copy).
/// - Text frames are control events in JSON or plain text; the first event (`MEDIA_START`) fixes
///   which, and a later one in the other format is refused.
/// - `MEDIA_START` becomes the start: `connection_id` is the stream, `channel_id` the call,
///   `channel_variables` (JSON only) and `channel` the flow's variables.
/// - `DTMF_END` is a key, `MEDIA_MARK_PROCESSED` a mark's echo. Flow control (`MEDIA_XOFF`,
///   `MEDIA_XON`) and `ERROR` become notices; the acknowledgements of commands the bridge never
///   sends (`QUEUE_DRAINED`, `STATUS`, `MEDIA_BUFFERING_COMPLETED`) are dropped.
public struct AsteriskMediaStreamDecoder: CarrierInboundDecoder, Sendable {
    public let maxMessageBytes: Int
    /// Known once the first control event arrived.
    public private(set) var controlFormat: AsteriskDialect.ControlFormat?
    /// The `channel_id` of `MEDIA_START`; events naming another channel are refused.
    public private(set) var channelID: String?
    private var frames = 0

    public init(maxMessageBytes: Int = TwilioMediaStreamDecoder.defaultMaxMessageBytes) {
        self.maxMessageBytes = maxMessageBytes
    }

    public mutating func decode(_ frame: CarrierFrame) throws(CarrierProtocolError) -> CarrierEvent? {
        switch frame {
        case .binary(let audio):
            return .media(try InboundMedia.binaryFrame(audio, counting: &frames, frameMs: AsteriskDialect.ptimeMs, limit: maxMessageBytes))
        case .text(let text):
            guard text.readableBytes <= maxMessageBytes else {
                throw .messageTooLarge(size: text.readableBytes, limit: maxMessageBytes)
            }
            let event = try Self.parse(text)
            if let known = controlFormat, known != event.format {
                throw .invalidValue(field: "event", reason: "a \(event.format == .json ? "JSON" : "plain-text") event on a \(known == .json ? "JSON" : "plain-text") connection")
            }
            controlFormat = event.format
            return try interpret(event)
        }
    }

    private mutating func interpret(_ event: AsteriskControlEvent) throws(CarrierProtocolError) -> CarrierEvent? {
        if event.name != "MEDIA_START", let channel = event.string("channel_id"), let expected = channelID, channel != expected {
            throw .wrongStreamSid(expected: expected, got: channel)
        }
        switch event.name {
        case "MEDIA_START":
            guard channelID == nil else { throw .invalidValue(field: "event", reason: "a second MEDIA_START") }
            let connection = try event.required("connection_id")
            let formatName = try event.required("format")
            guard let format = AsteriskDialect.format(named: formatName) else {
                throw .unsupportedFormat("MEDIA_START format \"\(formatName)\"")
            }
            if let ptime = try event.integer("ptime"), ptime != AsteriskDialect.ptimeMs {
                throw .unsupportedFormat("MEDIA_START ptime \(ptime) ms; the bridge sends \(AsteriskDialect.ptimeMs) ms frames")
            }
            let channelID = event.string("channel_id") ?? connection
            self.channelID = channelID
            var parameters = event.variables
            if let channel = event.string("channel") { parameters["AsteriskChannel"] = channel }
            return .start(StreamStart(
                sequenceNumber: 0, streamID: connection, accountID: "", callID: channelID, tracks: ["inbound"],
                customParameters: parameters, mediaFormat: format))
        case "DTMF_END":
            let digit = try CarrierMessageDecoding.dtmfDigit(try event.required("digit"), allowed: .withLetters)
            return .dtmf(DTMFPress(sequenceNumber: frames, track: "inbound", digit: digit))
        case "MEDIA_MARK_PROCESSED":
            return .mark(MarkEcho(sequenceNumber: frames, name: try event.required("correlation_id")))
        case "MEDIA_XOFF", "MEDIA_XON":
            return .notice(CarrierNotice(kind: event.name.lowercased(), detail: "Asterisk's media queue flow control"))
        case "ERROR":
            return .notice(CarrierNotice(kind: "error", detail: event.string("error_text") ?? ""))
        case "QUEUE_DRAINED", "STATUS", "MEDIA_BUFFERING_COMPLETED":
            return nil
        default:
            return .notice(CarrierNotice(kind: "unknown_event", detail: "event \"\(event.name)\""))
        }
    }

    static func parse(_ text: ByteBuffer) throws(CarrierProtocolError) -> AsteriskControlEvent {
        let first = text.readableBytesView.first { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\r") }
        if first == UInt8(ascii: "{") {
            return try text.withReadableJSON { raw throws(CarrierProtocolError) in try AsteriskControlEvent(json: raw) }
        }
        return try AsteriskControlEvent(plainText: String(buffer: text))
    }
}

/// One control message, whichever its format: a name and its fields as text.
struct AsteriskControlEvent: Sendable {
    let format: AsteriskDialect.ControlFormat
    let name: String
    private var fields: [String: String]
    /// Fields that came as JSON numbers: only counts and sizes may.
    private var numeric: Set<String> = []
    /// `channel_variables` (JSON only).
    private(set) var variables: [String: String] = [:]

    /// `{"event":"NAME","key":value,…}`: strings and integers are kept as text; objects other
    /// than `channel_variables` and arrays are skipped.
    init(json raw: UnsafeRawBufferPointer) throws(CarrierProtocolError) {
        format = .json
        var scanner = JSONScanner(raw)
        try scanner.beginObject()
        var fields: [String: String] = [:]
        var numeric: Set<String> = []
        var variables: [String: String] = [:]
        var name: String?
        var isFirst = true
        while let key = try scanner.nextKey(isFirst: &isFirst) {
            let keyText = try scanner.string(key, field: "key")
            let value = try scanner.scanValue(depth: 1)
            switch value {
            case .string(let span):
                let text = try scanner.string(span, field: keyText)
                if keyText == "event" { name = text } else { fields[keyText] = text }
            case .number(let start, let end):
                fields[keyText] = String(decoding: UnsafeRawBufferPointer(rebasing: raw[start..<end]), as: UTF8.self)
                numeric.insert(keyText)
            case .object(let start) where keyText == "channel_variables":
                var inner = JSONScanner(raw, position: start)
                try inner.beginObject()
                var innerFirst = true
                while let variable = try inner.nextKey(isFirst: &innerFirst) {
                    let variableName = try inner.string(variable, field: "channel_variables")
                    guard case .string(let span) = try inner.scanValue(depth: 2) else {
                        throw .wrongType(field: "channel_variables.\(variableName)", expected: "string")
                    }
                    variables[variableName] = try inner.string(span, field: "channel_variables.\(variableName)")
                }
            case .bool(let flag):
                fields[keyText] = flag ? "true" : "false"
            default:
                continue
            }
            if keyText == "event", name == nil { throw .wrongType(field: "event", expected: "string") }
        }
        try scanner.expectEnd()
        guard let name else { throw .missingField("event") }
        self.name = name
        self.fields = fields
        self.numeric = numeric
        self.variables = variables
    }

    /// `NAME key:value key:value`: values run to the next space.
    init(plainText text: String) throws(CarrierProtocolError) {
        format = .plainText
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\r" })
        guard let first = words.first, first.allSatisfy({ $0.isUppercase || $0 == "_" }) else {
            throw .malformedJSON("not an Asterisk control message: \"\(text.prefix(40))\"")
        }
        name = String(first)
        var fields: [String: String] = [:]
        for word in words.dropFirst() {
            guard let colon = word.firstIndex(of: ":") else {
                throw .invalidValue(field: name, reason: "expected key:value, got \"\(word)\"")
            }
            fields[String(word[..<colon])] = String(word[word.index(after: colon)...])
        }
        self.fields = fields
    }

    /// A text field; a number where text is due reads as absent (`required` says it is the wrong type).
    func string(_ key: String) -> String? { numeric.contains(key) ? nil : fields[key] }

    func required(_ key: String) throws(CarrierProtocolError) -> String {
        if numeric.contains(key) { throw .wrongType(field: key, expected: "string") }
        guard let value = fields[key], !value.isEmpty else { throw .missingField(key) }
        return value
    }

    func integer(_ key: String) throws(CarrierProtocolError) -> Int? {
        guard let text = fields[key] else { return nil }
        if format == .json, !numeric.contains(key) { throw .wrongType(field: key, expected: "number") }
        guard let value = Int(text), value >= 0 else { throw .invalidValue(field: key, reason: "expected a whole number, got \"\(text)\"") }
        return value
    }
}
