import VoiceBridgeCarriers
import Foundation
import VoiceBridgeSpeech

/// What makes a prompt's audio what it is: the source, the text, the voice, the model, the settings
/// and the synthesis format. Its SHA-256 names the cache entry, so equal keys share audio and any
/// change (one comma, one setting, the other source) is a different entry.
///
/// The file format is deliberately not part of it: a file is converted locally from the cached
/// audio, so switching `ulaw_wav` to `alaw_wav` costs no request. (A 16 kHz file asks for 16 kHz
/// PCM by default, and that *is* part of the key.)
public struct PromptCacheKey: Sendable, Equatable, Encodable {
    /// Bumped when the meaning of a key changes, so old entries are never misread.
    public var schema = 1
    /// "elevenlabs" or "offline": the two never share an entry.
    public var source: String
    public var text: String
    public var voice: String
    public var model: String
    public var settings: ElevenLabsVoiceSettings
    public var synthesisFormat: String

    public init(source: String, text: String, voice: String, model: String, settings: ElevenLabsVoiceSettings, synthesisFormat: SynthesisFormat) {
        self.source = source
        self.text = text
        self.voice = voice
        self.model = model
        self.settings = settings
        self.synthesisFormat = synthesisFormat.name
    }

    /// Canonical JSON (sorted keys, unset settings left out), hashed.
    public var hash: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings, numbers and bools only: encoding cannot fail.
        let json = (try? encoder.encode(self)) ?? Data()
        return SHA256.hex(Array(json))
    }
}
