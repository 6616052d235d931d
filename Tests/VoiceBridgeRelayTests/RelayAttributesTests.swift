import Testing
import VoiceBridgeCalls
@testable import VoiceBridgeRelay

/// A session's settings as attributes: what a recording keeps, and a flow's `relay` step names.
@Suite struct RelayAttributesTests {
    @Test func aConfigurationSurvivesItsAttributes() throws {
        var c = RelayConfiguration(url: "wss://app.example.com/relay")
        c.welcomeGreeting = "Hello."
        c.welcomeGreetingInterruptible = .dtmf
        c.interruptible = .speech
        c.preemptible = true
        c.reportInputDuringAgentSpeech = .any
        c.dtmfDetection = true
        c.events = [.speakerEvents, .tokensPlayed]
        c.customParameters = ["tier": "gold"]
        c.language = "fr-FR"
        c.transcriptionLanguage = "multi"
        c.partialPrompts = true
        c.hints = ["billing", "balance"]
        c.interruptSensitivity = "low"
        c.ignoreBackchannel = true
        c.endAction = .redirect
        c.failureMessage = "Sorry."
        c.ttsName = "elevenlabs"
        c.callStatus = "IN_PROGRESS"
        c.speechTimeoutMs = 1200
        let again = try RelayConfiguration(url: c.url, attributes: c.attributes)
        #expect(again == c)
    }

    @Test func onlyTheNamedAttributesChange() throws {
        var c = RelayConfiguration(url: "wss://app.example.com/relay")
        c.dtmfDetection = true
        c.language = "de-DE"
        try c.apply(attributes: ["interruptible": "false", "hints": " bill , pay  my bill ,bill"])
        #expect(c.interruptible == .none)
        #expect(c.hints == ["bill", "pay my bill"])
        #expect(c.dtmfDetection && c.language == "de-DE")
    }

    @Test func aValueTheAttributeDoesNotTakeIsNamed() {
        var c = RelayConfiguration(url: "wss://app.example.com/relay")
        #expect(throws: RelayAttributeError(key: "interruptSensitivity", value: "loud", expected: "low, medium or high")) {
            try c.apply(attributes: ["interruptSensitivity": "loud"])
        }
        #expect(throws: RelayAttributeError(key: "dtmfDetection", value: "yes", expected: "true or false")) {
            try c.apply(attributes: ["dtmfDetection": "yes"])
        }
    }
}
