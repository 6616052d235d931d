import NIOCore
import VoiceBridgeCarriers
import VoiceBridgeSpeech

/// One generation: a piece of text spoken by the voice, cut into messages, converted to the
/// output format and handed out at its paced time.
///
/// Confined to the connection's event loop. The voice runs elsewhere (its own thread); a task
/// forwards its chunks to the loop, one hop per chunk. Pacing uses absolute deadlines from the
/// generation's start: message k, starting `startMs` into the audio, is due at
/// `start + ttfb + startMs / speed` (or `start + ttfb` with speed 0), and goes out at that deadline
/// or as soon as it exists, whichever is later.
final class ElevenLabsEmulatorGeneration {
    struct Output {
        /// Audio in the output format.
        var audio: [UInt8]
        /// The μ-law-timed piece it came from (start and alignment).
        var piece: ElevenLabsEmulatorAudioSlicer.Piece
    }

    struct Timing: Sendable {
        var ttfb: TimeAmount
        var speed: Double
        var chunkMs: Int
    }

    private let eventLoop: any EventLoop
    private let text: String
    private let speech: any SpeechSource
    private let turnOptions: TurnOptions
    private let timing: Timing
    private var slicer: ElevenLabsEmulatorAudioSlicer
    /// μ-law voice to the requested format: the bridge's own converter, exact in length.
    private let converter: SpeechAudioConverter
    private let format: ElevenLabsEmulatorOutputFormat
    private var start: NIODeadline = .now()
    private var outbox: [(due: NIODeadline, output: Output)] = []
    private var outboxHead = 0
    private var sourceDone = false
    private var failure: (any Error)?
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private var turn: (any SpeechTurn)?
    private var task: Task<Void, Never>?
    private var finished = false
    private var onOutput: ((Output) -> Void)?
    private var onFinish: (((any Error)?) -> Void)?

    init(
        text: String,
        speech: any SpeechSource,
        turnOptions: TurnOptions,
        format: ElevenLabsEmulatorOutputFormat,
        timing: Timing,
        eventLoop: any EventLoop
    ) {
        self.text = text
        self.speech = speech
        self.turnOptions = turnOptions
        self.timing = timing
        self.eventLoop = eventLoop
        slicer = ElevenLabsEmulatorAudioSlicer(text: text, chunkMs: timing.chunkMs)
        converter = SpeechAudioConverter(target: format.mediaFormat)
        self.format = format
    }

    /// Whether the conversion resamples, so the last message waits for the resampler's tail.
    private var needsTail: Bool { slicerFormat.map { $0.sampleRate != format.mediaFormat.sampleRate } ?? true }
    private var slicerFormat: MediaFormat?

    /// Starts speaking. `onOutput` gets each message at its time; `onFinish` once, after the last
    /// (with the voice's error if it failed). Neither is called after `cancel()`.
    func start(onOutput: @escaping (Output) -> Void, onFinish: @escaping ((any Error)?) -> Void) {
        eventLoop.preconditionInEventLoop()
        self.onOutput = onOutput
        self.onFinish = onFinish
        start = .now()
        let turn = speech.speak(text, options: turnOptions)
        self.turn = turn
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let loop = eventLoop
        task = Task {
            do {
                for try await chunk in turn.chunks {
                    loop.execute { bound.value.receive(chunk) }
                }
                loop.execute { bound.value.sourceEnded(nil) }
            } catch {
                loop.execute { bound.value.sourceEnded(error) }
            }
        }
    }

    /// Stops at once: no more output, no finish callback.
    func cancel() {
        guard !finished else { return }
        finished = true
        turn?.cancel()
        task?.cancel()
        timer?.cancel()
        timer = nil
        outbox.removeAll()
        onOutput = nil
        onFinish = nil
    }

    private func receive(_ chunk: SpeechChunk) {
        guard !finished else { return }
        if slicerFormat == nil { slicerFormat = chunk.format }
        enqueue(slicer.append(chunk))
        pump()
    }

    private func sourceEnded(_ error: (any Error)?) {
        guard !finished else { return }
        if let error {
            failure = error
        } else {
            enqueue(slicer.finish())
            let tail = converter.finish()
            if !tail.isEmpty, let last = outbox.indices.last, last >= outboxHead {
                outbox[last].output.audio += tail
            }
        }
        sourceDone = true
        pump()
    }

    private func enqueue(_ pieces: [ElevenLabsEmulatorAudioSlicer.Piece]) {
        for piece in pieces {
            var due = start + timing.ttfb
            if timing.speed > 0 {
                due = due + .nanoseconds(Int64(Double(piece.startMs) * 1_000_000 / timing.speed))
            }
            outbox.append((due, Output(audio: (try? converter.convert(piece.audio, from: piece.format)) ?? [], piece: piece)))
        }
    }

    /// Hands out everything due, then waits for the next deadline or the voice.
    private func pump() {
        let now = NIODeadline.now()
        while outboxHead < outbox.count, !finished, outbox[outboxHead].due <= now {
            // The tail of a 16 kHz resample is added to the last message when the voice ends, so
            // hold the last message until then.
            if outboxHead == outbox.count - 1, !sourceDone, needsTail { break }
            let output = outbox[outboxHead].output
            outboxHead += 1
            onOutput?(output)
        }
        if outboxHead == outbox.count {
            outbox.removeAll(keepingCapacity: true)
            outboxHead = 0
        }
        guard !finished else { return }
        if outboxHead < outbox.count {
            let due = outbox[outboxHead].due
            if due > now, timerDeadline != due {
                timer?.cancel()
                timerDeadline = due
                timer = eventLoop.assumeIsolated().scheduleTask(deadline: due) { [self] in
                    timer = nil
                    timerDeadline = nil
                    pump()
                }
            }
            return
        }
        if sourceDone {
            finished = true
            let done = onFinish
            onOutput = nil
            onFinish = nil
            done?(failure)
        }
    }
}
