import VoiceBridgeCalls

/// How a relay session is set up: ConversationRelay's TwiML attributes (doc §1.1), with the same
/// names and values, plus what the bridge needs to sign and to end the session.
public struct RelayConfiguration: Sendable, Equatable {
    /// The app's WebSocket URL, `ws://` or `wss://`. Signed exactly as written.
    public var url: String
    /// Spoken by the bridge at once, before the app has said anything.
    public var welcomeGreeting: String?
    public var welcomeGreetingInterruptible: Interruptible = .any
    /// What may interrupt the app's speech; `text`/`play` may override it per message.
    public var interruptible: Interruptible = .any
    /// Whether a talk cycle may be cut off by the app's next one (doc §5.4).
    public var preemptible = false
    /// Input during non-interruptible agent speech is reported only if this covers it (doc §5.5).
    public var reportInputDuringAgentSpeech: Interruptible = .none
    /// Send `dtmf` messages for key presses.
    public var dtmfDetection = false
    /// `info` subscriptions: `speaker-events`, `tokens-played`, and the bridge's own
    /// `x-voicebridge-turns` (the `x-voicebridge.*` extension events of doc §7).
    public var events: Set<RelayEvent> = []
    /// Copied into `setup.customParameters`.
    public var customParameters: [String: String] = [:]
    /// TTS/STT language (BCP-47); the app's `language` message changes it.
    public var language = "en-US"
    /// The shared secret that signs the connection with `X-Twilio-Signature` (the account's auth
    /// token on Twilio). nil: the upgrade is not signed.
    public var authToken: String?
    /// `setup.callStatus`: `RINGING` for a session that starts with the call, `IN_PROGRESS` for
    /// one started later (a flow's `relay` step).
    public var callStatus = "RINGING"
    /// What `end` (or a failed session) does when no `onEnd` handler takes over.
    public var endAction: RelayEndAction = .hangUp
    /// Said (not interruptible) before a failed session hangs up (the app unreachable, its
    /// socket gone), so the caller is not cut off without a word; nil says nothing. A redirect
    /// says nothing: the TwiML after the stream is the app's own answer to the failure.
    public var failureMessage: String?
    /// How long to wait for the app's WebSocket handshake.
    public var connectTimeoutMs = 5_000
    /// What `x-voicebridge.capabilities` announces for TTS (`elevenlabs`, `offline`).
    public var ttsName = "offline"
    /// Interim `prompt{last:false}` while the caller is still talking (doc §3.2).
    public var partialPrompts = false
    /// Words to listen for (`hints`, comma-separated on Twilio), as speech-to-text key terms.
    public var hints: [String] = []
    /// The STT language when it differs from `language` (`transcriptionLanguage`); `multi`
    /// lets the service detect it.
    public var transcriptionLanguage: String?
    /// `interruptSensitivity` (elevenlabs-stt.md §5.3): `high` interrupts on the detector's onset;
    /// `medium` on the first word; `low` on two words. Nil keeps the server's `barge_in`.
    public var interruptSensitivity: String?
    /// `ignoreBackchannel`: "uh-huh", "okay" never interrupt (needs words, so `high` becomes `medium`).
    public var ignoreBackchannel = false
    /// `speechTimeout`: the caller's silence (ms) that ends their turn and commits it; nil keeps
    /// the server's speech detector hangover.
    public var speechTimeoutMs: Int?
    /// How long the end of a turn waits for its final transcript before it sends what it has.
    public var finalTranscriptWaitMs = 1_500
    /// Largest app message accepted (larger ones close the socket, 1009).
    public var maxMessageBytes = 64 * 1024

    public init(url: String) {
        self.url = url
    }

    /// Parses an `events` (or `debug`) attribute: space-separated names; unknown ones (such as
    /// `debugging`) are ignored, as on Twilio.
    public static func parseEvents(_ text: String) -> Set<RelayEvent> {
        Set(text.split(whereSeparator: { $0 == " " || $0 == "," }).compactMap { RelayEvent(rawValue: String($0)) })
    }

    /// The interruptibility of one `text` or `play`: `false` is none; `true` is the configured
    /// types, or any if the configuration says none (doc §5.5, VoiceBridge's reading).
    public func interruptible(override: Bool?) -> Interruptible {
        switch override {
        case nil: interruptible
        case false?: .none
        case true?: interruptible == .none ? .any : interruptible
        }
    }
}

public enum RelayEvent: String, Sendable, Equatable, CaseIterable {
    case speakerEvents = "speaker-events"
    case tokensPlayed = "tokens-played"
    case voiceBridgeTurns = "x-voicebridge-turns"
}

public enum RelayEndAction: String, Sendable, Equatable, CaseIterable {
    /// Hang up once everything queued has been heard.
    case hangUp = "hangup"
    /// Close the stream so the carrier runs the TwiML after `</Connect>`.
    case redirect
}

/// The session result, as Twilio's `<Connect action>` callback reports it (doc §1.4).
public struct RelaySessionResult: Sendable, Equatable {
    public enum Status: String, Sendable, Equatable {
        /// The app sent `end`.
        case ended
        /// The caller hung up or the call was ended from outside.
        case completed
        /// The app could not be reached, its socket died, or it sent too many invalid messages.
        case failed
    }

    public var sessionId: String
    public var status: Status
    /// Whole seconds, as `SessionDuration`.
    public var durationSeconds: Int
    /// Only after the app's `end`, verbatim.
    public var handoffData: String?
    /// Only on `failed`: 64102 (could not connect) or 64105 (socket ended).
    public var errorCode: Int?
    public var errorMessage: String?

    public init(
        sessionId: String, status: Status, durationSeconds: Int, handoffData: String? = nil,
        errorCode: Int? = nil, errorMessage: String? = nil
    ) {
        self.sessionId = sessionId
        self.status = status
        self.durationSeconds = durationSeconds
        self.handoffData = handoffData
        self.errorCode = errorCode
        self.errorMessage = errorMessage
    }
}
