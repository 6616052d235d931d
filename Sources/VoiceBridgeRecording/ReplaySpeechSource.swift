import NIOCore
import NIOEmbedded
import VoiceBridgeCalls
import VoiceBridgeSpeech

/// Stands in for the speech source during a replay: each request is answered with the chunks
/// recorded for it (matched in order by kind and text), at the recorded offsets from the request,
/// on the virtual clock. A request the file has no audio for is spoken by `StandInVoice`.
///
/// Chunks are handed to the call on its loop (`Call.speechChunk`), never through the turn's
/// stream: the call reads that stream from a task, and a task hopping onto an `EmbeddedEventLoop`
/// from another thread would be a race and would make replays depend on thread timing. The
/// streams therefore never yield and never finish.
final class ReplaySpeechSource: SpeechSource, @unchecked Sendable {
    let name = "replay"
    private let loop: EmbeddedEventLoop
    private var turns: [RecordedCall.RecordedTurn]
    private var used: [Bool]
    weak var call: Call?
    private var continuations: [AsyncThrowingStream<SpeechChunk, any Error>.Continuation] = []
    /// What the replay had to make up, for the report.
    private(set) var notes: [String] = []

    /// A request within this of its recorded time gets its chunks at their recorded times.
    private let anchorMs: Double

    init(loop: EmbeddedEventLoop, turns: [RecordedCall.RecordedTurn], anchorMs: Double) {
        self.loop = loop
        self.anchorMs = anchorMs
        self.turns = turns
        self.used = Array(repeating: false, count: turns.count)
    }

    fileprivate func keep(_ continuation: AsyncThrowingStream<SpeechChunk, any Error>.Continuation) {
        continuations.append(continuation)
    }

    func speak(_ text: String, options: TurnOptions) -> any SpeechTurn {
        let turn = ReplayTurn(id: options.id, source: self, streamed: false)
        if let i = turns.indices.first(where: { !used[$0] && !turns[$0].streamed && turns[$0].text == text }) {
            used[i] = true
            if turns[i].events.isEmpty {
                // A request written down without audio: the stand-in voice speaks it.
                synthesize(text, for: turn)
            } else {
                schedule(turns[i].events, for: turn, recordedAt: turns[i].t)
            }
        } else {
            if !turns.isEmpty { notes.append("no recorded audio for \"\(text.prefix(60))\": spoken by the stand-in voice") }
            synthesize(text, for: turn)
        }
        return turn
    }

    func startTurn(_ options: TurnOptions) -> any SpeechTurn {
        let turn = ReplayTurn(id: options.id, source: self, streamed: true)
        if let i = turns.indices.first(where: { !used[$0] && turns[$0].streamed && !turns[$0].events.isEmpty }) {
            used[i] = true
            turn.matched = true
            schedule(turns[i].events, for: turn, recordedAt: turns[i].t)
        }
        return turn
    }

    /// A streamed turn with no recording is spoken when its text is complete.
    fileprivate func finished(_ turn: ReplayTurn) {
        guard !turn.matched else { return }
        if !turns.isEmpty { notes.append("no recorded audio for streamed turn \(turn.id): spoken by the stand-in voice") }
        synthesize(turn.text, for: turn)
    }

    private func synthesize(_ text: String, for turn: ReplayTurn) {
        var events = StandInVoice.chunks(for: text, turnID: turn.id).map {
            RecordedCall.SpeechEvent(offsetMs: 0, kind: .chunk($0.audio, $0.alignment, $0.format))
        }
        events.append(.init(offsetMs: 0, kind: .done))
        schedule(events, for: turn)
    }

    /// Chunk times: a request made within `anchorMs` of its recorded time gets its chunks at
    /// their recorded times (never before now). The recorded request came a little after the
    /// event that caused it, because the real loop's clock moves while it works and a virtual one
    /// does not; measured from the replay's earlier request, the chunks would land up to a
    /// millisecond early and could fall on the other side of a playout tick. A request further
    /// off (the engine or the flow changed) gets its chunks at the recorded offsets from itself.
    private func schedule(_ events: [RecordedCall.SpeechEvent], for turn: ReplayTurn, recordedAt: Double? = nil) {
        let now = loop.now
        let nowMs = Double(now.uptimeNanoseconds) / 1_000_000
        let base = recordedAt.flatMap { abs($0 - nowMs) <= anchorMs ? $0 : nil } ?? nowMs
        for event in events {
            let ms = max(nowMs, base + max(0, event.offsetMs))
            let at = max(now, NIODeadline.uptimeNanoseconds(UInt64((ms * 1_000_000).rounded())))
            loop.scheduleTask(deadline: at) { [weak self] in
                guard let self, !turn.cancelled, let call = self.call else { return }
                switch event.kind {
                case let .chunk(audio, alignment, format):
                    call.speechChunk(SpeechChunk(turnID: turn.id, audio: audio, alignment: alignment, format: format), turnID: turn.id)
                case .done:
                    call.speechFinished(turnID: turn.id, error: nil)
                case let .error(message):
                    call.speechFinished(turnID: turn.id, error: ReplayedSpeechError(message: message))
                }
            }
        }
    }
}

/// A speech failure as the recording described it.
struct ReplayedSpeechError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

final class ReplayTurn: SpeechTurn, @unchecked Sendable {
    let id: String
    let chunks: AsyncThrowingStream<SpeechChunk, any Error>
    private weak var source: ReplaySpeechSource?
    let streamed: Bool
    var matched = false
    private(set) var cancelled = false
    private(set) var text = ""

    init(id: String, source: ReplaySpeechSource, streamed: Bool) {
        self.id = id
        self.source = source
        self.streamed = streamed
        let (stream, continuation) = AsyncThrowingStream<SpeechChunk, any Error>.makeStream()
        chunks = stream
        // Kept, unfinished, for as long as the source lives: the stream must never end (see
        // `ReplaySpeechSource`), and whether dropping a continuation ends its stream is not
        // something to rely on.
        source.keep(continuation)
    }

    func send(text more: String) { text += more }

    /// Nothing to deliver: the source hands chunks to the call itself. The default would start a
    /// task waiting on `chunks`, which never end, so the task and the call it holds outlived
    /// every replay (LeakSanitizer, through the replay fuzz target; the console replays a
    /// recording each time its timeline opens).
    func deliver(on loop: any EventLoop, to receiver: @escaping (SpeechDelivery) -> Void) {}

    func finish() {
        if streamed { source?.finished(self) }
    }

    func cancel() { cancelled = true }
}
