import Logging
import VoiceBridgeSpeech

/// Where built prompts come from. The builder asks for a prompt's cache key before anything
/// else, so a prompt whose key is already cached never reaches `synthesize`.
public protocol PromptSynthesizer: Sendable {
    /// "elevenlabs" or "offline"; part of every key, and recorded in the manifest.
    var source: String { get }
    /// Whether requests cost characters (for the dry run's bill).
    var isBilled: Bool { get }
    func cacheKey(for prompt: PromptDefinition) -> PromptCacheKey
    func synthesize(_ prompt: PromptDefinition) async throws -> SynthesizedAudio
}

/// ElevenLabs over HTTP (`POST /v1/text-to-speech/{voice_id}/stream`, libcurl), one request per
/// prompt. 429s and 5xx are retried with backoff inside the client, before any audio; a stream
/// that breaks after audio started is retried here from the start, since a prompt is kept only
/// when complete.
public struct ElevenLabsPromptSynthesizer: PromptSynthesizer {
    public let source = "elevenlabs"
    public let isBilled = true
    private let client: ElevenLabsHTTPClient
    private let sleep: @Sendable (Duration) async throws -> Void

    /// `sleep` waits between retries of broken streams (tests make it instant).
    public init(client: ElevenLabsHTTPClient, sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }) {
        self.client = client
        self.sleep = sleep
    }

    public func cacheKey(for prompt: PromptDefinition) -> PromptCacheKey {
        PromptCacheKey(
            source: source, text: prompt.text, voice: prompt.voice, model: prompt.model, settings: prompt.settings,
            synthesisFormat: prompt.resolvedSynthesisFormat
        )
    }

    public func synthesize(_ prompt: PromptDefinition) async throws -> SynthesizedAudio {
        let format = prompt.resolvedSynthesisFormat
        let request = ElevenLabsSpeechRequest(
            text: prompt.text, voiceID: prompt.voice, modelID: prompt.model,
            outputFormat: ElevenLabsOutputFormat(rawValue: format.name),
            voiceSettings: prompt.settings == ElevenLabsVoiceSettings() ? nil : prompt.settings
        )
        let policy = client.configuration.retry
        var breaks = 0
        while true {
            var audio: [UInt8] = []
            do {
                for try await event in client.stream(request) {
                    switch event {
                    case .response:
                        audio.removeAll()  // A retried request starts over.
                    case .audio(let bytes):
                        audio += bytes
                    }
                }
                return try PromptAudio.validated(SynthesizedAudio(format: format, bytes: audio))
            } catch let error as ElevenLabsHTTPError {
                guard case .transport(_, _, afterAudio: true) = error, breaks < policy.maxRetries else { throw error }
                try await sleep(policy.backoff(forRetry: breaks))
                breaks += 1
            }
        }
    }
}

/// The offline voice (espeak-ng), for building without an ElevenLabs key. Its prompts are keyed
/// apart from ElevenLabs' (source "offline"), so adding a key later rebuilds them in the real voice.
public struct OfflinePromptSynthesizer: PromptSynthesizer {
    public let source = "offline"
    public let isBilled = false
    private let voice: OfflineVoice

    public init(voice: OfflineVoice = OfflineVoice(logger: Logger(label: "voicebridge.prompts.offline"))) {
        self.voice = voice
    }

    public func cacheKey(for prompt: PromptDefinition) -> PromptCacheKey {
        let settings = voice.configuration
        return PromptCacheKey(
            source: source, text: prompt.text, voice: prompt.offlineVoice,
            model: "espeak-ng rate=\(settings.rate) pitch=\(settings.pitch) volume=\(settings.volume)",
            settings: ElevenLabsVoiceSettings(), synthesisFormat: .ulaw8000
        )
    }

    public func synthesize(_ prompt: PromptDefinition) async throws -> SynthesizedAudio {
        let turn = voice.speak(prompt.text, options: TurnOptions(id: "prompt-\(prompt.id)", voice: prompt.offlineVoice))
        var audio: [UInt8] = []
        for try await chunk in turn.chunks {
            audio += chunk.audio
        }
        return try PromptAudio.validated(SynthesizedAudio(format: .ulaw8000, bytes: audio))
    }
}
