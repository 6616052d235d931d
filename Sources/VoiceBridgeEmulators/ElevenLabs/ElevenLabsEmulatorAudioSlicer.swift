import VoiceBridgeCarriers
import VoiceBridgeSpeech

/// Cuts one generation's synthesised audio (the voice's format; μ-law for the built-in voice) into audio messages of `chunkMs` each, with the
/// alignment of each message (§1.5, §10.6).
///
/// The audio bytes are passed through untouched: joined, the pieces are exactly the voice's bytes.
/// The voice's own chunking and alignment (relative to its chunks) are re-based onto the
/// generation's timeline and cut again at message boundaries. A character belongs to the message
/// in which it starts; its time is relative to that message; within a message the spans tile (each
/// duration runs to the next character's start, the last to the end of the message's audio).
/// Characters of the generation's text the voice didn't time (spaces or punctuation it skipped)
/// are put back where they belong, with zero duration before the next timed character, so the
/// messages' characters joined give back the text exactly.
///
/// A message is held until audio beyond it exists, so the last one can take the tail characters.
struct ElevenLabsEmulatorAudioSlicer {
    struct Piece: Sendable, Equatable {
        /// The voice's bytes, in `format`.
        var audio: [UInt8]
        var format: MediaFormat = .mulaw8kMono
        /// Where the piece starts in the generation, in milliseconds.
        var startMs: Int
        /// nil when no character starts in this piece.
        var alignment: ElevenLabsEmulatorAlignment?
    }

    private let text: [Character]
    private var textCursor = 0
    private let chunkMs: Int
    private var chunkBytes: Int
    /// The voice's format, from its first chunk (μ-law until then).
    private var format: MediaFormat = .mulaw8kMono
    private var formatKnown = false
    private var bytesPerMs = 8
    /// Timed characters not yet given to a message, with absolute start times (ms).
    private var timed: [(character: String, startMs: Int)] = []
    private var lastStartMs = 0
    /// Audio not yet given to a message.
    private var pending: [UInt8] = []
    /// Bytes given to messages so far.
    private var emittedBytes = 0
    /// Bytes received from the voice so far.
    private var receivedBytes = 0

    init(text: String, chunkMs: Int) {
        self.text = Array(text)
        self.chunkMs = max(1, chunkMs)
        chunkBytes = self.chunkMs * 8
    }

    /// Takes one chunk from the voice; returns the messages now complete.
    mutating func append(_ chunk: SpeechChunk) -> [Piece] {
        if !formatKnown {
            formatKnown = true
            format = chunk.format
            bytesPerMs = format.bytes(milliseconds: 1)
            chunkBytes = chunkMs * bytesPerMs
        }
        let chunkStartMs = receivedBytes / bytesPerMs
        if let alignment = chunk.alignment {
            for (character, start) in zip(alignment.chars, alignment.charStartTimesMs) {
                place(character, atMs: chunkStartMs + max(0, start))
            }
        }
        pending += chunk.audio
        receivedBytes += chunk.audio.count
        var pieces: [Piece] = []
        while pending.count > chunkBytes {
            pieces.append(cut(bytes: chunkBytes, isLast: false))
        }
        return pieces
    }

    /// The voice is done: the rest of the audio, with every character not yet placed.
    mutating func finish() -> [Piece] {
        guard !pending.isEmpty else { return [] }
        // Characters the voice never timed go at the end of the audio.
        let endMs = receivedBytes / bytesPerMs
        while textCursor < text.count {
            timed.append((String(text[textCursor]), max(lastStartMs, endMs)))
            textCursor += 1
        }
        return [cut(bytes: pending.count, isLast: true)]
    }

    /// Records a timed character, first putting back any characters of the text the voice skipped.
    private mutating func place(_ character: String, atMs start: Int) {
        let start = max(start, lastStartMs, emittedBytes / bytesPerMs)
        if let match = nextMatch(of: character) {
            while textCursor < match {
                timed.append((String(text[textCursor]), start))
                textCursor += 1
            }
            textCursor += 1
        }
        timed.append((character, start))
        lastStartMs = start
    }

    /// Where `character` next occurs in the text from the cursor; nil if it doesn't (the voice
    /// spoke something that isn't in the text: keep it and leave the cursor).
    private func nextMatch(of character: String) -> Int? {
        var index = textCursor
        while index < text.count {
            if String(text[index]) == character { return index }
            index += 1
        }
        return nil
    }

    private mutating func cut(bytes: Int, isLast: Bool) -> Piece {
        let audio = Array(pending.prefix(bytes))
        pending.removeFirst(bytes)
        let startMs = emittedBytes / bytesPerMs
        emittedBytes += bytes
        let endMs = emittedBytes / bytesPerMs
        let durationMs = endMs - startMs
        var taken = 0
        while taken < timed.count, isLast || timed[taken].startMs < endMs { taken += 1 }
        let characters = timed.prefix(taken)
        timed.removeFirst(taken)
        guard !characters.isEmpty else { return Piece(audio: audio, format: format, startMs: startMs, alignment: nil) }
        var starts = characters.map { min(max(0, $0.startMs - startMs), durationMs) }
        for i in starts.indices.dropFirst() where starts[i] < starts[i - 1] { starts[i] = starts[i - 1] }
        var durations: [Int] = []
        durations.reserveCapacity(starts.count)
        for i in starts.indices {
            durations.append(i + 1 < starts.count ? starts[i + 1] - starts[i] : max(0, durationMs - starts[i]))
        }
        return Piece(
            audio: audio,
            format: format,
            startMs: startMs,
            alignment: ElevenLabsEmulatorAlignment(chars: characters.map(\.character), startTimesMs: starts, durationsMs: durations)
        )
    }
}
