/// `voice_settings` of a request. Every field is optional: only the ones set are sent, so the
/// voice's own stored settings apply to the rest.
public struct ElevenLabsVoiceSettings: Sendable, Equatable, Codable {
    /// 0...1; the service default is 0.5.
    public var stability: Double?
    /// 0...1; the service default is 0.75.
    public var similarityBoost: Double?
    /// 0...1; the service default is 0. Above 0 it adds latency.
    public var style: Double?
    /// The service default is true. It adds latency.
    public var useSpeakerBoost: Bool?
    /// 0.7...1.2; the service default is 1.0.
    public var speed: Double?

    public init(stability: Double? = nil, similarityBoost: Double? = nil, style: Double? = nil, useSpeakerBoost: Bool? = nil, speed: Double? = nil) {
        self.stability = stability
        self.similarityBoost = similarityBoost
        self.style = style
        self.useSpeakerBoost = useSpeakerBoost
        self.speed = speed
    }

    enum CodingKeys: String, CodingKey {
        case stability
        case similarityBoost = "similarity_boost"
        case style
        case useSpeakerBoost = "use_speaker_boost"
        case speed
    }
}
