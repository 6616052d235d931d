import VoiceBridgeCarriers
import Foundation

/// A message the client sends (doc §1.4, §2.1), encoded with the exact field names and a fixed
/// field order, so equal messages are equal bytes and tests can compare whole JSON strings.
///
/// `context_id` is included when the message names a context (multi-stream-input) and left out
/// otherwise (stream-input).
public enum ElevenLabsWebSocketMessage: Sendable, Equatable {
    /// The first message of a socket (or a context's first one): `text` is a single space. The
    /// settings go only in the socket's first message; later contexts inherit them.
    case initialize(contextID: String?, voiceSettings: ElevenLabsVoiceSettings?, schedule: ElevenLabsChunkSchedule?)
    /// Text ending with exactly one space (the encoder makes sure), optionally asking for a
    /// generation now or forcing one.
    case text(String, contextID: String?, tryTriggerGeneration: Bool = false, flush: Bool = false)
    /// Generate everything buffered in the context now.
    case flush(contextID: String?)
    /// Keeps a context from the inactivity timeout: `{"text":"","context_id":…}` on
    /// multi-stream-input (§2.1: "ignored, but resets that context's inactivity clock"; a space
    /// would pile up in the context's buffer and end up generated), `{"text":" "}` on
    /// stream-input, where an empty text would end the stream (§1.4).
    case keepAlive(contextID: String?)
    /// Stream-input's end of input: `{"text":""}`.
    case endOfInput
    /// Multi-context: no more generation for this context; its `isFinal` follows.
    case closeContext(contextID: String)
    /// Multi-context: finish and close the socket.
    case closeSocket

    /// The JSON text frame.
    public var json: String {
        var w = JSONObjectWriter()
        switch self {
        case .initialize(let contextID, let settings, let schedule):
            w.string("text", " ")
            if let contextID { w.string("context_id", contextID) }
            if let settings { w.raw("voice_settings", Self.settingsJSON(settings)) }
            if let schedule {
                w.raw("generation_config", "{\"chunk_length_schedule\":[\(schedule.values.map(String.init).joined(separator: ","))]}")
            }
        case .text(let text, let contextID, let tryTrigger, let flush):
            w.string("text", Self.endingWithOneSpace(text))
            if let contextID { w.string("context_id", contextID) }
            if tryTrigger { w.raw("try_trigger_generation", "true") }
            if flush { w.raw("flush", "true") }
        case .flush(let contextID):
            // An empty text would end a stream-input socket; a space is harmless.
            w.string("text", contextID == nil ? " " : "")
            if let contextID { w.string("context_id", contextID) }
            w.raw("flush", "true")
        case .keepAlive(let contextID):
            w.string("text", contextID == nil ? " " : "")
            if let contextID { w.string("context_id", contextID) }
        case .endOfInput:
            w.string("text", "")
        case .closeContext(let contextID):
            w.string("context_id", contextID)
            w.raw("close_context", "true")
        case .closeSocket:
            w.raw("close_socket", "true")
        }
        return w.finish()
    }

    /// The text with its trailing whitespace replaced by exactly one space (§1.4: every text
    /// message ends with one).
    static func endingWithOneSpace(_ text: String) -> String {
        var t = Substring(text)
        while let last = t.last, last.isWhitespace { t = t.dropLast() }
        return t + " "
    }

    static func settingsJSON(_ s: ElevenLabsVoiceSettings) -> String {
        var w = JSONObjectWriter()
        if let v = s.stability { w.raw("stability", JSONObjectWriter.number(v)) }
        if let v = s.similarityBoost { w.raw("similarity_boost", JSONObjectWriter.number(v)) }
        if let v = s.style { w.raw("style", JSONObjectWriter.number(v)) }
        if let v = s.useSpeakerBoost { w.raw("use_speaker_boost", v ? "true" : "false") }
        if let v = s.speed { w.raw("speed", JSONObjectWriter.number(v)) }
        return w.finish()
    }
}

/// Writes one JSON object field by field, in the order given.
struct JSONObjectWriter {
    private var out = "{"
    private var first = true

    mutating func string(_ key: String, _ value: String) {
        raw(key, Self.quoted(value))
    }

    mutating func raw(_ key: String, _ json: String) {
        if !first { out += "," }
        first = false
        out += Self.quoted(key) + ":" + json
    }

    mutating func finish() -> String {
        out + "}"
    }

    static func quoted(_ s: String) -> String {
        var r = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": r += "\\\""
            case "\\": r += "\\\\"
            case "\n": r += "\\n"
            case "\r": r += "\\r"
            case "\t": r += "\\t"
            case let c where c.value < 0x20:
                r += "\\u" + String(repeating: "0", count: 4 - String(c.value, radix: 16).count) + String(c.value, radix: 16)
            default: r.unicodeScalars.append(scalar)
            }
        }
        return r + "\""
    }

    /// Whole numbers without a fraction ("1"), others as Swift prints them ("0.5").
    static func number(_ v: Double) -> String {
        if v.isFinite, v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }
}

/// A message from the server (doc §1.5, §2.2), parsed leniently: both spellings of the keys
/// that the docs and the service disagree on are accepted.
public struct ElevenLabsWebSocketServerMessage: Sendable, Equatable {
    /// Decoded `audio` (in the socket's output format); nil when absent or null.
    public var audio: [UInt8]?
    /// `isFinal` / `is_final`.
    public var isFinal: Bool
    /// `contextId` / `context_id`.
    public var contextID: String?
    /// `alignment` (the original text's characters).
    public var alignment: Alignment?
    /// `normalizedAlignment` / `normalized_alignment`.
    public var normalizedAlignment: Alignment?
    /// An error frame's `message`, `error` and `code`.
    public var message: String?
    public var error: String?
    public var code: Int?

    public init(
        audio: [UInt8]? = nil, isFinal: Bool = false, contextID: String? = nil, alignment: Alignment? = nil,
        normalizedAlignment: Alignment? = nil, message: String? = nil, error: String? = nil, code: Int? = nil
    ) {
        self.audio = audio
        self.isFinal = isFinal
        self.contextID = contextID
        self.alignment = alignment
        self.normalizedAlignment = normalizedAlignment
        self.message = message
        self.error = error
        self.code = code
    }

    /// An error frame (no audio, not final, with a `message` or `error`).
    public var isError: Bool { audio == nil && !isFinal && (message != nil || error != nil) }

    /// For an error message, its full text (`message`, else `error`): what a close that follows
    /// reports, since the close's own reason may be cut.
    public var errorText: String? { isError ? message ?? error : nil }

    /// Parses one text frame.
    public init(parsing text: String) throws(ElevenLabsWebSocketError) {
        var text = text
        let parsed = text.withUTF8 { bytes in
            Result { () throws(ElevenLabsWebSocketError) in try Self(scanning: UnsafeRawBufferPointer(bytes)) }
        }
        self = try parsed.get()
    }

    /// Parses one text frame in place: a byte scanner and the fast base64 decoder, no JSON tree
    /// (an `audio` message is parsed many times a second per call). Keys the service and its docs
    /// spell two ways are both accepted; unknown keys are skipped.
    public init(scanning bytes: UnsafeRawBufferPointer) throws(ElevenLabsWebSocketError) {
        self.init()
        do {
            var scanner = JSONScanner(bytes)
            try scanner.beginObject()
            var isFirst = true
            while let key = try scanner.nextKey(isFirst: &isFirst) {
                let value = try scanner.scanValue()
                if case .null = value { continue }
                if scanner.content(key, equals: "audio") {
                    audio = try Self.audio(value, scanner)
                } else if scanner.content(key, equals: "isFinal") || scanner.content(key, equals: "is_final") {
                    guard case let .bool(flag) = value else { throw CarrierProtocolError.wrongType(field: "isFinal", expected: "boolean") }
                    isFinal = flag
                } else if scanner.content(key, equals: "contextId") || scanner.content(key, equals: "context_id") {
                    contextID = try Self.string(value, scanner, field: "contextId")
                } else if scanner.content(key, equals: "alignment") {
                    alignment = try Self.alignment(value, scanner)
                } else if scanner.content(key, equals: "normalizedAlignment") || scanner.content(key, equals: "normalized_alignment") {
                    normalizedAlignment = try Self.alignment(value, scanner)
                } else if scanner.content(key, equals: "message") {
                    message = try? Self.string(value, scanner, field: "message")
                } else if scanner.content(key, equals: "error") {
                    error = try? Self.string(value, scanner, field: "error")
                } else if scanner.content(key, equals: "code") {
                    code = try? scanner.integer(value, field: "code")
                }
            }
            try scanner.expectEnd()
        } catch let failure as ElevenLabsWebSocketError {
            throw failure
        } catch {
            let preview = String(decoding: UnsafeRawBufferPointer(rebasing: bytes.prefix(80)), as: UTF8.self)
            throw .malformedMessage("not valid JSON (\(error)): \(preview)")
        }
    }

    private static func string(_ value: JSONValueSpan, _ scanner: JSONScanner, field: String) throws -> String {
        guard case let .string(span) = value else { throw CarrierProtocolError.wrongType(field: field, expected: "string") }
        return try scanner.string(span, field: field)
    }

    /// Base64 straight from the frame into the chunk's bytes: one allocation, no `Data`.
    private static func audio(_ value: JSONValueSpan, _ scanner: JSONScanner) throws -> [UInt8] {
        guard case let .string(span) = value, !span.hasEscapes else {
            throw ElevenLabsWebSocketError.malformedMessage("audio is not base64")
        }
        let encoded = scanner.rawContent(span)
        let capacity = Base64Fast.maxDecodedLength(encoded.count)
        var failed = false
        let audio = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            if let n = Base64Fast.decode(encoded, into: UnsafeMutableRawBufferPointer(buffer)) {
                count = n
            } else {
                failed = true
                count = 0
            }
        }
        if failed { throw ElevenLabsWebSocketError.malformedMessage("audio is not base64") }
        return audio
    }

    /// `{"chars","charStartTimesMs","charDurationsMs"}`; the 2025 spec's `charsDurationsMs` too.
    private static func alignment(_ value: JSONValueSpan, _ scanner: JSONScanner) throws -> Alignment? {
        guard case let .object(start) = value else { return nil }
        var chars: [String] = []
        var starts: [Int] = []
        var durations: [Int] = []
        var inner = JSONScanner(scanner.bytes, position: start)
        try inner.beginObject()
        var isFirst = true
        while let key = try inner.nextKey(isFirst: &isFirst) {
            let member = try inner.scanValue(depth: 1)
            guard case let .array(arrayStart) = member else { continue }
            // Each array is sized once: growing three arrays element by element cost 18 allocations
            // for an 18-character chunk.
            let count = try inner.elementCount(ofArrayAt: arrayStart)
            if inner.content(key, equals: "chars") {
                chars.reserveCapacity(count)
                try inner.forEachElement(ofArrayAt: arrayStart) { element, s throws(CarrierProtocolError) in
                    if case let .string(span) = element { chars.append(try s.string(span, field: "chars")) }
                }
            } else if inner.content(key, equals: "charStartTimesMs") {
                starts.reserveCapacity(count)
                try inner.forEachElement(ofArrayAt: arrayStart) { element, s throws(CarrierProtocolError) in
                    starts.append(try s.integer(element, field: "charStartTimesMs"))
                }
            } else if inner.content(key, equals: "charDurationsMs") || inner.content(key, equals: "charsDurationsMs") {
                durations.reserveCapacity(count)
                try inner.forEachElement(ofArrayAt: arrayStart) { element, s throws(CarrierProtocolError) in
                    durations.append(try s.integer(element, field: "charDurationsMs"))
                }
            }
        }
        guard chars.count == starts.count, chars.count == durations.count else {
            throw ElevenLabsWebSocketError.malformedMessage(
                "alignment arrays differ in length (\(chars.count), \(starts.count), \(durations.count))")
        }
        return Alignment(chars: chars, charStartTimesMs: starts, charDurationsMs: durations)
    }
}

extension ElevenLabsWebSocketServerMessage: ElevenLabsServerMessage {}
