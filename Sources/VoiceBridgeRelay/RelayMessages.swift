/// `setup`, the first message of every session (doc §3.1).
public struct RelaySetup: Sendable, Equatable {
    public var sessionId: String
    public var accountSid: String
    public var callSid: String
    public var parentCallSid: String
    public var from: String
    public var to: String
    public var forwardedFrom: String
    public var callerName: String
    public var direction: String
    public var callType: String
    /// UPPERCASE, as Twilio sends it: `RINGING` or `IN_PROGRESS`.
    public var callStatus: String
    public var customParameters: [String: String]

    public init(
        sessionId: String, accountSid: String, callSid: String, parentCallSid: String = "", from: String, to: String,
        forwardedFrom: String, callerName: String = "", direction: String = "inbound", callType: String = "PSTN",
        callStatus: String = "RINGING", customParameters: [String: String] = [:]
    ) {
        self.sessionId = sessionId
        self.accountSid = accountSid
        self.callSid = callSid
        self.parentCallSid = parentCallSid
        self.from = from
        self.to = to
        self.forwardedFrom = forwardedFrom
        self.callerName = callerName
        self.direction = direction
        self.callType = callType
        self.callStatus = callStatus
        self.customParameters = customParameters
    }
}

/// What the bridge (the relay) sends to the app.
public enum RelayOutbound: Sendable, Equatable {
    case setup(RelaySetup)
    case dtmf(digit: String)
    /// What the caller said (doc §3.2): cumulative for the turn; `last` ends it.
    case prompt(voicePrompt: String, lang: String, last: Bool)
    case interrupt(utteranceUntilInterrupt: String, durationUntilInterruptMs: Int)
    /// `info` with a string value: `agentSpeaking`, `clientSpeaking` ("on"/"off"), `tokensPlayed`.
    case info(name: String, value: String)
    /// `x-voicebridge.callerTurn` (doc §7): the VAD decided a caller utterance is over.
    case callerTurnEnded(durationMs: Int, interruptedAgent: Bool)
    /// `x-voicebridge.capabilities` (doc §7), once, right after `setup`.
    case capabilities(String)
    case error(description: String)
}

/// What the app sends to the bridge, validated (doc §4).
public enum RelayInbound: Sendable, Equatable {
    case text(RelayText)
    case play(RelayPlay)
    /// Only `0-9`, `*`, `#` and `w` (a half-second pause); never empty.
    case sendDigits(String)
    case language(ttsLanguage: String?, transcriptionLanguage: String?)
    case end(handoffData: String?)
}

public struct RelayText: Sendable, Equatable {
    /// Never trimmed: whitespace between tokens belongs to the tokens.
    public var token: String
    public var last: Bool
    public var lang: String?
    public var interruptible: Bool?
    public var preemptible: Bool?

    public init(token: String, last: Bool = false, lang: String? = nil, interruptible: Bool? = nil, preemptible: Bool? = nil) {
        self.token = token
        self.last = last
        self.lang = lang
        self.interruptible = interruptible
        self.preemptible = preemptible
    }
}

public struct RelayPlay: Sendable, Equatable {
    public var source: String
    /// How many times to play it: `loop` as sent, with 0 meaning the maximum, 1000.
    public var loop: Int
    public var interruptible: Bool?
    public var preemptible: Bool?

    public init(source: String, loop: Int = 1, interruptible: Bool? = nil, preemptible: Bool? = nil) {
        self.source = source
        self.loop = loop
        self.interruptible = interruptible
        self.preemptible = preemptible
    }
}

/// An app message that failed validation: answered with `error` (64107) and dropped.
public struct RelayMessageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was wrong, for the log.
    public var reason: String
    /// The offending frame, as received (cut to `maxFrameEcho` characters).
    public var frame: String

    public static let code = 64107
    static let maxFrameEcho = 1024

    public init(reason: String, frame: String) {
        self.reason = reason
        self.frame = frame.count > Self.maxFrameEcho ? String(frame.prefix(Self.maxFrameEcho)) : frame
    }

    /// Twilio's wording for an invalid app frame (doc §3.5), which apps may match on.
    public var errorDescription: String { "Invalid message received, code: \(Self.code), \(frame)" }

    public var description: String { "invalid relay message (\(reason)): \(frame)" }
}
