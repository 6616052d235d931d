import VoiceBridgeAudio
import VoiceBridgeCarriers

/// What a simulated caller heard, in the stream's own format: as a WAV file, and how much of it
/// lay above 4 kHz (wideband speech has energy there; narrowband upsampled has none).
public enum HeardAudio {
    /// G.711 stays G.711; L16 becomes a 16-bit PCM WAV at its rate.
    public static func wav(_ bytes: [UInt8], format: MediaFormat) -> WAVAudio {
        if let law = format.g711Law { return WAVAudio(g711: bytes, law: law, sampleRate: format.sampleRate) }
        return WAVAudio(pcm16: format.decode(bytes), sampleRate: format.sampleRate)
    }

    /// The share of the heard energy above 4 kHz in dB; nil for 8 kHz audio, which has none to show.
    public static func aboveNarrowbandDB(_ bytes: [UInt8], format: MediaFormat) -> Double? {
        guard format.sampleRate > 8000 else { return nil }
        return BandEnergy.split(format.decode(bytes), sampleRate: format.sampleRate).aboveShareDB
    }
}
