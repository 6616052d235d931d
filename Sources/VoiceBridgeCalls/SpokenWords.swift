/// A transcript as words to compare: lower case, letters and digits only (apostrophes dropped:
/// "I'd" = "id"), number words as digits ("one" = "1"). Menus match phrases on these; barge-in
/// counts them.
public enum SpokenWords {
    static let numberWords = [
        "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
        "eight": "8", "nine": "9", "star": "*", "pound": "#", "hash": "#",
    ]

    /// Short acknowledgements that mean "go on", not "stop" (elevenlabs-stt.md §5.3).
    public static let backchannel: Set<String> = [
        "yeah", "yes", "yep", "yup", "uh", "huh", "uhhuh", "mhm", "mm", "mmm", "hmm", "mmhmm", "hm", "okay", "ok", "right", "sure",
        "alright", "got", "it", "i", "see", "cool", "great", "fine", "aha", "ah", "oh", "0",
    ]

    public static func words(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        func flush() {
            if !current.isEmpty { words.append(numberWords[current] ?? current) }
            current = ""
        }
        for ch in text.lowercased() {
            if ch.isLetter || ch.isNumber {
                current.append(ch)
            } else if ch == "'" || ch == "’" {
                continue  // "I'd" = "id"
            } else if ch == "*" || ch == "#" {
                flush()
                words.append(String(ch))
            } else {
                flush()
            }
        }
        flush()
        return words
    }

    /// Whether every word is an acknowledgement ("uh-huh", "okay, right", "got it").
    public static func isBackchannel(_ words: [String]) -> Bool {
        !words.isEmpty && words.count <= 3 && words.allSatisfy { backchannel.contains($0) }
    }
}
