import NIOCore

/// Gathers streamed text (an LLM's tokens) into pieces worth sending to a synthesiser that
/// generates as text arrives (doc §1.4, §7.3, §9.6).
///
/// A piece ends at a clause or sentence boundary: `,` `;` `:` `.` `!` `?` `…` `—` (with closing
/// quotes or brackets) followed by whitespace, or a newline. The whitespace must be seen, because
/// a `.` at the end of a token may still become "3.14". When no boundary comes within `maxWait`
/// of the first waiting character, the text up to the last whitespace goes anyway, so a long
/// clause can't hold the audio back; a word is never cut (each piece ends with a space on the
/// wire, which would split it). `finish()` hands back the rest.
///
/// Every piece has its surrounding whitespace trimmed and ends with exactly one space, as the
/// service asks. Pure: time comes in as arguments, so tests run on a manual clock.
public struct TextChunker: Sendable, Equatable {
    public var maxWait: TimeAmount
    /// Text received but not yet handed out.
    public private(set) var pending = ""
    /// When the oldest waiting character arrived; nil while nothing waits.
    public private(set) var waitingSince: NIODeadline?

    public init(maxWait: TimeAmount = .milliseconds(250)) {
        self.maxWait = maxWait
    }

    /// When `due(at:)` will hand out waiting text without a boundary; nil while nothing waits.
    public var deadline: NIODeadline? { waitingSince.map { $0 + maxWait } }

    /// Adds text; returns the pieces it completed, in order.
    public mutating func append(_ text: String, at now: NIODeadline) -> [String] {
        guard !text.isEmpty else { return [] }
        pending += text
        var pieces: [String] = []
        if let cut = Self.lastBoundary(in: pending) {
            if let piece = Self.piece(pending[..<cut]) { pieces.append(piece) }
            pending = String(pending[cut...])
        }
        if Self.isBlank(pending) {
            waitingSince = nil
        } else if waitingSince == nil || !pieces.isEmpty {
            waitingSince = now
        }
        pieces += due(at: now)
        return pieces
    }

    /// The text that has waited `maxWait` without a boundary, up to its last whitespace.
    public mutating func due(at now: NIODeadline) -> [String] {
        guard let deadline, now >= deadline else { return [] }
        guard let space = pending.lastIndex(where: \.isWhitespace), space > pending.startIndex else {
            return []  // One unfinished word: wait for its end (or finish()).
        }
        let piece = Self.piece(pending[..<space])
        pending = String(pending[space...])
        waitingSince = Self.isBlank(pending) ? nil : now
        return piece.map { [$0] } ?? []
    }

    /// The end of the text: everything left, as one piece (nil if nothing to say).
    public mutating func finish() -> String? {
        defer {
            pending = ""
            waitingSince = nil
        }
        return Self.piece(pending[...])
    }

    // MARK: - Boundaries

    private static let clauseMarks: Set<Character> = [",", ";", ":", ".", "!", "?", "…", "—", "。", "！", "？", "、", "，"]
    private static let closers: Set<Character> = ["\"", "'", "”", "’", ")", "]", "}", "»"]

    /// The index just past the last confirmed boundary (after its whitespace run's first
    /// character), if any.
    static func lastBoundary(in text: String) -> String.Index? {
        var result: String.Index?
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if c.isNewline {
                result = text.index(after: i)
            } else if clauseMarks.contains(c) {
                var j = text.index(after: i)
                while j < text.endIndex, clauseMarks.contains(text[j]) || closers.contains(text[j]) {
                    j = text.index(after: j)
                }
                if j < text.endIndex, text[j].isWhitespace {
                    result = text.index(after: j)
                }
                i = j
                continue
            }
            i = text.index(after: i)
        }
        return result
    }

    private static func isBlank(_ text: some StringProtocol) -> Bool {
        text.allSatisfy(\.isWhitespace)
    }

    /// A whole text as the sentences it is sent in just in time, each trimmed plus one space:
    /// what the service is asked to generate, one flush each.
    /// A sentence with nothing to say ("... ") joins the next one (the last, at the end): a
    /// sentence is released once audio of the one before it comes, and such a piece might bring none.
    public static func sentencePieces(_ text: String) -> [String] {
        var sentences: [String] = []
        var pending = ""
        for sentence in UtteranceText.sentences(in: text) {
            pending += sentence
            if UtteranceText.isSpeakable(pending) {
                sentences.append(pending)
                pending = ""
            }
        }
        if !pending.isEmpty {
            if sentences.isEmpty { sentences.append(pending) } else { sentences[sentences.count - 1] += pending }
        }
        return sentences.compactMap { piece($0[...]) }
    }

    /// Trimmed, plus one space; nil when blank.
    static func piece(_ text: Substring) -> String? {
        var t = text
        while let f = t.first, f.isWhitespace { t = t.dropFirst() }
        while let l = t.last, l.isWhitespace { t = t.dropLast() }
        return t.isEmpty ? nil : String(t) + " "
    }
}
