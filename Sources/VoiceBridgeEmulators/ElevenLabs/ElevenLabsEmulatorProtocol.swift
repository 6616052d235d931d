/// What the real service says, word for word: close reasons, error bodies and message shapes
/// (shared/docs/elevenlabs.md §1.5–§1.6, §2.2, §3.4). Everything the emulator puts on the wire that
/// a client might match on is built here, so tests can compare against the same definitions and
/// a reader can check them against the doc in one place.
public enum ElevenLabsEmulatorProtocol {
    // MARK: - WebSocket close codes

    public static let normalClosure = 1000
    public static let unsupportedData = 1003
    public static let policyViolation = 1008

    // MARK: - WebSocket close reasons (full text)

    /// Inactivity (elevenlabs-docs #426); the number follows `inactivity_timeout`.
    public static func inactivityReason(seconds: Int) -> String {
        "Have not received a new text input within the timeout of \(seconds) seconds. Streaming input terminated. "
            + "Please make sure to either feed the input in the timely manner, or to send the end of input text "
            + "(empty string \"\") when done."
    }

    /// A later message changed voice_settings (pipecat #4541).
    public static let voiceSettingsReason =
        "voice_settings field must be provided in the first message and then either be not provided or not change."

    /// The same rule for generation_config. The spec applies it ("should only be provided in the first
    /// message") but no capture of the reason exists; this mirrors the voice_settings text. [UNVERIFIED]
    public static let generationConfigReason =
        "generation_config field must be provided in the first message and then either be not provided or not change."

    /// Missing or wrong credentials. No public capture; the doc's suggested text. [UNVERIFIED]
    public static let invalidAPIKeyReason = "Invalid API key"

    /// Generic server fault (pipecat #1426).
    public static let genericErrorReason = "We are sorry, something went wrong. You are not charged for this request."

    /// Quota exhaustion (python #282; the HTTP 401 body carries the same message).
    public static func quotaReason(quota: Int, remaining: Int, required: Int) -> String {
        "This request exceeds your quota of \(quota). You have \(remaining) credits remaining, while \(required) credits are required for this request."
    }

    /// The sixth context (livekit-js #1985).
    public static func maxContextsMessage(limit: Int) -> String {
        "Maximum simultaneous contexts per WebSocket connection exceeded (\(limit)). Please close an existing context before opening a new one."
    }

    /// Emulator-only: the first stream-input message must be `{"text": " "}` (spec: "must be the single
    /// space"). The live service's reaction is undocumented. [EMULATOR]
    public static let firstMessageReason = "The first message must be the initialisation message with text \" \" (a single space)."

    /// Emulator-only: a text frame that is not a JSON object with the documented field types. [EMULATOR]
    public static let invalidMessageReason = "Invalid message received: expected a JSON object with the documented fields."

    /// Emulator-only: an output format the emulator can't produce (mp3, opus, and PCM above 16 kHz). [EMULATOR]
    public static func unsupportedFormatReason(_ format: String) -> String {
        "Unsupported in emulator: output_format \(format). Use ulaw_8000, alaw_8000, pcm_8000 or pcm_16000."
    }

    /// Emulator-only: an output format the service doesn't know. [EMULATOR]
    public static func unknownFormatReason(_ format: String) -> String {
        "Invalid output_format \(format)."
    }

    /// The longest close reason the emulator sends, in UTF-8 bytes.
    ///
    /// RFC 6455 caps a close frame's payload at 125 bytes (2 for the code, 123 for the reason), so
    /// the service can't send the long reasons whole. The one public capture of the inactivity close
    /// (elevenlabs-docs #426) ends "...Please make sure to eit": exactly the first 120 bytes. The
    /// emulator cuts the same way. The full text, where the doc shows one, goes out first in a JSON
    /// error message (max contexts).
    public static let maxCloseReasonBytes = 120

    /// The reason as it goes on the wire: cut to `maxCloseReasonBytes` on a UTF-8 boundary.
    public static func wireReason(_ reason: String) -> String {
        let bytes = Array(reason.utf8)
        guard bytes.count > maxCloseReasonBytes else { return reason }
        var end = maxCloseReasonBytes
        while end > 0, bytes[end] & 0xC0 == 0x80 { end -= 1 }  // Don't split a character.
        return String(decoding: bytes[..<end], as: UTF8.self)
    }

    // MARK: - WebSocket server messages

    /// `{"isFinal":true}` on stream-input, `{"isFinal":true,"contextId":"…"}` on multi-context.
    /// camelCase both: the docs' `is_final` is wrong (§2.2).
    public static func finalMessage(contextID: String?) -> String {
        var fields: [(String, String)] = [("isFinal", "true")]
        if let contextID { fields.append(("contextId", ElevenLabsEmulatorJSONWriter.quoted(contextID))) }
        return ElevenLabsEmulatorJSONWriter.object(fields)
    }

    /// The error frame sent before some 1008 closes (§1.5, §2.2).
    public static func errorMessage(message: String, error: String, code: Int) -> String {
        ElevenLabsEmulatorJSONWriter.object([
            ("message", ElevenLabsEmulatorJSONWriter.quoted(message)),
            ("error", ElevenLabsEmulatorJSONWriter.quoted(error)),
            ("code", "\(code)"),
        ])
    }

    /// An audio message: `{"audio","isFinal":null,"normalizedAlignment","alignment"}` plus `contextId`
    /// on multi-context (§1.5, §10.6). `audioBase64` is already encoded.
    public static func audioMessage(audioBase64: String, alignment: ElevenLabsEmulatorAlignment?, contextID: String?) -> String {
        let aligned = alignment.map(alignmentJSON) ?? "null"
        var fields: [(String, String)] = [
            ("audio", ElevenLabsEmulatorJSONWriter.quoted(audioBase64)),
            ("isFinal", "null"),
            // The emulator does no text normalisation, so both alignments are the same.
            ("normalizedAlignment", aligned),
            ("alignment", aligned),
        ]
        if let contextID { fields.append(("contextId", ElevenLabsEmulatorJSONWriter.quoted(contextID))) }
        return ElevenLabsEmulatorJSONWriter.object(fields)
    }

    /// `{"chars":[…],"charStartTimesMs":[…],"charDurationsMs":[…]}`, the live spelling (not the
    /// 2025 snapshot's `charsDurationsMs`).
    public static func alignmentJSON(_ alignment: ElevenLabsEmulatorAlignment) -> String {
        ElevenLabsEmulatorJSONWriter.object([
            ("chars", ElevenLabsEmulatorJSONWriter.array(alignment.chars.map(ElevenLabsEmulatorJSONWriter.quoted))),
            ("charStartTimesMs", ElevenLabsEmulatorJSONWriter.array(alignment.startTimesMs.map(String.init))),
            ("charDurationsMs", ElevenLabsEmulatorJSONWriter.array(alignment.durationsMs.map(String.init))),
        ])
    }

    /// One NDJSON line of `/stream/with-timestamps` (without the newline):
    /// `{"audio_base64","alignment","normalized_alignment"}`, times in float seconds from the start
    /// of the response's audio. `offsetMs` is where this piece starts in the response.
    public static func timestampsLine(audioBase64: String, alignment: ElevenLabsEmulatorAlignment?, offsetMs: Int) -> String {
        let aligned = alignment.map { timestampsAlignmentJSON($0, offsetMs: offsetMs) } ?? "null"
        return ElevenLabsEmulatorJSONWriter.object([
            ("audio_base64", ElevenLabsEmulatorJSONWriter.quoted(audioBase64)),
            ("alignment", aligned),
            ("normalized_alignment", aligned),
        ])
    }

    static func timestampsAlignmentJSON(_ alignment: ElevenLabsEmulatorAlignment, offsetMs: Int) -> String {
        var starts: [String] = []
        var ends: [String] = []
        for (start, duration) in zip(alignment.startTimesMs, alignment.durationsMs) {
            let from = offsetMs + start
            starts.append(seconds(fromMs: from))
            ends.append(seconds(fromMs: from + duration))
        }
        return ElevenLabsEmulatorJSONWriter.object([
            ("characters", ElevenLabsEmulatorJSONWriter.array(alignment.chars.map(ElevenLabsEmulatorJSONWriter.quoted))),
            ("character_start_times_seconds", ElevenLabsEmulatorJSONWriter.array(starts)),
            ("character_end_times_seconds", ElevenLabsEmulatorJSONWriter.array(ends)),
        ])
    }

    /// Milliseconds as float seconds, printed like Python (`0.12`, `1.0`).
    static func seconds(fromMs ms: Int) -> String {
        ElevenLabsEmulatorJSONWriter.number(Double(ms) / 1000)
    }

    // MARK: - HTTP error bodies (§3.4; the legacy `{"detail":{"status","message"}}` shape, which is
    // what public captures of the live service show)

    public static func detailBody(status: String, message: String) -> String {
        ElevenLabsEmulatorJSONWriter.object([
            ("detail", ElevenLabsEmulatorJSONWriter.object([
                ("status", ElevenLabsEmulatorJSONWriter.quoted(status)),
                ("message", ElevenLabsEmulatorJSONWriter.quoted(message)),
            ])),
        ])
    }

    public static var invalidAPIKeyBody: String { detailBody(status: "invalid_api_key", message: "Invalid API key") }

    public static func quotaExceededBody(quota: Int, remaining: Int, required: Int) -> String {
        detailBody(status: "quota_exceeded", message: quotaReason(quota: quota, remaining: remaining, required: required))
    }

    public static func tooManyConcurrentRequestsBody(limit: Int) -> String {
        detailBody(
            status: "too_many_concurrent_requests",
            message: "Too many concurrent requests. Your current subscription is associated with a maximum of \(limit) concurrent requests (running in parallel)."
        )
    }

    public static var systemBusyBody: String {
        detailBody(
            status: "system_busy",
            message: "We are sorry, the system is experiencing heavy traffic, please try again. Higher subscriptions have higher priority."
        )
    }

    /// 500: a server fault. [EMULATOR] The docs give no body for 5xx; this is the legacy shape.
    public static var serverErrorBody: String {
        detailBody(status: "internal_server_error", message: genericErrorReason)
    }

    public static func characterLimitBody(characters: Int, limit: Int) -> String {
        detailBody(
            status: "max_character_limit_exceeded",
            message: "This request's text has \(characters) characters and exceeds the character limit of \(limit) characters."
        )
    }

    /// One FastAPI validation problem: `loc`, `msg`, `type`.
    public struct ValidationProblem: Sendable, Equatable {
        public var location: [String]
        public var message: String
        public var type: String

        public init(location: [String], message: String, type: String) {
            self.location = location
            self.message = message
            self.type = type
        }
    }

    /// 422: `{"detail":[{"loc":[…],"msg":"…","type":"…"}]}`, `detail` an array.
    public static func validationBody(_ problems: [ValidationProblem]) -> String {
        let items = problems.map { problem in
            ElevenLabsEmulatorJSONWriter.object([
                ("loc", ElevenLabsEmulatorJSONWriter.array(problem.location.map(ElevenLabsEmulatorJSONWriter.quoted))),
                ("msg", ElevenLabsEmulatorJSONWriter.quoted(problem.message)),
                ("type", ElevenLabsEmulatorJSONWriter.quoted(problem.type)),
            ])
        }
        return ElevenLabsEmulatorJSONWriter.object([("detail", ElevenLabsEmulatorJSONWriter.array(items))])
    }

    /// FastAPI's body for an unknown route.
    public static let notFoundBody = "{\"detail\":\"Not Found\"}"
}

/// Character timings of one audio message, relative to the start of that message. The spans tile:
/// each start is the previous start plus the previous duration.
public struct ElevenLabsEmulatorAlignment: Sendable, Equatable {
    public var chars: [String]
    public var startTimesMs: [Int]
    public var durationsMs: [Int]

    public init(chars: [String], startTimesMs: [Int], durationsMs: [Int]) {
        self.chars = chars
        self.startTimesMs = startTimesMs
        self.durationsMs = durationsMs
    }
}
