import Logging
import VoiceBridgeCalls
import VoiceBridgeRelay

extension BridgeConfiguration {
    /// The relay session every call runs when `relay.url` is set; nil otherwise.
    public var relayConfiguration: RelayConfiguration? {
        guard let relayURL else { return nil }
        var c = RelayConfiguration(url: relayURL)
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
        c.authToken = relayAuthToken ?? twilioAuthToken
        c.connectTimeoutMs = relayConnectTimeoutMs
        c.ttsName = elevenLabsAPIKey == nil ? "offline" : "elevenlabs"
        return c
    }
}

extension DemoCalls {
    /// Every call runs a relay session with the configured app (config default `relay.url`).
    public static func relayFlow(_ relay: RelayConfiguration, connector: any RelayConnector = RelayWebSocketClient.shared) -> CallFlowProvider {
        { context in RelayFlow(configuration: relay, connector: connector, logger: context.logger) }
    }
}
