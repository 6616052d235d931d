/// How an `ElevenLabsEmulator` behaves: which keys it accepts, its limits, and the latency and faults
/// it injects. The defaults are the live service's documented defaults with every fault off and no
/// added latency, so tests run fast and deterministic.
public struct ElevenLabsEmulatorConfiguration: Sendable, Equatable {
    /// The key accepted when none is configured. Printed at start-up by `voicebridge emulate elevenlabs`.
    public static let defaultAPIKey = "test-key"

    /// Accepted API keys. Empty accepts any non-empty key.
    public var apiKeys: Set<String>
    /// Audio per message, in milliseconds (the last message of a generation may be shorter).
    public var chunkMs: Int
    /// Contexts per multi-context socket (§2.3: 5). The next one gets the 1008 error.
    public var maxContexts: Int
    /// The inactivity timeout when the client gives no `inactivity_timeout`, in seconds (§1.2: 20).
    /// Fractions are allowed, for tests.
    public var inactivityTimeout: Double
    /// The cap on `inactivity_timeout` (§1.2: 180).
    public var maxInactivityTimeout: Double
    /// How long a closed context keeps counting against `maxContexts` after its `isFinal` (§2.3:
    /// "close is asynchronous"), in milliseconds.
    public var contextCloseDelayMs: Int
    /// HTTP requests allowed in flight at once (the plan's concurrency; §6). The next gets 429.
    public var maxConcurrentRequests: Int
    /// The account's quota in credits, for the quota message.
    public var quota: Int
    /// `try_trigger_generation` fires with at least this many characters buffered (§1.4: 50).
    public var tryTriggerMinimum: Int
    /// Stream-input's first message must be `{"text": " "}`; otherwise close 1008.
    public var strictFirstMessage: Bool
    /// Characters per HTTP request by `model_id` (§5); others get `defaultCharacterLimit`.
    public var characterLimits: [String: Int]
    public var defaultCharacterLimit: Int
    /// The largest WebSocket frame accepted from a client (the service uses 16 MB).
    public var maxFrameSize: Int
    /// Latency and fault injection.
    public var faults: Faults
    /// The realtime speech-to-text socket: its limits, latency and faults.
    public var speechToText: SpeechToText

    public init(
        apiKeys: Set<String> = [ElevenLabsEmulatorConfiguration.defaultAPIKey],
        chunkMs: Int = 200,
        maxContexts: Int = 5,
        inactivityTimeout: Double = 20,
        maxInactivityTimeout: Double = 180,
        contextCloseDelayMs: Int = 0,
        maxConcurrentRequests: Int = 5,
        quota: Int = 10_000,
        tryTriggerMinimum: Int = 50,
        strictFirstMessage: Bool = true,
        characterLimits: [String: Int] = [
            "eleven_flash_v2_5": 40_000, "eleven_turbo_v2_5": 40_000, "eleven_flash_v2": 30_000,
            "eleven_turbo_v2": 30_000, "eleven_multilingual_v2": 10_000, "eleven_v3": 3_000,
        ],
        defaultCharacterLimit: Int = 10_000,
        maxFrameSize: Int = 16 << 20,
        faults: Faults = Faults(),
        speechToText: SpeechToText = SpeechToText()
    ) {
        self.apiKeys = apiKeys
        self.chunkMs = chunkMs
        self.maxContexts = maxContexts
        self.inactivityTimeout = inactivityTimeout
        self.maxInactivityTimeout = maxInactivityTimeout
        self.contextCloseDelayMs = contextCloseDelayMs
        self.maxConcurrentRequests = maxConcurrentRequests
        self.quota = quota
        self.tryTriggerMinimum = tryTriggerMinimum
        self.strictFirstMessage = strictFirstMessage
        self.characterLimits = characterLimits
        self.defaultCharacterLimit = defaultCharacterLimit
        self.maxFrameSize = maxFrameSize
        self.faults = faults
        self.speechToText = speechToText
    }

    /// Latency and faults. Counted faults (`http429Count`, `systemBusyCount`, `http500Count`,
    /// `webSocketServerErrorCount`) hit the first N requests or sockets of the emulator's life.
    public struct Faults: Sendable, Equatable {
        /// Delay before the first audio of each generation, in milliseconds.
        public var ttfbMs: Int
        /// Streaming pace as a real-time factor: 1 sends audio as fast as it plays, 2 twice as fast,
        /// 0 as fast as it is synthesised.
        public var speed: Double
        /// Drop the connection (TCP close, no close frame: the client sees 1006) this long after its
        /// first audio. nil: never.
        public var disconnectAfterMs: Int?
        /// Drop every connection, not only the first one that streams audio.
        public var disconnectEveryTime: Bool
        /// Every WebSocket closes 1008 with the quota reason at its first generation; every HTTP
        /// request gets 401 `quota_exceeded`.
        public var quotaExceeded: Bool
        /// Credits "remaining" in the quota message.
        public var quotaRemaining: Int
        /// The first N HTTP text-to-speech requests get 429 `too_many_concurrent_requests`.
        public var http429Count: Int
        /// The next N HTTP text-to-speech requests get 429 `system_busy`.
        public var systemBusyCount: Int
        /// The next N HTTP text-to-speech requests get 500 (a server fault; §3.4 documents no body,
        /// so it is the legacy shape with status `internal_server_error`).
        public var http500Count: Int
        /// Every HTTP text-to-speech request whose text contains this string gets 500, however
        /// often it is retried: one prompt in a batch that keeps failing. nil or empty: none.
        public var failTextContaining: String?
        /// The first N WebSockets close 1008 "We are sorry, something went wrong..." at their first
        /// generation.
        public var webSocketServerErrorCount: Int
        /// Slow network: reads are paced and writes are cut into small pieces with gaps.
        public var slow: Bool
        /// With `slow`: one socket read per this many milliseconds.
        public var slowReadIntervalMs: Int
        /// With `slow`: writes go out in pieces of at most this many bytes ...
        public var slowWriteBytes: Int
        /// ... one piece per this many milliseconds.
        public var slowWriteIntervalMs: Int

        public init(
            ttfbMs: Int = 0,
            speed: Double = 0,
            disconnectAfterMs: Int? = nil,
            disconnectEveryTime: Bool = false,
            quotaExceeded: Bool = false,
            quotaRemaining: Int = 0,
            http429Count: Int = 0,
            systemBusyCount: Int = 0,
            http500Count: Int = 0,
            failTextContaining: String? = nil,
            webSocketServerErrorCount: Int = 0,
            slow: Bool = false,
            slowReadIntervalMs: Int = 20,
            slowWriteBytes: Int = 512,
            slowWriteIntervalMs: Int = 5
        ) {
            self.ttfbMs = ttfbMs
            self.speed = speed
            self.disconnectAfterMs = disconnectAfterMs
            self.disconnectEveryTime = disconnectEveryTime
            self.quotaExceeded = quotaExceeded
            self.quotaRemaining = quotaRemaining
            self.http429Count = http429Count
            self.systemBusyCount = systemBusyCount
            self.http500Count = http500Count
            self.failTextContaining = failTextContaining
            self.webSocketServerErrorCount = webSocketServerErrorCount
            self.slow = slow
            self.slowReadIntervalMs = slowReadIntervalMs
            self.slowWriteBytes = slowWriteBytes
            self.slowWriteIntervalMs = slowWriteIntervalMs
        }
    }

    /// Whether `key` is accepted.
    public func accepts(apiKey key: String) -> Bool {
        guard !key.isEmpty else { return false }
        return apiKeys.isEmpty || apiKeys.contains(key)
    }

    func characterLimit(model: String?) -> Int {
        model.flatMap { characterLimits[$0] } ?? defaultCharacterLimit
    }
}
