import Foundation
import NIOCore
import VoiceBridgeCarriers
import VoiceBridgeSpeech

/// A `SpeechSource` that records each request (turn id = the upstream context id, text, options)
/// and every chunk the call receives (audio and alignment), with the turn's end, error or cancel.
///
/// A chunk's time is when the call's loop handles it, which is what a replay has to reproduce:
/// the recorder sits in the turn's delivery to the call, on the call's loop, and writes each
/// chunk just before the call takes it.
public struct RecordingSpeechSource: SpeechSource {
    private let base: any SpeechSource
    private let recorder: CallRecorder
    private let loop: any EventLoop

    /// - Parameter loop: the call's event loop.
    public init(_ base: any SpeechSource, recorder: CallRecorder, loop: any EventLoop) {
        self.base = base
        self.recorder = recorder
        self.loop = loop
    }

    public var name: String { base.name }
    public func voiceName(for options: TurnOptions) -> String { base.voiceName(for: options) }

    public func startTurn(_ options: TurnOptions) -> any SpeechTurn {
        recorder.speech { line in
            line.string("tts", "start")
            Self.write(options, source: base.name, into: &line)
        }
        return RecordingSpeechTurn(base.startTurn(options), recorder: recorder, loop: loop, streamed: true)
    }

    public func speak(_ text: String, options: TurnOptions) -> any SpeechTurn {
        let kept = recorder.redact(text)
        recorder.speech { line in
            line.string("tts", "request")
            Self.write(options, source: base.name, into: &line)
            line.string("text", kept)
        }
        return RecordingSpeechTurn(base.speak(text, options: options), recorder: recorder, loop: loop, streamed: false)
    }

    static func write(_ options: TurnOptions, source: String, into line: inout JSONLine) {
        line.string("turn", options.id)
        line.optionalString("voice", options.voice)
        line.optionalString("model", options.model)
        line.optionalString("language", options.language)
        line.string("source", source)
    }
}

/// Records one turn's traffic in both directions.
final class RecordingSpeechTurn: SpeechTurn, @unchecked Sendable {
    let id: String
    private let base: any SpeechTurn
    var charactersSent: Int { base.charactersSent }
    private let recorder: CallRecorder
    private let loop: any EventLoop
    private let streamed: Bool

    init(_ base: any SpeechTurn, recorder: CallRecorder, loop: any EventLoop, streamed: Bool) {
        self.id = base.id
        self.base = base
        self.recorder = recorder
        self.loop = loop
        self.streamed = streamed
    }

    /// The call's way: each delivery is recorded on the call's loop the moment the call gets it.
    func deliver(on loop: any EventLoop, to receiver: @escaping (SpeechDelivery) -> Void) {
        let (recorder, id) = (recorder, id)
        base.deliver(on: loop) { delivery in
            Self.record(delivery, turn: id, recorder: recorder)
            receiver(delivery)
        }
    }

    var chunks: AsyncThrowingStream<SpeechChunk, any Error> {
        let iterator = IteratorBox(base.chunks.makeAsyncIterator())
        let (recorder, loop, id) = (recorder, loop, id)
        // Unfolding pulls from the base stream on the consumer's own task: no extra task; the
        // recorder hops to the call's loop, as a consumer there would.
        return AsyncThrowingStream(unfolding: {
            do {
                guard let chunk = try await iterator.next() else {
                    loop.execute { Self.record(.finished, turn: id, recorder: recorder) }
                    return nil
                }
                loop.execute { Self.record(.chunk(chunk), turn: id, recorder: recorder) }
                return chunk
            } catch {
                let failure = ReplayedSpeechError(message: String(describing: error))
                loop.execute { Self.record(.failed(failure), turn: id, recorder: recorder) }
                throw error
            }
        })
    }

    private static func record(_ delivery: SpeechDelivery, turn id: String, recorder: CallRecorder) {
        switch delivery {
        case let .chunk(chunk):
            let audio = Base64Fast.encode(chunk.audio)
            recorder.speech { line in
                line.string("tts", "chunk")
                line.string("turn", id)
                line.string("audio", audio)
                // Only when not μ-law 8 kHz, so older recordings read the same. L16 from a speech
                // source is little-endian.
                if chunk.format != .mulaw8kMono { line.string("format", chunk.format.settingName) }
                if let a = chunk.alignment {
                    var alignment = JSONLine()
                    alignment.strings("chars", a.chars)
                    alignment.ints("startsMs", a.charStartTimesMs)
                    alignment.ints("durationsMs", a.charDurationsMs)
                    line.raw("alignment", alignment.json)
                }
            }
        case .finished:
            recorder.speech { line in
                line.string("tts", "done")
                line.string("turn", id)
            }
        case let .failed(error):
            let text = recorder.redact(String(describing: error))
            recorder.speech { line in
                line.string("tts", "error")
                line.string("turn", id)
                line.string("error", text)
            }
        }
    }

    func send(text: String) {
        let kept = recorder.redact(text)
        recorder.speech { line in
            line.string("tts", "text")
            line.string("turn", id)
            line.string("text", kept)
        }
        base.send(text: text)
    }

    func finish() {
        if streamed {
            recorder.speech { line in
                line.string("tts", "finish")
                line.string("turn", id)
            }
        }
        base.finish()
    }

    func cancel() {
        recorder.speech { line in
            line.string("tts", "cancel")
            line.string("turn", id)
        }
        base.cancel()
    }
}

/// The base stream's iterator, pulled by one consumer at a time (AsyncThrowingStream's unfolding
/// closure is never called concurrently).
private final class IteratorBox: @unchecked Sendable {
    var iterator: AsyncThrowingStream<SpeechChunk, any Error>.Iterator
    init(_ iterator: AsyncThrowingStream<SpeechChunk, any Error>.Iterator) { self.iterator = iterator }
    func next() async throws -> SpeechChunk? { try await iterator.next() }
}
