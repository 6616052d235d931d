import VoiceBridgeAudio

/// What the simulated caller does during a call, on the call's clock (ms since `start` was sent).
public struct CallScript: Sendable, Equatable {
    /// A key press at `atMs`: a Twilio `dtmf` event, or a tone mixed into the caller's audio.
    public struct DTMFCue: Sendable, Equatable {
        public var atMs: Int
        public var digit: Character
        public init(atMs: Int, digit: Character) {
            self.atMs = atMs
            self.digit = digit
        }
    }

    /// A WAV file whose audio is mixed into the caller's media from `atMs` on.
    public struct SpeakCue: Sendable, Equatable {
        public var atMs: Int
        public var path: String
        public init(atMs: Int, path: String) {
            self.atMs = atMs
            self.path = path
        }
    }

    /// Text the caller says at `atMs`, as `SpokenTextCode` audio mixed into the caller's media:
    /// speech that sounds like speech to the bridge and that the ElevenLabs emulator's
    /// speech-to-text transcribes exactly (docs/spoken-text-code.md).
    public struct SayCue: Sendable, Equatable {
        public var atMs: Int
        /// The text as the code will say it (`SpokenTextCode.canonicalText`).
        public var text: String
        public init(atMs: Int, text: String) {
            self.atMs = atMs
            self.text = text
        }
    }

    /// A text message sent as is at `atMs` (a malformed or out-of-order one, to test the bridge's
    /// refusal).
    public struct RawCue: Sendable, Equatable {
        public var atMs: Int
        public var text: String
        public init(atMs: Int, text: String) {
            self.atMs = atMs
            self.text = text
        }
    }

    public var dtmf: [DTMFCue]
    public var raw: [RawCue]
    /// Mix DTMF tones into the media instead of sending `dtmf` events.
    public var dtmfInBand: Bool
    public var speak: [SpeakCue]
    public var say: [SayCue]
    /// Send `stop` and close at this time; nil runs until the server closes or `maxDurationMs`.
    public var hangupAtMs: Int?
    public var maxDurationMs: Int

    public init(
        dtmf: [DTMFCue] = [], dtmfInBand: Bool = false, speak: [SpeakCue] = [],
        hangupAtMs: Int? = nil, maxDurationMs: Int = 60_000, raw: [RawCue] = [], say: [SayCue] = []
    ) {
        self.dtmf = dtmf.sorted { $0.atMs < $1.atMs }
        self.raw = raw.sorted { $0.atMs < $1.atMs }
        self.dtmfInBand = dtmfInBand
        self.speak = speak
        self.say = say.sorted { $0.atMs < $1.atMs }
        self.hangupAtMs = hangupAtMs
        self.maxDurationMs = maxDurationMs
    }

    /// When the call ends on our side.
    public var endMs: Int { min(hangupAtMs ?? maxDurationMs, maxDurationMs) }

    /// The digits Twilio reports in `dtmf` events.
    public static let dtmfDigits: Set<Character> = Set("0123456789*#")

    /// Parses `2.5:1,4.0:#` (seconds:digit, comma-separated).
    public static func parseDTMF(_ spec: String) throws(CallScriptError) -> [DTMFCue] {
        var cues: [DTMFCue] = []
        for item in spec.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw .badDTMF(String(item), "expected SECONDS:DIGIT") }
            let atMs = try parseSeconds(parts[0], in: String(item), as: CallScriptError.badDTMF)
            let digits = parts[1].trimmingSpaces
            guard digits.count == 1, let digit = digits.first, dtmfDigits.contains(digit) else {
                throw .badDTMF(String(item), "the key must be one of 0-9, * or #")
            }
            cues.append(DTMFCue(atMs: atMs, digit: digit))
        }
        return cues.sorted { $0.atMs < $1.atMs }
    }

    /// Parses `1.5:path/to/file.wav` (seconds:path; the path may itself contain colons).
    public static func parseSpeak(_ spec: String) throws(CallScriptError) -> SpeakCue {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw .badSpeak(spec, "expected SECONDS:FILE.wav") }
        let atMs = try parseSeconds(parts[0], in: spec, as: CallScriptError.badSpeak)
        let path = String(parts[1].trimmingSpaces)
        guard !path.isEmpty else { throw .badSpeak(spec, "the file path is empty") }
        return SpeakCue(atMs: atMs, path: path)
    }

    /// Parses `3.0:pay my bill` (seconds:text; the text may be in double quotes, as in
    /// `--say '3.0:"pay my bill"'`, and may contain colons). The text must be speakable in
    /// `SpokenTextCode`; it is kept in its canonical form (lower case, single spaces).
    public static func parseSay(_ spec: String) throws(CallScriptError) -> SayCue {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw .badSay(spec, "expected SECONDS:TEXT, e.g. 3.0:\"pay my bill\"") }
        let atMs = try parseSeconds(parts[0], in: spec, as: CallScriptError.badSay)
        var text = parts[1].trimmingSpaces
        if text.count >= 2, text.first == "\"", text.last == "\"" { text = text.dropFirst().dropLast() }
        do throws(SpokenTextCodeError) {
            return SayCue(atMs: atMs, text: try SpokenTextCode.canonicalText(String(text)))
        } catch {
            throw .badSay(spec, error.description)
        }
    }

    /// Parses `2.5:{"event":...` (seconds:text; the text is sent exactly as given).
    public static func parseRaw(_ spec: String) throws(CallScriptError) -> RawCue {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw .badRaw(spec, "expected SECONDS:TEXT") }
        let atMs = try parseSeconds(parts[0], in: spec, as: CallScriptError.badRaw)
        guard !parts[1].isEmpty else { throw .badRaw(spec, "the text is empty") }
        return RawCue(atMs: atMs, text: String(parts[1]))
    }

    /// Parses a non-negative number of seconds (e.g. `2`, `2.5`, `0.02`) into whole milliseconds.
    public static func parseSeconds(_ text: some StringProtocol) -> Int? {
        let trimmed = text.trimmingSpaces
        guard !trimmed.isEmpty, trimmed.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            trimmed.filter({ $0 == "." }).count <= 1, trimmed != ".",
            let seconds = Double(trimmed), seconds.isFinite, seconds <= 86_400
        else { return nil }
        return Int((seconds * 1000).rounded())
    }

    private static func parseSeconds(
        _ text: Substring, in item: String, as error: (String, String) -> CallScriptError
    ) throws(CallScriptError) -> Int {
        guard let ms = parseSeconds(text) else { throw error(item, "'\(text)' is not a time in seconds") }
        return ms
    }
}

public enum CallScriptError: Error, Equatable, CustomStringConvertible {
    case badDTMF(String, String)
    case badSpeak(String, String)
    case badRaw(String, String)
    case badSay(String, String)

    public var description: String {
        switch self {
        case .badDTMF(let item, let why): "bad --dtmf item '\(item)': \(why)"
        case .badSpeak(let item, let why): "bad --speak '\(item)': \(why)"
        case .badRaw(let item, let why): "bad --send '\(item)': \(why)"
        case .badSay(let item, let why): "bad --say '\(item)': \(why)"
        }
    }
}

extension StringProtocol {
    var trimmingSpaces: Substring {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return s
    }
}
