import VoiceBridgeCalls

/// Which menu choice a caller's words pick (elevenlabs-stt.md §5.6): case, punctuation and
/// number spelling don't matter ("Pay my bill." = "pay my bill"; "one" = "1"), a phrase may sit
/// inside a longer answer ("I'd like to pay my bill, please"), and the longest phrase that fits
/// wins, so "billing address" beats "billing". Saying a choice's key ("one", "option 1",
/// "press one") picks it too. Nothing else is guessed: no match is a no-match.
public enum MenuSpeechMatcher {
    static let keyFillers: Set<String> = ["press", "option", "number", "key", "choice", "please", "the"]

    /// Lower case, letters and digits only (apostrophes dropped: "I'd" = "id"), words separated
    /// by one space, number words as digits.
    public static func normalized(_ text: String) -> String { words(text).joined(separator: " ") }

    static func words(_ text: String) -> [String] { SpokenWords.words(text) }

    /// The key whose phrase (or the key itself, spoken) the transcript holds; nil for none.
    public static func choice(for transcript: String, keys: [Character], phrases: [Character: [String]]) -> Character? {
        let heard = words(transcript)
        guard !heard.isEmpty else { return nil }
        var best: (key: Character, length: Int)?
        for key in keys {
            for phrase in phrases[key] ?? [] {
                let wanted = words(phrase)
                guard !wanted.isEmpty, contains(heard, wanted), wanted.count > (best?.length ?? 0) else { continue }
                best = (key, wanted.count)
            }
        }
        if let best { return best.key }
        // The key alone, perhaps with "press"/"option": "one", "option 1", "press one please".
        let meaningful = heard.filter { !keyFillers.contains($0) }
        if meaningful.count == 1, let only = meaningful.first, only.count == 1, let key = only.first, keys.contains(key) {
            return key
        }
        return nil
    }

    static func contains(_ words: [String], _ run: [String]) -> Bool {
        guard run.count <= words.count else { return false }
        for start in 0...(words.count - run.count) where Array(words[start..<(start + run.count)]) == run {
            return true
        }
        return false
    }
}
