/// ConversationRelay messages to and from JSON text (doc §3, §4). No sockets.
///
/// Outbound messages are written field by field in the documented order, with the documented
/// names, casing and JSON types. Inbound messages are validated strictly: an unknown `type`, a
/// missing required field or a field of the wrong JSON type is a `RelayMessageError`. Fields the
/// protocol does not define are ignored, as on Twilio, so newer apps keep working.
public enum RelayCodec {
    public static func encode(_ message: RelayOutbound) -> String {
        var w = RelayJSONWriter()
        switch message {
        case let .setup(s):
            w.string("type", "setup")
            w.string("sessionId", s.sessionId)
            w.string("accountSid", s.accountSid)
            w.string("callSid", s.callSid)
            w.string("parentCallSid", s.parentCallSid)
            w.string("from", s.from)
            w.string("to", s.to)
            w.string("forwardedFrom", s.forwardedFrom)
            w.string("callerName", s.callerName)
            w.string("direction", s.direction)
            w.string("callType", s.callType)
            w.string("callStatus", s.callStatus)
            w.stringMap("customParameters", s.customParameters)
        case let .dtmf(digit):
            w.string("type", "dtmf")
            w.string("digit", digit)
        case let .prompt(text, lang, last):
            w.string("type", "prompt")
            w.string("voicePrompt", text)
            w.string("lang", lang)
            w.bool("last", last)
        case let .interrupt(text, ms):
            w.string("type", "interrupt")
            w.string("utteranceUntilInterrupt", text)
            w.int("durationUntilInterruptMs", ms)
        case let .info(name, value):
            w.string("type", "info")
            w.string("name", name)
            w.string("value", value)
        case let .callerTurnEnded(durationMs, interruptedAgent):
            w.string("type", "info")
            w.string("name", "x-voicebridge.callerTurn")
            w.string("value", "end")
            w.int("durationMs", durationMs)
            w.bool("interruptedAgent", interruptedAgent)
        case let .capabilities(value):
            w.string("type", "info")
            w.string("name", "x-voicebridge.capabilities")
            w.string("value", value)
        case let .error(description):
            w.string("type", "error")
            w.string("description", description)
        }
        return w.finished()
    }

    public static func decode(_ frame: String) throws(RelayMessageError) -> RelayInbound {
        func invalid(_ reason: String) -> RelayMessageError { RelayMessageError(reason: reason, frame: frame) }
        let json: RelayJSON
        do {
            json = try RelayJSON.parse(frame)
        } catch {
            throw invalid(error.description)
        }
        guard case let .object(fields) = json else { throw invalid("a message must be a JSON object, got \(json.typeName)") }
        let reader = FieldReader(fields: fields, frame: frame)
        let type = try reader.requiredString("type")
        switch type {
        case "text":
            return .text(RelayText(
                token: try reader.requiredString("token"),
                last: try reader.optionalBool("last") ?? false,
                lang: try reader.optionalNonEmptyString("lang"),
                interruptible: try reader.optionalBool("interruptible"),
                preemptible: try reader.optionalBool("preemptible")
            ))
        case "play":
            // A URL, or the id of a built prompt (checked against the catalogue when played).
            let source = try reader.requiredString("source")
            guard !source.isEmpty, !source.contains(where: { $0.isWhitespace }) else {
                throw invalid("source must be a URL or a prompt id")
            }
            var loop = try reader.optionalInt("loop") ?? 1
            guard loop >= 0 else { throw invalid("loop must be 0 or more") }
            if loop == 0 || loop > maxPlayLoops { loop = maxPlayLoops }
            return .play(RelayPlay(
                source: source, loop: loop,
                interruptible: try reader.optionalBool("interruptible"),
                preemptible: try reader.optionalBool("preemptible")
            ))
        case "sendDigits":
            let digits = try reader.requiredString("digits")
            guard !digits.isEmpty else { throw invalid("digits must not be empty") }
            guard digits.allSatisfy({ sendableDigits.contains($0) }) else {
                throw invalid("digits may hold only 0-9, *, # and w")
            }
            // The tones are rendered before they play: 64 KiB of `w` would be 9 hours of pauses.
            let ms = digits.reduce(0) { $0 + ($1 == "w" ? RelayAudio.pauseMs : RelayAudio.toneMs + RelayAudio.gapMs) }
            guard ms <= RelayAudio.maxPlayMs else {
                throw invalid("digits would play for \(ms / 1000) s; at most \(RelayAudio.maxPlayMs / 1000) s at once")
            }
            return .sendDigits(digits)
        case "language":
            let tts = try reader.optionalNonEmptyString("ttsLanguage")
            let stt = try reader.optionalNonEmptyString("transcriptionLanguage")
            guard tts != nil || stt != nil else { throw invalid("language needs ttsLanguage or transcriptionLanguage") }
            return .language(ttsLanguage: tts, transcriptionLanguage: stt)
        case "end":
            return .end(handoffData: try reader.optionalString("handoffData"))
        default:
            throw invalid("unknown type \(type)")
        }
    }

    /// `loop: 0` means this many, and no more are played.
    public static let maxPlayLoops = 1000
    public static let sendableDigits: Set<Character> = Set("0123456789*#w")

    /// `play` sources fetched over the network; anything else names a built prompt.
    static func isFetchableURL(_ text: String) -> Bool {
        let lower = text.lowercased()
        for scheme in ["http://", "https://"] where lower.hasPrefix(scheme) {
            return text.count > scheme.count && !text.contains(where: { $0.isWhitespace })
        }
        return false
    }
}

/// Typed access to a message's fields; every failure names the field.
private struct FieldReader {
    let fields: [String: RelayJSON]
    let frame: String

    func invalid(_ reason: String) -> RelayMessageError { RelayMessageError(reason: reason, frame: frame) }

    func requiredString(_ name: String) throws(RelayMessageError) -> String {
        guard let value = fields[name] else { throw invalid("missing field \(name)") }
        guard case let .string(s) = value else { throw invalid("\(name) must be a string, got \(value.typeName)") }
        return s
    }

    func optionalString(_ name: String) throws(RelayMessageError) -> String? {
        guard let value = fields[name] else { return nil }
        guard case let .string(s) = value else { throw invalid("\(name) must be a string, got \(value.typeName)") }
        return s
    }

    func optionalNonEmptyString(_ name: String) throws(RelayMessageError) -> String? {
        guard let s = try optionalString(name) else { return nil }
        guard !s.isEmpty else { throw invalid("\(name) must not be empty") }
        return s
    }

    func optionalBool(_ name: String) throws(RelayMessageError) -> Bool? {
        guard let value = fields[name] else { return nil }
        guard case let .bool(b) = value else { throw invalid("\(name) must be a boolean, got \(value.typeName)") }
        return b
    }

    func optionalInt(_ name: String) throws(RelayMessageError) -> Int? {
        guard let value = fields[name] else { return nil }
        guard case let .number(n) = value, n == n.rounded(), abs(n) < 1e9 else {
            throw invalid("\(name) must be an integer, got \(value.typeName)")
        }
        return Int(n)
    }
}

/// Counts invalid app messages in a row (doc §4): the 10th closes the session with 1007.
public struct RelayInvalidMessageCounter: Sendable, Equatable {
    public static let limit = 10
    public static let closeCode = 1007
    public static let closeReason = "Too many consecutive malformed messages."

    public private(set) var consecutive = 0

    public init() {}

    /// A valid message resets the run.
    public mutating func valid() { consecutive = 0 }

    /// Returns true when this invalid message reaches the limit: close the socket.
    public mutating func invalid() -> Bool {
        consecutive += 1
        return consecutive >= Self.limit
    }
}
