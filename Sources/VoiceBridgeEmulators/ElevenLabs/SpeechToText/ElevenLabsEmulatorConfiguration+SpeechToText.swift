extension ElevenLabsEmulatorConfiguration {
    /// How the realtime speech-to-text socket (`GET /v1/speech-to-text/realtime`) behaves. The
    /// defaults are the live service's documented limits and typical latencies, with every fault
    /// off (shared/docs/elevenlabs-stt.md §2.3, §3).
    public struct SpeechToText: Sendable, Equatable {
        /// Accepted `model_id` values (§1.4).
        public var models: Set<String>
        /// From the arrival of the audio that completes a word to its `partial_transcript` (§1.4:
        /// about 150 ms).
        public var partialLatencyMs: Int
        /// From a commit (manual, VAD or automatic) to its `committed_transcript` (§3.3: 80–380 ms
        /// observed).
        public var commitLatencyMs: Int
        /// No client message for this long closes the socket (§2.3: 15 s). Fractions are allowed,
        /// for tests.
        public var idleTimeoutSeconds: Double
        /// A chunk with more audio than this gets `chunk_size_exceeded` (§3.2: keep chunks ≤ 1 s).
        public var maxChunkSeconds: Double
        /// A commit with less uncommitted audio than this gets `commit_throttled` (§2.2.7: 0.3 s).
        public var minCommitSeconds: Double
        /// Uncommitted audio that makes the server commit on its own (§3.1: about 36 s); nil: never.
        public var autoCommitSeconds: Double?
        /// Keep every session's audio bytes in its `ElevenLabsEmulatorTranscriptionRecord`, so
        /// tests can compare exactly what arrived. Turn it off for long runs.
        public var recordsAudio: Bool
        public var faults: Faults

        public init(
            models: Set<String> = ["scribe_v2_realtime", "scribe_v2_realtime_turbo"],
            partialLatencyMs: Int = 150,
            commitLatencyMs: Int = 150,
            idleTimeoutSeconds: Double = 15,
            maxChunkSeconds: Double = 1,
            minCommitSeconds: Double = 0.3,
            autoCommitSeconds: Double? = 36,
            recordsAudio: Bool = true,
            faults: Faults = Faults()
        ) {
            self.models = models
            self.partialLatencyMs = partialLatencyMs
            self.commitLatencyMs = commitLatencyMs
            self.idleTimeoutSeconds = idleTimeoutSeconds
            self.maxChunkSeconds = maxChunkSeconds
            self.minCommitSeconds = minCommitSeconds
            self.autoCommitSeconds = autoCommitSeconds
            self.recordsAudio = recordsAudio
            self.faults = faults
        }

        /// Injected faults of the speech-to-text socket.
        public struct Faults: Sendable, Equatable {
            /// Every session gets `quota_exceeded` and a close at its first audio chunk.
            public var quotaExceeded: Bool
            /// The first N sessions get `rate_limited` and a close instead of `session_started`.
            public var rateLimitedCount: Int
            /// Drop the connection (TCP close, no close frame: the client sees 1006) once this much
            /// audio has arrived, in milliseconds. nil: never.
            public var disconnectAfterAudioMs: Int?
            /// Drop the connection instead of sending the first `partial_transcript`: the caller
            /// has started speaking and the client has no text yet.
            public var disconnectAtFirstPartial: Bool
            /// Drop every session that reaches the point, not only the first one.
            public var disconnectEveryTime: Bool
            /// Extra delay before every `committed_transcript`, in milliseconds (slow commits).
            public var commitDelayMs: Int

            public init(
                quotaExceeded: Bool = false,
                rateLimitedCount: Int = 0,
                disconnectAfterAudioMs: Int? = nil,
                disconnectAtFirstPartial: Bool = false,
                disconnectEveryTime: Bool = false,
                commitDelayMs: Int = 0
            ) {
                self.quotaExceeded = quotaExceeded
                self.rateLimitedCount = rateLimitedCount
                self.disconnectAfterAudioMs = disconnectAfterAudioMs
                self.disconnectAtFirstPartial = disconnectAtFirstPartial
                self.disconnectEveryTime = disconnectEveryTime
                self.commitDelayMs = commitDelayMs
            }

            /// Whether any fault that drops a connection is set.
            var disconnects: Bool { disconnectAfterAudioMs != nil || disconnectAtFirstPartial }
        }
    }
}
