/// What one realtime speech-to-text session received and answered: the audio chunks as they
/// arrived, the commits and every message sent, so a test can assert exactly which audio and
/// commits reached the service. The handshake itself (query, redacted headers, the close) is in
/// the `ElevenLabsEmulatorRequestRecord` with the same `requestID`.
public struct ElevenLabsEmulatorTranscriptionRecord: Sendable, Equatable {
    /// One `input_audio_chunk`.
    public struct Chunk: Sendable, Equatable {
        /// Audio bytes after base64 decoding, in the session's `audio_format`.
        public var audioBytes: Int
        public var commit: Bool
        public var sampleRate: Int?
        public var previousText: String?
        /// The session's audio up to the end of this chunk, in milliseconds.
        public var audioEndMs: Int

        public init(audioBytes: Int, commit: Bool, sampleRate: Int?, previousText: String?, audioEndMs: Int) {
            self.audioBytes = audioBytes
            self.commit = commit
            self.sampleRate = sampleRate
            self.previousText = previousText
            self.audioEndMs = audioEndMs
        }
    }

    /// One commit the server carried out.
    public struct Commit: Sendable, Equatable {
        public enum Trigger: String, Sendable {
            /// The client's `commit: true`.
            case manual
            /// Server VAD: silence after speech.
            case vad
            /// Too much uncommitted audio.
            case automatic
        }

        public var trigger: Trigger
        /// The committed text ("" when nothing was recognised).
        public var text: String
        /// The session's audio up to the commit, in milliseconds.
        public var audioEndMs: Int

        public init(trigger: Trigger, text: String, audioEndMs: Int) {
            self.trigger = trigger
            self.text = text
            self.audioEndMs = audioEndMs
        }
    }

    /// The `ElevenLabsEmulatorRequestRecord` of the handshake.
    public var requestID: Int
    /// The `session_id` sent in `session_started`; nil if the session was refused first.
    public var sessionID: String?
    public var audioFormat: String?
    public var chunks: [Chunk] = []
    /// Every audio byte received, in order, when `SpeechToText.recordsAudio` is on.
    public var audio: [UInt8] = []
    public var commits: [Commit] = []
    /// Commits refused with `commit_throttled`.
    public var throttledCommits = 0
    /// Every message the emulator sent, in order.
    public var sent: [String] = []
    /// When each of `sent` went out (monotonic nanoseconds), for latency checks downstream.
    public var sentAtNanos: [UInt64] = []
    /// Audio received, in seconds.
    public var audioSeconds: Double = 0

    public init(requestID: Int) {
        self.requestID = requestID
    }
}
