import NIOCore
import Synchronization
import VoiceBridgeCarriers

/// Where a call's speech comes from.
///
/// A source speaks in *turns*. A turn takes text, possibly a token at a time (an LLM reply), and
/// yields audio chunks (each saying its format) as soon as they exist. One-shot utterances are a turn that gets all
/// its text and `finish()` at once (see `SpeechSource.speak`).
///
/// A call takes a turn's audio with `deliver(on:to:)`: on its own event loop, with no task in
/// between. A source whose socket lives on the call's loop (the ElevenLabs WebSocket) hands each
/// chunk over in the same event-loop turn it arrived in; a source producing on another thread
/// (libcurl, espeak-ng) hops to the loop once per chunk. `chunks` is the same audio as an async
/// stream, for everything that is not a call (prompt builds, `say`).
public protocol SpeechSource: Sendable {
    /// A short name for logs and metrics ("offline", "elevenlabs-ws", "elevenlabs-http", "cache").
    var name: String { get }

    /// Starts a turn. Text arrives later through `SpeechTurn.send(text:)`.
    func startTurn(_ options: TurnOptions) -> any SpeechTurn

    /// Speaks a whole text as one turn. A requirement (with a default) so that a source that
    /// knows the whole text up front, such as a cache, can answer without a live turn.
    func speak(_ text: String, options: TurnOptions) -> any SpeechTurn

    /// The voice a turn with `options` speaks with, as billing and metrics name it: the
    /// service's voice id where the source picks it, not a name it ignores.
    func voiceName(for options: TurnOptions) -> String
}

/// One turn of speech: text in, audio chunks out, cancellable at any point.
public protocol SpeechTurn: Sendable {
    /// The id the call uses to drop late chunks after a barge-in.
    var id: String { get }

    /// Audio of this turn, in order. Finishes after `finish()` once everything is spoken, throws
    /// on an upstream failure, and finishes early after `cancel()`.
    var chunks: AsyncThrowingStream<SpeechChunk, any Error> { get }

    /// Hands this turn's audio to `receiver` on `loop`, in order, ending with `.finished` or
    /// `.failed`; nothing after `cancel()`. Use it or `chunks`, once.
    func deliver(on loop: any EventLoop, to receiver: @escaping (SpeechDelivery) -> Void)

    /// Appends text to the turn. Tokens may be partial words; the source decides when to generate.
    func send(text: String)

    /// No more text: generate whatever is buffered and end the turn.
    func finish()

    /// Barge-in: stop generating at once and end `chunks`. Idempotent.
    func cancel()

    /// Characters of this turn's text sent to a service that bills for them (ElevenLabs), as
    /// sent, retries included; 0 for a voice that costs nothing (offline, a cache hit).
    var charactersSent: Int { get }
}

extension SpeechTurn {
    public var charactersSent: Int { 0 }
}

/// A turn's count of billed characters, written where the text goes out, read by the call.
public final class SpeechCharacterCount: Sendable {
    private let count = Atomic<Int>(0)
    public init() {}
    public func add(_ characters: Int) { count.add(characters, ordering: .relaxed) }
    public var value: Int { count.load(ordering: .relaxed) }
}

/// What a turn hands its consumer, on the consumer's event loop.
public enum SpeechDelivery {
    case chunk(SpeechChunk)
    /// Everything was delivered.
    case finished
    /// The source failed; no more chunks follow.
    case failed(any Error)
}

extension SpeechTurn {
    /// For turns whose audio comes only as `chunks`: a task reads the stream and hops to `loop`
    /// once per chunk. Sources on the call path override it to deliver without the task.
    public func deliver(on loop: any EventLoop, to receiver: @escaping (SpeechDelivery) -> Void) {
        let bound = NIOLoopBound(receiver, eventLoop: loop)
        let chunks = self.chunks
        Task {
            do {
                for try await chunk in chunks {
                    loop.execute { bound.value(.chunk(chunk)) }
                }
                loop.execute { bound.value(.finished) }
            } catch {
                loop.execute { bound.value(.failed(error)) }
            }
        }
    }
}

/// Per-turn choices. Anything nil falls back to the source's configuration.
public struct TurnOptions: Sendable, Equatable {
    public var id: String
    public var voice: String?
    public var model: String?
    public var language: String?

    public init(id: String, voice: String? = nil, model: String? = nil, language: String? = nil) {
        self.id = id
        self.voice = voice
        self.model = model
        self.language = language
    }
}

/// A piece of synthesised speech. When its format is the call's (ElevenLabs asked for the
/// carrier's own), it goes to the carrier byte for byte; otherwise the call converts it.
public struct SpeechChunk: Sendable, Equatable {
    public var turnID: String
    public var audio: [UInt8]
    /// Character timings relative to the start of this chunk, when the source knows them.
    public var alignment: Alignment?
    /// What `audio` is: μ-law 8 kHz unless the source says otherwise.
    public var format: MediaFormat

    public init(turnID: String, audio: [UInt8], alignment: Alignment? = nil, format: MediaFormat = .mulaw8kMono) {
        self.turnID = turnID
        self.audio = audio
        self.alignment = alignment
        self.format = format
    }

    public var durationMs: Double { Double(format.nanoseconds(ofBytes: audio.count)) / 1_000_000 }
}

/// Which characters are spoken when, relative to the start of the chunk they came with.
/// The three arrays have the same length (ElevenLabs' `chars`/`charStartTimesMs`/`charDurationsMs`).
public struct Alignment: Sendable, Equatable {
    public var chars: [String]
    public var charStartTimesMs: [Int]
    public var charDurationsMs: [Int]

    public init(chars: [String], charStartTimesMs: [Int], charDurationsMs: [Int]) {
        self.chars = chars
        self.charStartTimesMs = charStartTimesMs
        self.charDurationsMs = charDurationsMs
    }

    /// The characters whose start lies before `ms` into the chunk: what a caller heard of it.
    public func text(heardBefore ms: Double) -> String {
        var out = ""
        for (i, c) in chars.enumerated() where Double(charStartTimesMs[i]) < ms {
            out += c
        }
        return out
    }
}

extension SpeechSource {
    public func voiceName(for options: TurnOptions) -> String { options.voice ?? name }

    /// Speaks a whole text as one turn.
    public func speak(_ text: String, options: TurnOptions) -> any SpeechTurn {
        let turn = startTurn(options)
        turn.send(text: text)
        turn.finish()
        return turn
    }
}
