import Logging

/// The voice that needs no network: espeak-ng, resampled to 8 kHz with speexdsp and μ-law encoded.
///
/// It is the end of the fallback chain, so it must always answer: a turn never crashes the
/// process, and a failure (missing voice data, unknown voice) ends the turn's `chunks` with an
/// `OfflineVoiceError`.
///
/// espeak-ng keeps global state and is not thread-safe, so every voice in the process shares one
/// engine that makes all espeak calls on one dedicated thread. Turns are synthesised a sentence at
/// a time, first come first served, so many calls share the engine fairly and a sentence starts
/// speaking while the rest of its turn is still being written.
public struct OfflineVoice: SpeechSource {
    public struct Configuration: Sendable, Equatable {
        /// espeak-ng voice name, e.g. "en-us", "en", "de", "en-us+f3".
        public var voice: String
        /// Speaking rate in words per minute (espeak accepts 80...450; 175 is its normal).
        public var rate: Int
        /// Base pitch, 0...100 (50 is normal).
        public var pitch: Int
        /// Output volume, 0...200. espeak's normal 100 already peaks at full scale, and the resampler's
        /// ringing then clips; 80 leaves about 2 dB of headroom at a normal telephone speech level.
        public var volume: Int
        /// The `espeak-ng-data` directory, or the directory holding it. nil uses espeak's default.
        /// espeak is initialised once per process, so every voice in a process must agree on it.
        public var dataPath: String?
        /// Audio is handed out in chunks of at least this many milliseconds (except a sentence's
        /// last chunk), to keep the hops to the call's event loop few.
        public var chunkMs: Int
        /// A sentence's first chunk goes out as soon as this much audio exists, for low latency.
        public var firstChunkMs: Int

        public init(
            voice: String = "en-us",
            rate: Int = 175,
            pitch: Int = 50,
            volume: Int = 80,
            dataPath: String? = nil,
            chunkMs: Int = 200,
            firstChunkMs: Int = 40
        ) {
            self.voice = voice
            self.rate = rate
            self.pitch = pitch
            self.volume = volume
            self.dataPath = dataPath
            self.chunkMs = chunkMs
            self.firstChunkMs = firstChunkMs
        }
    }

    public let name = "offline"
    public func voiceName(for options: TurnOptions) -> String { options.voice ?? configuration.voice }
    public let configuration: Configuration
    private let logger: Logger

    public init(configuration: Configuration = Configuration(), logger: Logger = Logger(label: "voicebridge.speech.offline")) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Initialises espeak-ng and loads the configured voice now rather than on the first turn, so a
    /// server can fail fast at start-up on missing data, and the first call doesn't pay for loading.
    /// Optional: turns initialise on their own.
    public func prepare() async throws(OfflineVoiceError) {
        let error = await withCheckedContinuation { (done: CheckedContinuation<OfflineVoiceError?, Never>) in
            EspeakEngine.shared.submit(.prepare(configuration) { done.resume(returning: $0) })
        }
        if let error { throw error }
    }

    /// Starts a turn. `options.voice` overrides the configured voice. Without it, `options.language`
    /// does, falling back to its primary subtag ("fr-FR" to "fr") since espeak names voices by
    /// language. `options.model` means nothing to espeak and is ignored.
    public func startTurn(_ options: TurnOptions) -> any SpeechTurn {
        var voices = [configuration.voice]
        if let voice = options.voice {
            voices = [voice]
        } else if let language = options.language {
            voices = [language]
            if let primary = language.split(separator: "-").first, primary.count < language.count {
                voices.append(String(primary))
            }
        }
        var logger = logger
        logger[metadataKey: "turn"] = "\(options.id)"
        return OfflineTurn(id: options.id, settings: configuration, voices: voices, engine: .shared, logger: logger)
    }
}

/// Why an offline turn failed.
public enum OfflineVoiceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The configured data directory has no espeak-ng data in it.
    case dataNotFound(path: String)
    /// espeak-ng could not start (its status code and message).
    case initialisationFailed(status: UInt32, message: String)
    /// This process's espeak-ng already runs on other data; it can only be initialised once.
    case dataPathConflict(active: String?, requested: String?)
    /// espeak-ng has no voice of this name.
    case voiceNotFound(String)
    /// espeak-ng refused to synthesise (its status code and message).
    case synthesisFailed(status: UInt32, message: String)
    /// The 8 kHz resampler could not be created.
    case resamplerUnavailable(String)

    public var description: String {
        switch self {
        case .dataNotFound(let path): "no espeak-ng data (phontab) under \(path)"
        case .initialisationFailed(let status, let message): "espeak-ng failed to initialise (0x\(String(status, radix: 16))): \(message)"
        case .dataPathConflict(let active, let requested):
            "espeak-ng already runs on data at \(active ?? "the default path"); can't switch to \(requested ?? "the default path")"
        case .voiceNotFound(let name): "espeak-ng has no voice named \"\(name)\""
        case .synthesisFailed(let status, let message): "espeak-ng synthesis failed (0x\(String(status, radix: 16))): \(message)"
        case .resamplerUnavailable(let reason): "can't create the 8 kHz resampler: \(reason)"
        }
    }
}
