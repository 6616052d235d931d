import Foundation
import NIOCore
import VoiceBridgeCarriers
import VoiceBridgeSpeech

/// A `SpeechSource` that records each request (turn id = the upstream context id, text, options)
/// and every chunk the call receives (audio and alignment), with the turn's end, error or cancel.
///
/// A chunk's time is when the call's loop handles it, which is what a replay has to reproduce:
/// the call consumes chunks in a task and hops onto its loop once per chunk, and the loop may be
/// busy. So the recorder hops too, just before the call does (the loop runs them in order).
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
    let chunks: AsyncThrowingStream<SpeechChunk, any Error>
    private let base: any SpeechTurn
    private let recorder: CallRecorder
    private let streamed: Bool

    init(_ base: any SpeechTurn, recorder: CallRecorder, loop: any EventLoop, streamed: Bool) {
        self.id = base.id
        self.base = base
        self.recorder = recorder
        self.streamed = streamed
        let iterator = IteratorBox(base.chunks.makeAsyncIterator())
        let id = base.id
        // Unfolding pulls from the base stream on the consumer's own task: no extra task or hop.
        chunks = AsyncThrowingStream(unfolding: {
            do {
                guard let chunk = try await iterator.next() else {
                    loop.execute {
                        recorder.speech { line in
                            line.string("tts", "done")
                            line.string("turn", id)
                        }
                    }
                    return nil
                }
                let audio = Base64Fast.encode(chunk.audio)
                loop.execute {
                    recorder.speech { line in
                        line.string("tts", "chunk")
                        line.string("turn", id)
                        line.string("audio", audio)
                        if let a = chunk.alignment {
                            var alignment = JSONLine()
                            alignment.strings("chars", a.chars)
                            alignment.ints("startsMs", a.charStartTimesMs)
                            alignment.ints("durationsMs", a.charDurationsMs)
                            line.raw("alignment", alignment.json)
                        }
                    }
                }
                return chunk
            } catch {
                let text = recorder.redact(String(describing: error))
                loop.execute {
                    recorder.speech { line in
                        line.string("tts", "error")
                        line.string("turn", id)
                        line.string("error", text)
                    }
                }
                throw error
            }
        })
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
