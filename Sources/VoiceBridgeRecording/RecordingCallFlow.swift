import Foundation
import NIOCore
import VoiceBridgeCalls
import VoiceBridgeSpeech

/// Wraps a flow to record what it is told (every `FlowEvent`) and what it decides (every
/// `CallControl` call it makes: play, streamed prompts, stop, timers, hang-up, redirect).
public final class RecordingCallFlow: CallFlow {
    private let base: any CallFlow
    private let recorder: CallRecorder
    private var control: RecordingCallControl?

    public init(_ base: any CallFlow, recorder: CallRecorder) {
        self.base = base
        self.recorder = recorder
    }

    private func wrap(_ call: any CallControl) -> RecordingCallControl {
        if let control, control.base === call { return control }
        let made = RecordingCallControl(base: call, recorder: recorder)
        control = made
        return made
    }

    public func start(_ call: any CallControl) {
        // Where the call anchored its playout grid: a replay anchors it at the same place, or a
        // tick and an inbound event a fraction of a millisecond apart could swap order.
        let grid = (call as? Call).map { recorder.milliseconds(ofUptime: $0.playout.origin) }
        recorder.flow { line in
            line.string("flow", "start")
            if let grid { line.number("gridMs", grid) }
        }
        base.start(wrap(call))
    }

    public func handle(_ event: FlowEvent, _ call: any CallControl) {
        recorder.flow { line in
            line.string("flow", "event")
            RecordedFlowEvent.write(event, into: &line)
        }
        base.handle(event, wrap(call))
    }
}

/// How flow events are spelled in a recording (`flow: event`).
enum RecordedFlowEvent {
    static func write(_ event: FlowEvent, into line: inout JSONLine) {
        switch event {
        case let .digit(d, interrupted):
            line.string("event", "digit")
            line.string("digit", String(d))
            line.bool("interrupted", interrupted)
        case let .callerSpeechStarted(interrupted):
            line.string("event", "callerSpeechStarted")
            line.bool("interrupted", interrupted)
        case let .callerSpeechStopped(durationMs):
            line.string("event", "callerSpeechStopped")
            line.int("durationMs", durationMs)
        case let .promptStarted(id):
            line.string("event", "promptStarted")
            line.string("id", id)
        case let .promptFinished(id):
            line.string("event", "promptFinished")
            line.string("id", id)
        case let .promptInterrupted(id, heard):
            line.string("event", "promptInterrupted")
            line.string("id", id)
            line.string("heard", heard.text)
            line.int("heardMs", heard.interruptedMs)
        case let .promptFailed(id, reason):
            line.string("event", "promptFailed")
            line.string("id", id)
            line.string("reason", reason)
        case let .timer(name):
            line.string("event", "timer")
            line.string("name", name)
        case let .transcript(transcript):
            line.string("event", "transcript")
            switch transcript {
            case let .partial(text):
                line.string("kind", "partial")
                line.string("text", text)
            case let .committed(commit):
                line.string("kind", "committed")
                line.string("text", commit.text)
                if let language = commit.languageCode { line.string("language", language) }
            case .commitIgnored:
                line.string("kind", "commitIgnored")
            case let .unavailable(reason):
                line.string("kind", "unavailable")
                line.string("reason", reason)
            }
        case let .ended(reason):
            line.string("event", "ended")
            line.string("reason", RecordedEndReason.text(reason))
        }
    }
}

/// The `CallControl` a recorded flow sees: records each decision, then makes it on the call.
/// Holds the call weakly: the call holds the flow, which holds this.
final class RecordingCallControl: CallControl {
    private(set) weak var base: (any CallControl)?
    private let recorder: CallRecorder
    let eventLoop: any EventLoop

    init(base: any CallControl, recorder: CallRecorder) {
        self.base = base
        self.recorder = recorder
        self.eventLoop = base.eventLoop
    }

    var callID: String { base?.callID ?? "" }
    var streamID: String { base?.streamID ?? "" }
    var accountID: String { base?.accountID ?? "" }
    var parameters: [String: String] { base?.parameters ?? [:] }
    var isPlaying: Bool { base?.isPlaying ?? false }

    func play(_ content: PromptContent, id: PromptID, interruptible: Interruptible) {
        play(content, id: id, interruptible: interruptible, voice: nil)
    }

    func deferInput() { base?.deferInput() }
    func resumeInput() { base?.resumeInput() }
    @discardableResult func listen(_ request: ListenRequest) -> Bool { base?.listen(request) ?? false }
    func stopListening() { base?.stopListening() }
    func setSpeechInterruption(_ evidence: BargeInPolicy.Evidence, ignoreBackchannel: Bool) {
        base?.setSpeechInterruption(evidence, ignoreBackchannel: ignoreBackchannel)
    }

    func play(_ content: PromptContent, id: PromptID, interruptible: Interruptible, voice: String?) {
        let text: String
        let audioBytes: Int?
        switch content {
        case let .text(t): (text, audioBytes) = (t, nil)
        case let .audio(bytes, t): (text, audioBytes) = (t, bytes.count)
        }
        let kept = recorder.redact(text)
        recorder.flow { line in
            line.string("flow", "play")
            line.string("id", id)
            line.string("interruptible", interruptible.rawValue)
            line.string("text", kept)
            if let audioBytes { line.int("audioBytes", audioBytes) }
            // A built prompt's audio, so a replay plays what the caller heard even where the
            // prompt files have since changed or are not built (see ReplayFlows).
            if case let .audio(bytes, promptText) = content, !promptText.isEmpty {
                line.string("audio", Data(bytes).base64EncodedString())
            }
            if let voice { line.string("voice", voice) }
        }
        base?.play(content, id: id, interruptible: interruptible, voice: voice)
    }

    func startStreamedPrompt(id: PromptID, interruptible: Interruptible) -> any StreamedPrompt {
        recorder.flow { line in
            line.string("flow", "stream")
            line.string("id", id)
            line.string("interruptible", interruptible.rawValue)
        }
        guard let base else { return DetachedPrompt() }
        return base.startStreamedPrompt(id: id, interruptible: interruptible)
    }

    func stopSpeaking() {
        recorder.flow { $0.string("flow", "stopSpeaking") }
        base?.stopSpeaking()
    }

    func setTimer(_ name: String, afterMs: Int) {
        recorder.flow { line in
            line.string("flow", "setTimer")
            line.string("name", name)
            line.int("ms", afterMs)
        }
        base?.setTimer(name, afterMs: afterMs)
    }

    func cancelTimer(_ name: String) {
        recorder.flow { line in
            line.string("flow", "cancelTimer")
            line.string("name", name)
        }
        base?.cancelTimer(name)
    }

    func hangUp() {
        recorder.flow { $0.string("flow", "hangUp") }
        base?.hangUp()
    }

    func redirect() {
        recorder.flow { $0.string("flow", "redirect") }
        base?.redirect()
    }

    func transfer(to destination: CallTransfer) {
        recorder.flow { line in
            line.string("flow", "transfer")
            switch destination {
            case let .dial(number): line.string("dial", number)
            case let .markup(markup): line.string("markup", markup)
            }
        }
        base?.transfer(to: destination)
    }
}

/// A streamed prompt for a call that is already gone: takes text and drops it.
private final class DetachedPrompt: StreamedPrompt {
    func send(text: String) {}
    func finish() {}
}
