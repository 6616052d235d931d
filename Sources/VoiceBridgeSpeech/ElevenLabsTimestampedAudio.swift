/// One NDJSON line of `/stream/with-timestamps`: decoded audio and its character timings.
public struct ElevenLabsTimestampedAudio: Sendable, Equatable {
    /// The `audio_base64` bytes, decoded and otherwise untouched.
    public var audio: [UInt8]
    /// Timings of the original text, when the line has them.
    public var alignment: ElevenLabsAlignment?
    /// Timings of the text as normalised for speech (numbers spelled out and so on).
    public var normalizedAlignment: ElevenLabsAlignment?

    public init(audio: [UInt8], alignment: ElevenLabsAlignment? = nil, normalizedAlignment: ElevenLabsAlignment? = nil) {
        self.audio = audio
        self.alignment = alignment
        self.normalizedAlignment = normalizedAlignment
    }
}

/// HTTP alignment as ElevenLabs sends it: three parallel arrays, times in float seconds. (The
/// WebSocket spells it differently and counts integer milliseconds; `SpeechChunk` uses the latter.)
public struct ElevenLabsAlignment: Sendable, Equatable, Codable {
    public var characters: [String]
    public var startTimesSeconds: [Double]
    public var endTimesSeconds: [Double]

    public init(characters: [String], startTimesSeconds: [Double], endTimesSeconds: [Double]) {
        self.characters = characters
        self.startTimesSeconds = startTimesSeconds
        self.endTimesSeconds = endTimesSeconds
    }

    enum CodingKeys: String, CodingKey {
        case characters
        case startTimesSeconds = "character_start_times_seconds"
        case endTimesSeconds = "character_end_times_seconds"
    }

    /// The three arrays agree in length.
    var isConsistent: Bool {
        characters.count == startTimesSeconds.count && characters.count == endTimesSeconds.count
    }
}
