/// Turns espeak's word events for one sentence into per-character timings, one chunk at a time.
///
/// The approximation, and why it is good enough: espeak reports when each *word* starts (its text
/// position and the audio time), not when each character does. A word's "segment" runs from its
/// first character to the next word's first character, so it owns the spaces and punctuation
/// after it (and the first word also owns anything before it). The segment's characters share the
/// time from that word's start to the next word's start evenly. Until the next word is known, the
/// characters of the word being spoken are spaced by an estimate from the speaking rate, and the
/// ones after it wait for the next word event. The sentence's last segment is stretched to the end
/// of the audio, but no further than twice the estimate per character, since that audio includes
/// the sentence-end pause. The resampler's few milliseconds of delay are ignored. The result is
/// accurate to about a word, which is what deciding "which text did the caller hear before
/// barging in" needs.
///
/// Every character is handed out exactly once and in order, so the chunks' characters joined
/// give back the sentence. Start times never go backwards.
struct WordAligner {
    let characters: [Character]
    /// For each Unicode scalar offset of the text, the index of the character holding it.
    private let characterAtScalar: [Int]
    /// Known word starts, increasing in both character index and time.
    private var words: [(character: Int, end: Int, ms: Int)] = []
    private var endMs: Int?
    private var cursor = 0
    private var lastStartMs = 0
    let estimatedMsPerCharacter: Int

    init(text: String, estimatedMsPerCharacter: Int) {
        characters = Array(text)
        var map: [Int] = []
        map.reserveCapacity(text.unicodeScalars.count)
        for (index, character) in characters.enumerated() {
            map.append(contentsOf: repeatElement(index, count: character.unicodeScalars.count))
        }
        characterAtScalar = map
        self.estimatedMsPerCharacter = max(1, estimatedMsPerCharacter)
    }

    /// Records a word event: `textPosition` is espeak's 1-based scalar offset, `length` the word's
    /// length in scalars, `audioMs` the time from the start of the sentence's audio. Events that
    /// don't move forward are ignored (espeak sometimes reports a word at position 0).
    mutating func word(textPosition: Int, length: Int, audioMs: Int) {
        guard textPosition >= 1, textPosition <= characterAtScalar.count else { return }
        let character = characterAtScalar[textPosition - 1]
        if let last = words.last, character <= last.character { return }
        let lastScalar = min(textPosition - 1 + max(length, 1), characterAtScalar.count) - 1
        let end = characterAtScalar[lastScalar] + 1
        words.append((character, end, max(audioMs, words.last?.ms ?? 0)))
    }

    /// The sentence's audio is complete and lasts `audioMs`.
    mutating func end(audioMs: Int) {
        endMs = audioMs
    }

    /// Whether characters remain to be handed out.
    var hasPendingCharacters: Bool { cursor < characters.count }

    /// The characters that start within `[chunkStartMs, chunkEndMs)` of the sentence, with times
    /// relative to the chunk. With `isLast`, everything left goes into this chunk.
    mutating func alignment(chunkStartMs: Int, chunkEndMs: Int, isLast: Bool) -> Alignment {
        var chars: [String] = []
        var starts: [Int] = []
        var durations: [Int] = []
        while cursor < characters.count {
            let known = timing(of: cursor)
            if known == nil, !isLast { break }  // No word has reached it yet.
            var (start, duration) = known ?? (lastStartMs, estimatedMsPerCharacter)
            start = max(start, lastStartMs, chunkStartMs)
            if start >= chunkEndMs {
                guard isLast else { break }
                start = max(chunkStartMs, chunkEndMs - 1)
            }
            chars.append(String(characters[cursor]))
            starts.append(start - chunkStartMs)
            durations.append(duration)
            lastStartMs = start
            cursor += 1
        }
        return Alignment(chars: chars, charStartTimesMs: starts, charDurationsMs: durations)
    }

    /// Start and duration of one character in sentence time, nil if no word covers it yet.
    private func timing(of index: Int) -> (start: Int, duration: Int)? {
        guard !words.isEmpty else { return nil }
        // The segment holding `index`: the last word starting at or before it (or the first word,
        // for leading characters).
        var k = 0
        while k + 1 < words.count, words[k + 1].character <= index { k += 1 }
        let segmentStart = k == 0 ? 0 : words[k].character
        let isLastKnown = k + 1 == words.count
        let segmentEnd = isLastKnown ? characters.count : words[k + 1].character
        let count = max(1, segmentEnd - segmentStart)
        let offset = index - segmentStart
        let perCharacter: Int
        if isLastKnown, endMs == nil, index >= words[k].end {
            return nil  // Past the word espeak is speaking: wait for the next word or the end.
        }
        if !isLastKnown {
            perCharacter = (words[k + 1].ms - words[k].ms) / count
        } else if let endMs {
            perCharacter = min((endMs - words[k].ms) / count, 2 * estimatedMsPerCharacter)
        } else {
            perCharacter = estimatedMsPerCharacter
        }
        let each = max(0, perCharacter)
        return (words[k].ms + offset * each, each)
    }
}
