/// What the realtime speech-to-text socket puts on the wire, word for word
/// (shared/docs/elevenlabs-stt.md §2.2): every server message is built here, so tests compare
/// against the same definitions and a reader can check them against the doc in one place.
/// Field order follows the doc's examples; JSON is compact, as the TTS side writes it.
public enum ElevenLabsEmulatorTranscriptionProtocol {
    // MARK: - Error message types (§2.2.7)

    public static let authError = "auth_error"
    public static let quotaExceeded = "quota_exceeded"
    public static let invalidRequest = "invalid_request"
    public static let inputError = "input_error"
    public static let chunkSizeExceeded = "chunk_size_exceeded"
    public static let commitThrottled = "commit_throttled"
    public static let rateLimited = "rate_limited"

    // MARK: - Close codes

    /// After an error message. The live codes are undocumented; 1008 as on the TTS socket. [UNVERIFIED]
    public static let errorCloseCode = 1008
    /// The idle close: one client logged 1000 (§2.3).
    public static let idleCloseCode = 1000

    // MARK: - Error texts. Only commit_throttled's is from a public report; the rest are [EMULATOR].

    public static let invalidAPIKeyError = "Invalid API key"
    public static let missingCredentialsError = "Missing credentials: send the xi-api-key header or a token query parameter."
    public static let quotaExceededError = "This request exceeds your quota. Please upgrade your plan or wait for your quota to reset."
    public static let rateLimitedError = "Too many requests: the service is under heavy load. Please retry with backoff."
    public static let previousTextError = "previous_text is only allowed on the first input_audio_chunk of a session."
    public static let binaryFrameError = "Binary frames are not supported: send input_audio_chunk messages as JSON text."

    /// The idle close's reason (the live one is unpublished). [EMULATOR]
    public static func idleCloseReason(seconds: Double) -> String {
        "No message received for \(shortest(seconds)) seconds."
    }

    /// packages #378: "Commit ignored: 0.12s of uncommitted audio, at least 0.3s needed."
    public static func commitThrottledError(uncommittedSeconds: Double, minimumSeconds: Double) -> String {
        "Commit ignored: \(twoDecimals(uncommittedSeconds))s of uncommitted audio, at least \(shortest(minimumSeconds))s needed."
    }

    public static func chunkSizeExceededError(seconds: Double, maximumSeconds: Double) -> String {
        "Chunk too large: \(twoDecimals(seconds))s of audio in one chunk, at most \(shortest(maximumSeconds))s allowed."
    }

    public static func sampleRateError(sent: Int, format: String) -> String {
        "sample_rate \(sent) does not match audio_format \(format)."
    }

    // MARK: - Server messages

    /// `{"message_type":…,"error":…}`.
    public static func errorMessage(_ type: String, _ error: String) -> String {
        ElevenLabsEmulatorJSONWriter.object([
            ("message_type", ElevenLabsEmulatorJSONWriter.quoted(type)),
            ("error", ElevenLabsEmulatorJSONWriter.quoted(error)),
        ])
    }

    /// `{"message_type":"partial_transcript","text":…}`.
    public static func partialTranscript(_ text: String) -> String {
        ElevenLabsEmulatorJSONWriter.object([
            ("message_type", ElevenLabsEmulatorJSONWriter.quoted("partial_transcript")),
            ("text", ElevenLabsEmulatorJSONWriter.quoted(text)),
        ])
    }

    /// `{"message_type":"committed_transcript","text":…}`.
    public static func committedTranscript(_ text: String) -> String {
        ElevenLabsEmulatorJSONWriter.object([
            ("message_type", ElevenLabsEmulatorJSONWriter.quoted("committed_transcript")),
            ("text", ElevenLabsEmulatorJSONWriter.quoted(text)),
        ])
    }

    /// One entry of `words` (§2.2.5): a word, or the spacing between two words.
    public struct TimedWord: Sendable, Equatable {
        public enum Kind: String, Sendable {
            case word
            case spacing
        }

        public var text: String
        /// Seconds from the start of the session's audio, to the millisecond.
        public var start: Double
        public var end: Double
        public var kind: Kind
        public var logprob: Double

        public init(text: String, start: Double, end: Double, kind: Kind, logprob: Double) {
            self.text = text
            self.start = start
            self.end = end
            self.kind = kind
            self.logprob = logprob
        }
    }

    /// `{"message_type":"committed_transcript_with_timestamps","text":…,"language_code"?:…,"words":[…]|null}`.
    /// `language_code` appears only when given; `words` is null when timestamps are off (language
    /// detection alone, §2.2.5).
    public static func committedTranscriptWithTimestamps(_ text: String, languageCode: String?, words: [TimedWord]?) -> String {
        var fields: [(String, String)] = [
            ("message_type", ElevenLabsEmulatorJSONWriter.quoted("committed_transcript_with_timestamps")),
            ("text", ElevenLabsEmulatorJSONWriter.quoted(text)),
        ]
        if let languageCode { fields.append(("language_code", ElevenLabsEmulatorJSONWriter.quoted(languageCode))) }
        fields.append(("words", words.map { ElevenLabsEmulatorJSONWriter.array($0.map(timedWordJSON)) } ?? "null"))
        return ElevenLabsEmulatorJSONWriter.object(fields)
    }

    static func timedWordJSON(_ word: TimedWord) -> String {
        ElevenLabsEmulatorJSONWriter.object([
            ("text", ElevenLabsEmulatorJSONWriter.quoted(word.text)),
            ("start", ElevenLabsEmulatorJSONWriter.number(word.start)),
            ("end", ElevenLabsEmulatorJSONWriter.number(word.end)),
            ("type", ElevenLabsEmulatorJSONWriter.quoted(word.kind.rawValue)),
            ("logprob", ElevenLabsEmulatorJSONWriter.number(word.logprob)),
        ])
    }

    /// `session_started` (§2.2.1): the id and the settings echoed in the Python SDK's key names,
    /// in the doc's order; `language_code` and `keepalive_interval_ms` are null when not set.
    static func sessionStarted(sessionID: String, settings: ElevenLabsEmulatorTranscriptionSettings) -> String {
        let w = ElevenLabsEmulatorJSONWriter.self
        let config = w.object([
            ("sample_rate", "\(settings.audioFormat.sampleRate)"),
            ("audio_format", w.quoted(settings.audioFormat.name)),
            ("language_code", settings.languageCode.map(w.quoted) ?? "null"),
            ("model_id", w.quoted(settings.modelID)),
            ("commit_strategy", w.quoted(settings.commitStrategy.rawValue)),
            ("vad_silence_threshold_secs", w.number(settings.vadSilenceThresholdSecs)),
            ("vad_threshold", w.number(settings.vadThreshold)),
            ("min_speech_duration_ms", "\(settings.minSpeechDurationMs)"),
            ("min_silence_duration_ms", "\(settings.minSilenceDurationMs)"),
            ("include_timestamps", "\(settings.includeTimestamps)"),
            ("include_language_detection", "\(settings.includeLanguageDetection)"),
            ("keyterms", w.array(settings.keyterms.map(w.quoted))),
            ("no_verbatim", "\(settings.noVerbatim)"),
            ("enable_logging", "\(settings.enableLogging)"),
            ("keepalive_interval_ms", settings.keepaliveIntervalMs.map { "\($0)" } ?? "null"),
        ])
        return w.object([
            ("message_type", w.quoted("session_started")),
            ("session_id", w.quoted(sessionID)),
            ("config", config),
        ])
    }

    /// Seconds with two decimals, as in the reported throttle text ("0.12s").
    static func twoDecimals(_ seconds: Double) -> String {
        let hundredths = Int((seconds * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// "0.3", "1", "1.5": no trailing zeros.
    static func shortest(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? "\(Int(seconds))" : "\(seconds)"
    }
}
