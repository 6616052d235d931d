import Logging
import VoiceBridgeCalls
import VoiceBridgeFlows
import VoiceBridgeRecording
import VoiceBridgeRelay
import VoiceBridgeSpeech

extension BridgeConfiguration {
    /// The relay session every call runs when `relay.url` is set; nil otherwise.
    public var relayConfiguration: RelayConfiguration? {
        relayURL.map { relayConfiguration(url: $0) }
    }

    /// The configured relay settings for an app at `url` (a flow's `relay` step overrides some).
    public func relayConfiguration(url: String) -> RelayConfiguration {
        var c = RelayConfiguration(url: url)
        c.welcomeGreeting = relayWelcomeGreeting
        c.welcomeGreetingInterruptible = Interruptible(rawValue: relayWelcomeGreetingInterruptible) ?? .any
        c.interruptible = Interruptible(rawValue: relayInterruptible) ?? .any
        c.preemptible = relayPreemptible
        c.reportInputDuringAgentSpeech = Interruptible(rawValue: relayReportInputDuringAgentSpeech) ?? .none
        c.dtmfDetection = relayDTMFDetection
        c.events = RelayConfiguration.parseEvents(relayEvents)
        c.customParameters = relayCustomParameters
        c.language = relayLanguage
        c.endAction = RelayEndAction(rawValue: relayEndAction) ?? .hangUp
        c.failureMessage = relayFailureMessage.isEmpty ? nil : relayFailureMessage
        c.authToken = relayAuthToken ?? twilioAuthToken
        c.connectTimeoutMs = relayConnectTimeoutMs
        c.partialPrompts = relayPartialPrompts
        c.hints = ScribeSettings.keyterms(hints: relayHints)
        c.transcriptionLanguage = relayTranscriptionLanguage
        c.interruptSensitivity = relayInterruptSensitivity.isEmpty ? nil : relayInterruptSensitivity
        c.ignoreBackchannel = relayIgnoreBackchannel
        c.speechTimeoutMs = relaySpeechTimeoutMs > 0 ? relaySpeechTimeoutMs : nil
        c.ttsName = elevenLabsAPIKey == nil ? "offline" : "elevenlabs"
        return c
    }
}

extension DemoCalls {
    /// Every call runs a relay session with the configured app (config default `relay.url`).
    public static func relayFlow(
        _ relay: RelayConfiguration, prompts: (any FlowPromptSource)? = nil, connector: any RelayConnector = RelayWebSocketClient.shared
    ) -> CallFlowProvider {
        let play = prompts.map { p in { @Sendable (id: String) in p.audio(forPrompt: id) } }
        return { context in
            // A recorded call keeps the app's side too, so `replay` can run the session again.
            let connector = context.recorder.map { RecordingRelayConnector(connector, recorder: $0) } ?? connector
            return RelayFlow(configuration: relay, prompts: play, connector: connector, logger: context.logger)
        }
    }
}
