/// One realtime speech-to-text session's configuration: the query string of the handshake
/// (shared/docs/elevenlabs-stt.md §1.3), checked against the documented types and ranges. It is
/// fixed for the session's life.
struct ElevenLabsEmulatorTranscriptionSettings: Sendable, Equatable {
    enum AudioFormat: Sendable, Equatable {
        /// 8-bit G.711 μ-law at 8 kHz.
        case ulaw8000
        /// 16-bit little-endian mono PCM at this rate.
        case pcm(sampleRate: Int)

        static let pcmRates = [8000, 16000, 22050, 24000, 44100, 48000]
        static let names = ["pcm_8000", "pcm_16000", "pcm_22050", "pcm_24000", "pcm_44100", "pcm_48000", "ulaw_8000"]

        init?(name: String) {
            if name == "ulaw_8000" {
                self = .ulaw8000
            } else if name.hasPrefix("pcm_"), let rate = Int(name.dropFirst(4)), Self.pcmRates.contains(rate) {
                self = .pcm(sampleRate: rate)
            } else {
                return nil
            }
        }

        var name: String {
            switch self {
            case .ulaw8000: "ulaw_8000"
            case .pcm(let rate): "pcm_\(rate)"
            }
        }

        var sampleRate: Int {
            switch self {
            case .ulaw8000: 8000
            case .pcm(let rate): rate
            }
        }

        var bytesPerSample: Int {
            switch self {
            case .ulaw8000: 1
            case .pcm: 2
            }
        }
    }

    enum CommitStrategy: String, Sendable, Equatable {
        case manual
        case vad
    }

    var modelID: String
    var audioFormat: AudioFormat = .pcm(sampleRate: 16000)
    var commitStrategy: CommitStrategy = .manual
    var vadSilenceThresholdSecs = 1.5
    var vadThreshold = 0.4
    var minSpeechDurationMs = 100
    var minSilenceDurationMs = 100
    var languageCode: String?
    var includeTimestamps = false
    var includeLanguageDetection = false
    var keyterms: [String] = []
    var secondaryLanguages: [String] = []
    var entityDetection: [String] = []
    var noVerbatim = false
    var filterBackgroundAudio = false
    var enableLogging = true
    var keepaliveIntervalMs: Int?

    init(modelID: String) {
        self.modelID = modelID
    }

    /// The settings of a query, or the reason for `invalid_request`. Unknown parameters are
    /// ignored, as FastAPI does; credentials (`token`) are not settings.
    static func parse(_ items: [ElevenLabsEmulatorRequestTarget.QueryItem], models: Set<String>) -> Result<Self, Problem> {
        var single: [String: String] = [:]
        var repeated: [String: [String]] = [:]
        for item in items {
            single[item.name] = item.value
            repeated[item.name, default: []].append(item.value)
        }
        guard let model = single["model_id"], !model.isEmpty else { return .failure(.missing("model_id")) }
        guard models.contains(model) else { return .failure(.notOneOf("model_id", model, models.sorted())) }
        var settings = Self(modelID: model)
        do throws(Problem) {
            if let name = single["audio_format"] {
                guard let format = AudioFormat(name: name) else { throw .notOneOf("audio_format", name, AudioFormat.names) }
                settings.audioFormat = format
            }
            if let name = single["commit_strategy"] {
                guard let strategy = CommitStrategy(rawValue: name) else { throw .notOneOf("commit_strategy", name, ["manual", "vad"]) }
                settings.commitStrategy = strategy
            }
            settings.vadSilenceThresholdSecs = try number(single, "vad_silence_threshold_secs", in: 0.3...3.0) ?? settings.vadSilenceThresholdSecs
            settings.vadThreshold = try number(single, "vad_threshold", in: 0.1...0.9) ?? settings.vadThreshold
            settings.minSpeechDurationMs = try integer(single, "min_speech_duration_ms", in: 50...2000) ?? settings.minSpeechDurationMs
            settings.minSilenceDurationMs = try integer(single, "min_silence_duration_ms", in: 50...2000) ?? settings.minSilenceDurationMs
            settings.keepaliveIntervalMs = try integer(single, "keepalive_interval_ms", in: 500...10000)
            if let code = single["language_code"], !code.isEmpty {
                // ISO 639-1 or 639-3, optionally with a region ("en", "eng", "en-US").
                let primary = code.split(separator: "-", maxSplits: 1).first.map(String.init) ?? ""
                guard (2...3).contains(primary.count), primary.allSatisfy({ $0.isASCII && $0.isLetter }) else {
                    throw .invalid("language_code", code, "expected an ISO 639-1 or 639-3 code")
                }
                settings.languageCode = code
            }
            settings.includeTimestamps = try flag(single, "include_timestamps") ?? false
            settings.includeLanguageDetection = try flag(single, "include_language_detection") ?? false
            settings.noVerbatim = try flag(single, "no_verbatim") ?? false
            settings.filterBackgroundAudio = try flag(single, "filter_background_audio") ?? false
            settings.enableLogging = try flag(single, "enable_logging") ?? true
            settings.keyterms = repeated["keyterms"] ?? []
            settings.secondaryLanguages = (repeated["secondary_languages"] ?? []).flatMap(commaSeparated)
            settings.entityDetection = (repeated["entity_detection"] ?? []).flatMap(commaSeparated)
            if settings.filterBackgroundAudio && settings.includeTimestamps {
                throw .conflict("filter_background_audio", "include_timestamps")
            }
        } catch {
            return .failure(error)
        }
        return .success(settings)
    }

    private static func commaSeparated(_ value: String) -> [String] {
        value.split(separator: ",").map { String($0.trimmingPrefix(while: \.isWhitespace)) }.filter { !$0.isEmpty }
    }

    private static func number(_ query: [String: String], _ name: String, in range: ClosedRange<Double>) throws(Problem) -> Double? {
        guard let text = query[name] else { return nil }
        guard let value = Double(text), value.isFinite else { throw .invalid(name, text, "expected a number") }
        guard range.contains(value) else { throw .outOfRange(name, text, "\(range.lowerBound)", "\(range.upperBound)") }
        return value
    }

    private static func integer(_ query: [String: String], _ name: String, in range: ClosedRange<Int>) throws(Problem) -> Int? {
        guard let text = query[name] else { return nil }
        guard let value = Int(text) else { throw .invalid(name, text, "expected an integer") }
        guard range.contains(value) else { throw .outOfRange(name, text, "\(range.lowerBound)", "\(range.upperBound)") }
        return value
    }

    /// A bool the way FastAPI reads one.
    private static func flag(_ query: [String: String], _ name: String) throws(Problem) -> Bool? {
        guard let text = query[name] else { return nil }
        switch text.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw .invalid(name, text, "expected a boolean")
        }
    }

    /// Why a query is refused. The live service's wording is not published; these texts name the
    /// parameter, the value and the rule. [EMULATOR]
    enum Problem: Error, Equatable {
        case missing(String)
        case notOneOf(String, String, [String])
        case invalid(String, String, String)
        case outOfRange(String, String, String, String)
        case conflict(String, String)

        var message: String {
            switch self {
            case .missing(let name):
                "Invalid request: the query parameter \(name) is required."
            case .notOneOf(let name, let value, let allowed):
                "Invalid request: \(name)=\(value) is not one of \(allowed.joined(separator: ", "))."
            case .invalid(let name, let value, let why):
                "Invalid request: \(name)=\(value): \(why)."
            case .outOfRange(let name, let value, let low, let high):
                "Invalid request: \(name)=\(value) is outside \(low)-\(high)."
            case .conflict(let first, let second):
                "Invalid request: \(first) cannot be combined with \(second)."
            }
        }
    }
}
