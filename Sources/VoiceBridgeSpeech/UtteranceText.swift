/// Cuts streamed text into sentences as their boundaries arrive, so speech can start before the
/// whole reply exists.
///
/// A boundary is a newline, or a run of `.`, `!`, `?`, `…` (plus closing quotes and brackets) that
/// is followed by whitespace. The whitespace must be seen before the cut, because a lone `.` at
/// the end of a token may still turn into "3.14" or "example.com". `finish()` hands back whatever
/// is left. The pieces are an exact partition of the input: joined, they give back every
/// character sent, so alignments built from them reproduce the text.
///
/// Text with no boundary for a long stretch (an LLM that never stops a sentence) is cut at the
/// last clause mark or space once it passes `maxSentenceLength` characters, so one run-on
/// sentence can't hold back all the audio.
public struct UtteranceText: Sendable, Equatable {
    /// Text received but not yet handed out as a sentence.
    public private(set) var pending: String = ""
    /// The soft cap, in characters, for a piece without a boundary.
    public var maxSentenceLength: Int

    public init(maxSentenceLength: Int = 240) {
        precondition(maxSentenceLength > 0, "maxSentenceLength must be positive")
        self.maxSentenceLength = maxSentenceLength
    }

    /// Adds text and returns the sentences it completed, in order (possibly none).
    public mutating func append(_ text: String) -> [String] {
        pending += text
        var sentences: [String] = []
        while let cut = Self.boundary(in: pending) ?? softCut() {
            sentences.append(String(pending[..<cut]))
            pending = String(pending[cut...])
        }
        return sentences
    }

    /// Ends the text: returns what is left (nil if nothing), and empties the buffer.
    public mutating func finish() -> String? {
        defer { pending = "" }
        return pending.isEmpty ? nil : pending
    }

    /// Splits a whole text at once: the pieces `append` then `finish` would give.
    public static func sentences(in text: String, maxSentenceLength: Int = 240) -> [String] {
        var splitter = UtteranceText(maxSentenceLength: maxSentenceLength)
        var out = splitter.append(text)
        if let rest = splitter.finish() { out.append(rest) }
        return out
    }

    /// Whether a piece has anything to say (a letter or a digit). Pieces of only spaces or
    /// punctuation are skipped rather than sent to a synthesiser.
    public static func isSpeakable(_ piece: some StringProtocol) -> Bool {
        piece.contains { $0.isLetter || $0.isNumber }
    }

    // MARK: - Boundaries

    private static let terminators: Set<Character> = [".", "!", "?", "…", "。", "！", "？"]
    private static let closers: Set<Character> = ["\"", "'", "”", "’", ")", "]", "}", "»"]
    /// Words whose trailing period is not a sentence end ("Dr. Smith"). Kept short on purpose: a
    /// missed abbreviation only costs a slightly early cut, never lost text.
    private static let abbreviations: Set<String> = [
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "e.g", "i.e", "approx",
    ]

    /// The index just past the first confirmed sentence end, if any.
    private static func boundary(in text: String) -> String.Index? {
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if c.isNewline {
                return text.index(after: i)
            }
            if terminators.contains(c) {
                // Take the whole run: "?!", "...", ".\"", "!)".
                var j = text.index(after: i)
                while j < text.endIndex, terminators.contains(text[j]) || closers.contains(text[j]) {
                    j = text.index(after: j)
                }
                if j == text.endIndex { return nil }  // Can't tell yet: wait for more text.
                if text[j].isWhitespace, !(c == "." && endsWithAbbreviation(text[..<i])) {
                    return j
                }
                i = j
                continue
            }
            i = text.index(after: i)
        }
        return nil
    }

    private static func endsWithAbbreviation(_ text: Substring) -> Bool {
        let word = text.reversed().prefix { !$0.isWhitespace }
        return abbreviations.contains(String(word.reversed()).lowercased())
    }

    /// A cut for text that has run past the cap with no boundary: after the last clause mark
    /// followed by a space, else before the last space, else (one giant word) at the cap.
    private func softCut() -> String.Index? {
        guard pending.count > maxSentenceLength else { return nil }
        let limit = pending.index(pending.startIndex, offsetBy: maxSentenceLength)
        let head = pending[..<limit]
        var lastSpace: String.Index?
        var lastClause: String.Index?
        var i = head.startIndex
        while i < head.endIndex {
            let next = head.index(after: i)
            if head[i].isWhitespace, i > head.startIndex {
                lastSpace = i
                if [",", ";", ":", "—"].contains(head[head.index(before: i)]) { lastClause = i }
            }
            i = next
        }
        return lastClause ?? lastSpace ?? limit
    }
}
