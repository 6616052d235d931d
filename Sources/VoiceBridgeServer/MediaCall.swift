import Logging
import NIOCore
import VoiceBridgeCalls
import VoiceBridgeCarriers
import VoiceBridgeRecording

/// What a media socket drives: `Call` from VoiceBridgeCalls in production; tests plug in scripted
/// calls at this boundary to exercise the socket handling on its own.
///
/// Every method is called on the socket's event loop, which is the call's loop.
public protocol MediaCall: AnyObject {
    func receive(_ event: CarrierEvent)
    /// The socket closed (peer close, error, or our own close). Idempotent.
    func socketClosed()
    /// A terminal call status arrived by status callback. Idempotent.
    func statusCallback(_ status: String)
    /// The server's drain time is up: say goodbye and hang up; the socket is closed after the
    /// goodbye's time anyway.
    func shutdown()
    /// The control API: speak `text` behind whatever is queued. False if the call cannot.
    func controlSay(_ text: String, interruptible: Interruptible) -> Bool
    /// The control API: hang up once what is queued has been heard. False if the call cannot.
    func controlHangUp() -> Bool
    /// What `GET /calls` shows of this call; nil if it has nothing to show.
    var liveState: LiveCallState? { get }
    /// A playout tick that is due but has not run (`Call.overdueTick`), so a recording can put
    /// input that arrives now before it, as the live call handles it.
    func overdueTick(at uptime: Int64) -> Int64?
    /// What the live console reads of the call itself; `metering` puts a `CallMeter` on it (or
    /// takes it off). Nil for a call with nothing to show.
    func consoleReading(metering: Bool) -> CallConsoleReading?
}

extension MediaCall {
    // Scripted test calls have no speech and no state: the control API answers 409 for them.
    public func controlSay(_ text: String, interruptible: Interruptible) -> Bool { false }
    public func controlHangUp() -> Bool { false }
    public var liveState: LiveCallState? { nil }
    public func overdueTick(at uptime: Int64) -> Int64? { nil }
    public func consoleReading(metering: Bool) -> CallConsoleReading? { nil }
}

/// The call's own part of what the console shows.
public struct CallConsoleReading: Sendable, Equatable {
    /// `awaitingStart`, `settingUp`, `active` or `ended`.
    public var phase: String
    public var playing: Bool
    public var transcribing: Bool
    /// Peaks since the last reading, 0...100; 0 while no meter was on.
    public var levelIn: Int
    public var levelOut: Int

    public init(phase: String, playing: Bool, transcribing: Bool, levelIn: Int, levelOut: Int) {
        self.phase = phase
        self.playing = playing
        self.transcribing = transcribing
        self.levelIn = levelIn
        self.levelOut = levelOut
    }
}

/// One live call as the control API lists it.
public struct LiveCallState: Sendable, Equatable, Codable {
    public var callSid: String
    public var streamSid: String
    public var from: String
    public var to: String
    /// `awaitingStart`, `settingUp`, `active` or `ended`.
    public var phase: String
    /// Whether the caller is hearing (or is about to hear) the bridge's audio.
    public var playing: Bool
    /// When the media socket opened (ISO 8601, UTC); filled in by the server.
    public var startedAt: String

    public init(callSid: String, streamSid: String, from: String, to: String, phase: String, playing: Bool, startedAt: String = "") {
        self.callSid = callSid
        self.streamSid = streamSid
        self.from = from
        self.to = to
        self.phase = phase
        self.playing = playing
        self.startedAt = startedAt
    }
}

/// What a call is created with when its media socket opens.
public struct MediaCallContext {
    /// The socket's loop: the call must live on it.
    public let eventLoop: any EventLoop
    /// The CallSid the stream token was minted for; `start.callSid` must match it.
    public let callSid: String
    /// Webhook parameters remembered for this CallSid (empty if none): the flow variables.
    public let parameters: [String: String]
    /// Feeds the server's metrics.
    public let observer: any CallObserver
    /// Carries `callSid`; the call adds `streamSid` once it knows it.
    public let logger: Logger
    /// Set when the server records calls (`serve --record DIR`): the factory wraps the call's
    /// parts so that everything they do is recorded.
    public let recorder: CallRecorder?
    /// `twilio.account_sid`, when set: recorded so a replay applies the same `start` check.
    public let accountSid: String?
    /// The carrier's dialect (`twilio`, `telnyx`), recorded so a replay reads messages the same way.
    public let dialect: String
    /// The format the bridge asked the carrier for: a per-call speech source asks ElevenLabs for
    /// the same, so its audio passes through. (The stream's start has the last word.)
    public let mediaFormat: MediaFormat
    /// The call's history for the live console, when the server has one (`serve` with a control
    /// token): the factory routes the flow's events through it.
    let consoleLog: CallConsoleLog?

    public init(
        eventLoop: any EventLoop,
        callSid: String,
        parameters: [String: String],
        observer: any CallObserver,
        logger: Logger,
        recorder: CallRecorder? = nil,
        accountSid: String? = nil,
        dialect: String = TwilioDialect.name,
        mediaFormat: MediaFormat = .mulaw8kMono
    ) {
        self.init(
            eventLoop: eventLoop, callSid: callSid, parameters: parameters, observer: observer, logger: logger, recorder: recorder,
            accountSid: accountSid, dialect: dialect, mediaFormat: mediaFormat, consoleLog: nil)
    }

    init(
        eventLoop: any EventLoop,
        callSid: String,
        parameters: [String: String],
        observer: any CallObserver,
        logger: Logger,
        recorder: CallRecorder?,
        accountSid: String?,
        dialect: String,
        mediaFormat: MediaFormat,
        consoleLog: CallConsoleLog?
    ) {
        self.consoleLog = consoleLog
        self.eventLoop = eventLoop
        self.mediaFormat = mediaFormat
        self.callSid = callSid
        self.parameters = parameters
        self.observer = observer
        self.logger = logger
        self.recorder = recorder
        self.accountSid = accountSid
        self.dialect = dialect
    }
}

/// Creates the call for a new media socket. Runs on the socket's event loop.
public typealias MediaCallFactory = @Sendable (MediaCallContext, any CarrierSink) -> any MediaCall
