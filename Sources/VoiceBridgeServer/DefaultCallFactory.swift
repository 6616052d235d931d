import Logging
import VoiceBridgeAudio
import VoiceBridgeCalls
import VoiceBridgeSpeech

extension Call: MediaCall {}

/// The calls `serve` runs: the demo menu flow, spoken by the offline voice (espeak-ng), with a
/// beep for its tone option.
public enum DemoCalls {
    /// One speech source for the whole server: `SpeechMemo` synthesises each menu prompt once and
    /// every call plays the same bytes.
    public static func factory(configuration: BridgeConfiguration, speech: any SpeechSource) -> MediaCallFactory {
        let callConfiguration = configuration.callConfiguration
        let tone = ToneGenerator.ulaw(ToneGenerator.pcm(.beep, durationMs: 600))
        return { context, sink in
            Call(
                eventLoop: context.eventLoop,
                configuration: callConfiguration,
                sink: sink,
                speech: speech,
                flow: DemoMenuFlow(script: .init(), toneAudio: tone),
                parameters: context.parameters,
                observer: context.observer,
                logger: context.logger
            )
        }
    }

    /// The offline voice for `configuration`, behind a shared prompt memo.
    public static func offlineSpeech(configuration: BridgeConfiguration, logger: Logger) -> OfflineVoice {
        OfflineVoice(configuration: .init(voice: configuration.voice), logger: logger)
    }
}

extension BridgeConfiguration {
    /// The per-call settings handed to every `Call`.
    public var callConfiguration: CallConfiguration {
        var c = CallConfiguration()
        c.frameMs = frameMs
        c.leadMs = leadMs
        c.bargeIn = BargeInPolicy(minSpeechMs: bargeInMinSpeechMs, echoGuardMs: bargeInEchoGuardMs)
        c.speechDetector = SpeechDetectorConfiguration(
            thresholdDBm0: speechThresholdDBm0,
            minSpeechMs: speechMinSpeechMs,
            hangoverMs: speechHangoverMs
        )
        c.hangUpGraceMs = hangUpGraceMs
        c.setupBufferMs = setupBufferMs
        c.voice = voice
        c.model = model
        c.language = language
        return c
    }
}
