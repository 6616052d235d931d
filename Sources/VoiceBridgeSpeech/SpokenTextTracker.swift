/// What of a turn's text has been spoken, learnt from the alignment of the audio handed out.
///
/// A character whose audio was delivered counts as spoken. Characters are matched by counting
/// the non-whitespace characters of the alignment against the text, so a synthesiser that adds or
/// drops spaces (ElevenLabs' WebSocket alignment starts and ends with one) doesn't shift the count.
/// After a failure the rest, `unspoken`, is what another socket or source must say: nothing twice,
/// nothing lost.
public struct SpokenTextTracker: Sendable, Equatable {
    /// Everything given to the synthesiser so far, in order.
    public private(set) var text = ""
    /// Non-whitespace characters spoken so far.
    public private(set) var spokenCount = 0
    /// Whether any audio without alignment was delivered (then `unspoken` may repeat some).
    public private(set) var sawUnalignedAudio = false

    public init() {}

    /// Text handed to the synthesiser.
    public mutating func sent(_ more: String) {
        text += more
    }

    /// A chunk was delivered.
    public mutating func delivered(_ chunk: SpeechChunk) {
        guard let alignment = chunk.alignment else {
            if !chunk.audio.isEmpty { sawUnalignedAudio = true }
            return
        }
        for piece in alignment.chars {
            for c in piece where !c.isWhitespace { spokenCount += 1 }
        }
    }

    /// The sent text not yet spoken, leading whitespace dropped ("" when all of it was).
    public var unspoken: String {
        String(text[unspokenStart...].drop(while: \.isWhitespace))
    }

    /// Forgets the unspoken part (it is about to be sent again, and `sent` will add it back).
    public mutating func dropUnspoken() {
        var kept = String(text[..<unspokenStart])
        // Keep a separator so the text sent next doesn't glue onto the last spoken word.
        if let last = kept.last, !last.isWhitespace { kept += " " }
        text = kept
    }

    private var unspokenStart: String.Index {
        var remaining = spokenCount
        var index = text.startIndex
        while index < text.endIndex, remaining > 0 {
            if !text[index].isWhitespace { remaining -= 1 }
            index = text.index(after: index)
        }
        return index
    }
}
