import NIOCore
import VoiceBridgeCarriers
import VoiceBridgeSpeech

/// What a call should do next. A flow reacts to events and drives the call through `CallControl`.
///
/// Flows run on the call's event loop, synchronously, so they need no locks. A flow that awaits
/// something (a webhook, an app socket) does it in a task and comes back with `CallControl`
/// calls hopped onto the loop.
public protocol CallFlow: AnyObject {
    func start(_ call: any CallControl)
    func handle(_ event: FlowEvent, _ call: any CallControl)
}

/// An id for one prompt the flow asked for; events about it carry the same id.
public typealias PromptID = String

public enum FlowEvent: Sendable, Equatable {
    /// A key press, after de-duplication. `interrupted` says it barged in on a prompt.
    case digit(Character, interrupted: Bool)
    /// The detector confirmed caller speech (after the minimum speech time).
    case callerSpeechStarted(interrupted: Bool)
    case callerSpeechStopped(durationMs: Int)
    /// The prompt's first frame went to the carrier: the caller starts hearing it (one lead later).
    case promptStarted(PromptID)
    /// The prompt's last mark came back: the caller heard all of it.
    case promptFinished(PromptID)
    /// A barge-in cut the prompt off.
    case promptInterrupted(PromptID, heard: MarkLedger.Heard)
    /// The prompt could not be spoken (every speech source failed).
    case promptFailed(PromptID, reason: String)
    /// A timer the flow set went off.
    case timer(String)
    /// What the caller said, from speech-to-text, while the flow listens (`listen(_:)`).
    case transcript(Transcript)
    /// The call is over; no control calls have any effect any more.
    case ended(CallEndReason)
}

/// Speech-to-text news for a listening flow.
public enum Transcript: Sendable, Equatable {
    /// The open segment's current hypothesis (cumulative within the segment).
    case partial(String)
    /// The final text of a segment; a turn may hold several.
    case committed(ScribeCommit)
    /// The turn's commit brought no text (too little audio, or the service ignored it).
    case commitIgnored
    /// Nobody can hear the caller any more on this call (the key, quota or service failed).
    case unavailable(String)
}

public enum CallEndReason: Sendable, Equatable {
    case carrierStop
    case socketClosed
    case statusCallback(String)
    case hangUp
    case redirect
    case protocolError(String)
    case serverShutdown
    /// The server drained: the drain time ran out, the caller heard the goodbye, the call hung up.
    case drained
}

/// What a prompt plays: text through the speech source, or audio the flow already has.
public enum PromptContent: Sendable, Equatable {
    case text(String)
    /// Raw μ-law 8 kHz bytes (a built prompt file, tones) with the text they speak, if any.
    case audio([UInt8], text: String)
}

/// Where the carrier takes the caller once the bridge lets go of the call.
public enum CallTransfer: Sendable, Equatable {
    /// Dial this number (or SIP address).
    case dial(String)
    /// Run these instructions, written in the carrier's own markup (TwiML, TeXML, ...).
    case markup(String)
}

/// The call's side that a flow can drive.
public protocol CallControl: AnyObject {
    /// The loop the call is confined to. A flow that waits on I/O (a webhook, an app socket)
    /// comes back here before touching the call; sockets opened on this loop need no hop at all.
    var eventLoop: any EventLoop { get }
    /// The carrier's ids for this call, under neutral names (Twilio: CallSid, StreamSid, AccountSid).
    var callID: String { get }
    var streamID: String { get }
    var accountID: String { get }
    /// Webhook form fields and `<Parameter>` values, for `{{variables}}` in flows.
    var parameters: [String: String] { get }
    var isPlaying: Bool { get }

    /// Queues a prompt behind whatever is playing. Events about it carry `id`.
    func play(_ content: PromptContent, id: PromptID, interruptible: Interruptible)
    /// The same, spoken with another voice than the call's (text prompts only).
    func play(_ content: PromptContent, id: PromptID, interruptible: Interruptible, voice: String?)
    /// Starts a streamed turn whose text arrives bit by bit (an app or LLM). Returns a handle
    /// that takes text and is ended with `finish()`.
    func startStreamedPrompt(id: PromptID, interruptible: Interruptible) -> any StreamedPrompt
    /// Drops everything queued or playing, as on barge-in, but without a caller event.
    func stopSpeaking()
    func setTimer(_ name: String, afterMs: Int)
    func cancelTimer(_ name: String)
    /// Ends the call once everything queued has been heard (its last mark is back), or after a
    /// timeout. `redirect` lets the carrier run the TwiML after `</Connect>`; both close the socket.
    func hangUp()
    func redirect()
    /// Like `redirect()`, and the carrier then takes the caller to `destination`. The carrier's
    /// own mechanism does it (Twilio: the TwiML answering `<Connect action>`); flows never see it.
    func transfer(to destination: CallTransfer)
    /// Holds caller input (audio and keys) while a flow sets up asynchronously (an app socket),
    /// so the caller's first words and keys are not lost; `resumeInput()` replays it.
    func deferInput()
    func resumeInput()
    /// Starts (or re-aims) speech-to-text of the caller; `.transcript` events follow. False when
    /// this call cannot hear the caller (no speech-to-text configured, or a format it can't take).
    @discardableResult func listen(_ request: ListenRequest) -> Bool
    /// Stops speech-to-text: a flow that no longer listens costs nothing.
    func stopListening()
    /// What speech must show to interrupt from now on (energy, or words from speech-to-text).
    func setSpeechInterruption(_ evidence: BargeInPolicy.Evidence, ignoreBackchannel: Bool)
}

extension CallControl {
    // Defaults for controls that have nothing to hold (test doubles, wrappers).
    public func deferInput() {}
    public func resumeInput() {}
    @discardableResult public func listen(_ request: ListenRequest) -> Bool { false }
    public func stopListening() {}
    public func setSpeechInterruption(_ evidence: BargeInPolicy.Evidence, ignoreBackchannel: Bool) {}
}

extension CallControl {
    public func play(_ content: PromptContent, id: PromptID, interruptible: Interruptible, voice: String?) {
        play(content, id: id, interruptible: interruptible)
    }
}

public protocol StreamedPrompt: AnyObject {
    func send(text: String)
    func finish()
}
