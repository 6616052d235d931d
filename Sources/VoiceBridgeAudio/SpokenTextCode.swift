import Foundation

/// A deterministic "voice" for tests and emulators: text becomes 8 kHz audio that a
/// `SpokenTextDecoder` turns back into exactly that text, so a simulated caller can say
/// "pay my bill" and a speech-to-text emulator can hear "pay my bill" without any speech
/// recognition.
///
/// The scheme (docs/spoken-text-code.md has the full table):
/// - Each symbol is two simultaneous sine tones, one from `lowTonesHz` and one from
///   `highTonesHz`: 7 × 7 = 49 symbols. Symbol `s` uses low tone `s / 7` and high tone `s % 7`.
/// - A symbol sounds for 40 ms (with 2 ms raised-cosine edges, so it does not click) and is
///   followed by 10 ms of silence: 20 symbols a second, about the pace of fast speech.
/// - An utterance is the start marker, one symbol per character, then the end marker.
/// - The characters: `a`–`z`, `0`–`9`, space, `'`, `.`, `,`, `?`, `!`, `-`, `:`, `@`, `+`,
///   `&` (see `characters`). `canonicalText(_:)` says what other text becomes.
///
/// Why these choices:
/// - Tones on the 50 Hz grid are exact bins of a 160-sample (20 ms) DFT, so a Goertzel filter
///   over any 20 ms inside a symbol sees each tone in its own bin and nothing in the others,
///   whatever the level or the phase. G.711's quantisation noise sits about 35 dB below.
/// - 300–1000 Hz with the high tone 3 dB under the low one looks like voiced speech to an
///   energy/voicing detector: loud, and a zero-crossing rate of at most 2 × 1000 / 8000 = 0.25
///   per sample (the bridge's voicing limit is 0.3). The 10 ms gaps are shorter than any
///   speech detector's hangover, so an utterance is one stretch of "speech".
/// - No tone is near a DTMF column frequency (1209 Hz and up), so no symbol is a DTMF pair,
///   and the bridge's DTMF detector stays silent.
/// - The 10 ms of silence between symbols always holds one whole 5 ms analysis block, however
///   the audio is cut or shifted, so the decoder finds every symbol boundary, repeated letters
///   included, from energy alone.
public enum SpokenTextCode {
    public static let sampleRate = 8000
    public static let toneMs = 40
    public static let gapMs = 10
    public static var symbolMs: Int { toneMs + gapMs }
    public static let toneSamples = toneMs * 8
    public static let gapSamples = gapMs * 8
    public static var symbolSamples: Int { toneSamples + gapSamples }
    /// Raised-cosine attack and release inside each tone.
    static let rampSamples = 16

    public static let lowTonesHz: [Int] = [300, 350, 400, 450, 500, 550, 600]
    public static let highTonesHz: [Int] = [700, 750, 800, 850, 900, 950, 1000]

    /// The characters with a symbol of their own, in symbol order (symbol 0 is `a`).
    public static let characters: [Character] = Array("abcdefghijklmnopqrstuvwxyz0123456789 '.,?!-:@+&")
    public static let startSymbol = 47
    public static let endSymbol = 48
    public static var symbolCount: Int { lowTonesHz.count * highTonesHz.count }

    /// The default level of a symbol (both tones together), a normal speaking level.
    public static let defaultLevelDBm0 = -17.0
    /// The high tone is this much weaker than the low one: speech's spectrum falls with frequency.
    static let tiltDB = 3.0

    /// The symbol of a character of canonical text; nil for anything else.
    public static func symbol(for character: Character) -> Int? {
        symbolByCharacter[character]
    }

    /// The character a symbol stands for; nil for the markers.
    public static func character(forSymbol symbol: Int) -> Character? {
        symbol >= 0 && symbol < characters.count ? characters[symbol] : nil
    }

    /// The two tones of a symbol, in Hz.
    public static func tones(ofSymbol symbol: Int) -> (low: Int, high: Int) {
        precondition((0..<symbolCount).contains(symbol), "SpokenTextCode: symbol \(symbol) is outside 0..<\(symbolCount)")
        return (lowTonesHz[symbol / highTonesHz.count], highTonesHz[symbol % highTonesHz.count])
    }

    private static let symbolByCharacter: [Character: Int] = Dictionary(
        uniqueKeysWithValues: characters.enumerated().map { ($0.element, $0.offset) }
    )

    /// What other characters become before coding: letters are lower-cased and lose their
    /// accents (`É` → `e`), typographic apostrophes and dashes become `'` and `-`, and any run of
    /// whitespace is one space, with none at the ends.
    private static let substitutions: [Character: Character] = [
        "\u{2019}": "'", "\u{2018}": "'", "`": "'", "\u{2013}": "-", "\u{2014}": "-", "\u{2212}": "-",
    ]

    /// The text exactly as a decoder will return it. Throws for a character the code cannot
    /// carry (after the substitutions above), or for text with nothing to say.
    public static func canonicalText(_ text: String) throws(SpokenTextCodeError) -> String {
        var result = ""
        var pendingSpace = false
        for (position, original) in text.enumerated() {
            if original.isWhitespace {
                pendingSpace = !result.isEmpty
                continue
            }
            // Folding may turn one character into several (a ligature); each must be speakable.
            let folded = String(original).folding(options: .diacriticInsensitive, locale: nil).lowercased()
            for piece in folded {
                let character = substitutions[piece] ?? piece
                guard symbolByCharacter[character] != nil else {
                    throw .unsupportedCharacter(original, position: position)
                }
                if pendingSpace {
                    result.append(" ")
                    pendingSpace = false
                }
                result.append(character)
            }
        }
        guard !result.isEmpty else { throw .nothingToSay }
        return result
    }

    /// The symbols of an utterance: start marker, one per character of the canonical text, end marker.
    public static func symbols(_ text: String) throws(SpokenTextCodeError) -> [Int] {
        let canonical = try canonicalText(text)
        return [startSymbol] + canonical.map { symbolByCharacter[$0]! } + [endSymbol]
    }

    /// How long `text` takes to say, in milliseconds.
    public static func durationMs(_ text: String) throws(SpokenTextCodeError) -> Int {
        try symbols(text).count * symbolMs
    }

    /// The utterance as 8 kHz PCM: every symbol is 40 ms of tone and 10 ms of silence, so the
    /// audio ends with silence. `levelDBm0` is the level of a symbol, both tones together.
    public static func encode(_ text: String, levelDBm0: Double = defaultLevelDBm0) throws(SpokenTextCodeError) -> [Int16] {
        guard levelDBm0.isFinite, (-40.0...0.0).contains(levelDBm0) else { throw .invalidLevel(levelDBm0) }
        let symbols = try symbols(text)
        var pcm = [Int16](repeating: 0, count: symbols.count * symbolSamples)
        // Powers add: the low tone carries 2/3 of the symbol's power and the high tone 1/3 (3 dB less).
        let lowShare = 1 / (1 + pow(10, -tiltDB / 10))
        let lowAmplitude = sineAmplitude(dBm0: levelDBm0 + 10 * log10(lowShare))
        let highAmplitude = sineAmplitude(dBm0: levelDBm0 + 10 * log10(1 - lowShare))
        pcm.withUnsafeMutableBufferPointer { out in
            for (index, symbol) in symbols.enumerated() {
                let (low, high) = tones(ofSymbol: symbol)
                let start = index * symbolSamples
                let lowStep = 2 * Double.pi * Double(low) / Double(sampleRate)
                let highStep = 2 * Double.pi * Double(high) / Double(sampleRate)
                for n in 0..<toneSamples {
                    let edge = min(n, toneSamples - 1 - n)
                    let envelope = edge >= rampSamples ? 1 : 0.5 - 0.5 * cos(Double.pi * Double(edge) / Double(rampSamples))
                    let value = lowAmplitude * sin(lowStep * Double(n)) + highAmplitude * sin(highStep * Double(n))
                    out[start + n] = Int16((envelope * value).rounded())
                }
            }
        }
        return pcm
    }

    /// The peak amplitude of a sine at `dBm0`, on SpanDSP's scale (a full-scale sine is +3.14 dBm0).
    static func sineAmplitude(dBm0: Double) -> Double {
        32768 * pow(10, (dBm0 - 3.14) / 20)
    }

    /// Mean square (per sample) of a signal at `dBm0`.
    static func meanSquare(dBm0: Double) -> Double {
        let rms = 32768 / 2.0.squareRoot() * pow(10, (dBm0 - 3.14) / 20)
        return rms * rms
    }
}

public enum SpokenTextCodeError: Error, Equatable, CustomStringConvertible {
    case unsupportedCharacter(Character, position: Int)
    case nothingToSay
    case invalidLevel(Double)

    public var description: String {
        switch self {
        case let .unsupportedCharacter(character, position):
            let shown = character.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 ? String($0) : "U+" + String($0.value, radix: 16, uppercase: true) }.joined()
            return "'\(shown)' at position \(position) cannot be spoken in the code "
                + "(allowed: letters, digits, spaces and ' . , ? ! - : @ + &)"
        case .nothingToSay:
            return "the text is empty"
        case let .invalidLevel(level):
            return "level \(level) dBm0 is outside -40...0 dBm0"
        }
    }
}
