/// One realtime speech-to-text session's settings: all of them travel in the query string and
/// are fixed for the session's life (elevenlabs-stt.md §1.3), so changing one means a new socket.
public struct ScribeSettings: Sendable, Equatable {
    public static let path = "/v1/speech-to-text/realtime"

    /// What the caller's audio is sent as. μ-law passes through untouched (§5.2).
    public enum AudioFormat: String, Sendable, Equatable {
        case ulaw8000 = "ulaw_8000"
        case pcm8000 = "pcm_8000"
        case pcm16000 = "pcm_16000"

        public var sampleRate: Int { self == .pcm16000 ? 16_000 : 8_000 }
        public var bytesPerSecond: Int { self == .ulaw8000 ? 8_000 : sampleRate * 2 }
    }

    public enum CommitStrategy: String, Sendable, Equatable {
        /// The bridge commits when its own detector hears the turn end (§3.3: faster and surer).
        case manual
        /// The service commits after `vadSilenceThresholdSeconds` of silence.
        case vad
    }

    public var modelID = "scribe_v2_realtime"
    public var audioFormat = AudioFormat.ulaw8000
    public var commitStrategy = CommitStrategy.manual
    public var vadSilenceThresholdSeconds: Double?
    public var vadThreshold: Double?
    public var minSpeechDurationMs: Int?
    public var minSilenceDurationMs: Int?
    /// ISO 639-1 or 639-3; nil lets the service detect the language.
    public var languageCode: String?
    /// Words to listen for (product names, menu phrases).
    public var keyterms: [String] = []
    /// Word timings and log-probabilities on commits: heard-time and confidence.
    public var includeTimestamps = true
    public var includeLanguageDetection = false
    public var noVerbatim: Bool?
    public var keepaliveIntervalMs: Int?
    public var enableLogging: Bool?

    /// The SDKs' limits on key terms (§1.3): more, or longer, are dropped rather than refused.
    public static let maxKeyterms = 50
    public static let maxKeytermLength = 20

    public init() {}

    /// Key terms as the service takes them: trimmed, non-empty, at most 20 characters, no
    /// repeats, the first 50.
    public static func keyterms(_ terms: [String]) -> [String] {
        var seen = Set<String>()
        var out: [String] = []
        for term in terms {
            let trimmed = term.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            guard !trimmed.isEmpty, trimmed.count <= maxKeytermLength, seen.insert(trimmed.lowercased()).inserted else { continue }
            out.append(trimmed)
            if out.count == maxKeyterms { break }
        }
        return out
    }

    /// A relay `hints` attribute ("a, b") or a flow's list, as key terms.
    public static func keyterms(hints: String) -> [String] {
        keyterms(hints.split(separator: ",").map(String.init))
    }

    public var queryItems: [(String, String)] {
        var items: [(String, String)] = [
            ("model_id", modelID), ("audio_format", audioFormat.rawValue), ("commit_strategy", commitStrategy.rawValue),
        ]
        if let vadSilenceThresholdSeconds { items.append(("vad_silence_threshold_secs", String(vadSilenceThresholdSeconds))) }
        if let vadThreshold { items.append(("vad_threshold", String(vadThreshold))) }
        if let minSpeechDurationMs { items.append(("min_speech_duration_ms", String(minSpeechDurationMs))) }
        if let minSilenceDurationMs { items.append(("min_silence_duration_ms", String(minSilenceDurationMs))) }
        if let languageCode { items.append(("language_code", languageCode)) }
        items.append(("include_timestamps", String(includeTimestamps)))
        if includeLanguageDetection { items.append(("include_language_detection", "true")) }
        for term in Self.keyterms(keyterms) { items.append(("keyterms", term)) }
        if let noVerbatim { items.append(("no_verbatim", String(noVerbatim))) }
        if let keepaliveIntervalMs { items.append(("keepalive_interval_ms", String(keepaliveIntervalMs))) }
        if let enableLogging { items.append(("enable_logging", String(enableLogging))) }
        return items
    }

    /// The ranges the service enforces (§1.3), checked before a socket is opened: the service
    /// would answer `invalid_request` and close, on every call.
    public func validated() throws(ElevenLabsWebSocketError) -> ScribeSettings {
        func check(_ ok: Bool, _ what: String) throws(ElevenLabsWebSocketError) {
            if !ok { throw .invalidConfiguration("speech-to-text: \(what)") }
        }
        try check(!modelID.isEmpty, "model_id is empty")
        if let v = vadSilenceThresholdSeconds { try check((0.3...3.0).contains(v), "vad_silence_threshold_secs \(v) is outside 0.3...3.0") }
        if let v = vadThreshold { try check((0.1...0.9).contains(v), "vad_threshold \(v) is outside 0.1...0.9") }
        if let v = minSpeechDurationMs { try check((50...2000).contains(v), "min_speech_duration_ms \(v) is outside 50...2000") }
        if let v = minSilenceDurationMs { try check((50...2000).contains(v), "min_silence_duration_ms \(v) is outside 50...2000") }
        if let v = keepaliveIntervalMs { try check((500...10_000).contains(v), "keepalive_interval_ms \(v) is outside 500...10000") }
        if let code = languageCode { try check((2...3).contains(code.count) && code.allSatisfy(\.isLetter), "language_code \"\(code)\" is not ISO 639-1 or 639-3") }
        return self
    }

    /// A BCP-47 tag's primary subtag as Scribe's language code: "en-US" → "en"; "multi" (Twilio's
    /// detect-the-language value) → nil.
    public static func languageCode(bcp47 tag: String) -> String? {
        let primary = tag.split(separator: "-").first.map { String($0).lowercased() } ?? ""
        guard primary != "multi", (2...3).contains(primary.count), primary.allSatisfy(\.isLetter) else { return nil }
        return primary
    }
}
