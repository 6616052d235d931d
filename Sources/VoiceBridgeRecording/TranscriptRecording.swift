import NIOCore
import NIOEmbedded
import VoiceBridgeSpeech

/// Speech-to-text in a recording (`stt` lines): what the call asked for, and every transcript,
/// commit and failure at the time it reached the call, so a replay feeds the same words at the
/// same moments without the service.
///
/// `{"t":…,"stt":"listen","language":"en","keyterms":["billing"]}`, then
/// `{"t":…,"stt":"partial","text":…}`, `{"t":…,"stt":"committed","text":…,"language":…}`,
/// `{"t":…,"stt":"ignored"}`, `{"t":…,"stt":"trouble"|"failed","kind":…,"error":…}`.
public struct RecordedTranscript: Sendable, Equatable {
    public var t: Double
    public var event: RealtimeTranscriber.Event

    public init(t: Double, event: RealtimeTranscriber.Event) {
        self.t = t
        self.event = event
    }

    static func write(_ event: RealtimeTranscriber.Event, into line: inout JSONLine, redact: (String) -> String) {
        switch event {
        case let .started(id):
            line.string("stt", "started")
            line.string("session", id)
        case let .partial(text):
            line.string("stt", "partial")
            line.string("text", redact(text))
        case let .committed(commit):
            line.string("stt", "committed")
            line.string("text", redact(commit.text))
            if let language = commit.languageCode { line.string("language", language) }
        case .commitIgnored:
            line.string("stt", "ignored")
        case let .trouble(error):
            line.string("stt", "trouble")
            line.string("kind", error.kind.rawValue)
            line.string("error", error.message)
        case let .failed(error):
            line.string("stt", "failed")
            line.string("kind", error.kind.rawValue)
            line.string("error", error.message)
        }
    }

    /// The event an `stt` line holds; nil for `listen` (the call asks again in a replay).
    static func read(_ kind: String, _ r: FieldReader, line: Int) throws(RecordingError) -> RealtimeTranscriber.Event? {
        func error() throws(RecordingError) -> ScribeError {
            let name = try r.string("kind") ?? "transcriber"
            guard let kind = ScribeError.Kind(rawValue: name) else { throw RecordingError(line: line, "unknown stt error kind \"\(name)\"") }
            return ScribeError(kind, try r.string("error") ?? "")
        }
        switch kind {
        case "listen": return nil
        case "started": return .started(sessionID: try r.string("session") ?? "")
        case "partial": return .partial(try r.string("text") ?? "")
        case "committed": return .committed(ScribeCommit(text: try r.string("text") ?? "", languageCode: try r.string("language")))
        case "ignored": return .commitIgnored
        case "trouble": return .trouble(try error())
        case "failed": return .failed(try error())
        default:
            throw RecordingError(line: line, "unknown stt kind \"\(kind)\" (listen, started, partial, committed, ignored, trouble, failed)")
        }
    }
}

/// Records a live call's speech-to-text around the real provider.
public struct RecordingTranscription: TranscriberProvider {
    let base: any TranscriberProvider
    let recorder: CallRecorder

    public init(_ base: any TranscriberProvider, recorder: CallRecorder) {
        self.base = base
        self.recorder = recorder
    }

    public func makeTranscriber(
        _ request: ListenRequest, format: ScribeSettings.AudioFormat, on eventLoop: any EventLoop,
        onEvent: @escaping (RealtimeTranscriber.Event) -> Void
    ) -> any CallTranscriber {
        recorder.speech { line in
            line.string("stt", "listen")
            if let language = request.languageCode { line.string("language", language) }
            if !request.keyterms.isEmpty { line.strings("keyterms", request.keyterms) }
        }
        let recorder = recorder
        return base.makeTranscriber(request, format: format, on: eventLoop) { event in
            recorder.speech { RecordedTranscript.write(event, into: &$0, redact: recorder.redact) }
            onEvent(event)
        }
    }
}

/// Speech-to-text in a replay: the recorded events, each delivered once at its recorded time to
/// whichever transcriber the call has open then (a call that isn't listening hears nothing).
final class ReplayTranscription: TranscriberProvider, @unchecked Sendable {
    private let loop: EmbeddedEventLoop
    private let events: [RecordedTranscript]
    private var next = 0
    private var current: ReplayTranscriber?

    init(loop: EmbeddedEventLoop, events: [RecordedTranscript]) {
        self.loop = loop
        self.events = events
    }

    func makeTranscriber(
        _ request: ListenRequest, format: ScribeSettings.AudioFormat, on eventLoop: any EventLoop,
        onEvent: @escaping (RealtimeTranscriber.Event) -> Void
    ) -> any CallTranscriber {
        let transcriber = ReplayTranscriber(owner: self, onEvent: onEvent)
        current = transcriber
        return transcriber
    }

    fileprivate func started(_ transcriber: ReplayTranscriber) {
        scheduleNext()
    }

    private var scheduled = false

    private func scheduleNext() {
        guard !scheduled, next < events.count else { return }
        scheduled = true
        let event = events[next]
        loop.scheduleTask(deadline: .uptimeNanoseconds(UInt64((max(0, event.t) * 1_000_000).rounded()))) { [weak self] in
            guard let self else { return }
            self.scheduled = false
            self.next += 1
            if let current = self.current, current.live { current.onEvent(event.event) }
            self.scheduleNext()
        }
    }

    fileprivate func stopped(_ transcriber: ReplayTranscriber) {
        if current === transcriber { current = nil }
    }
}

final class ReplayTranscriber: CallTranscriber {
    private unowned let owner: ReplayTranscription
    let onEvent: (RealtimeTranscriber.Event) -> Void
    private(set) var live = false

    init(owner: ReplayTranscription, onEvent: @escaping (RealtimeTranscriber.Event) -> Void) {
        self.owner = owner
        self.onEvent = onEvent
    }

    func start() {
        live = true
        owner.started(self)
    }

    func append(_ bytes: UnsafeRawBufferPointer) {}
    func commit() {}

    func stop() {
        live = false
        owner.stopped(self)
    }
}
