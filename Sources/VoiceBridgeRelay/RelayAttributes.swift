import VoiceBridgeCalls
import VoiceBridgeSpeech

/// A relay configuration as ConversationRelay's TwiML attributes spell it (doc §1.1): what a
/// recording keeps of a session, so a replay sets up the same one. The URL, the signing secret
/// and the connect timeout are left out: a replay connects to no app.
extension RelayConfiguration {
    public var attributes: [String: String] {
        var a: [String: String] = [
            "interruptible": interruptible.rawValue,
            "welcomeGreetingInterruptible": welcomeGreetingInterruptible.rawValue,
            "reportInputDuringAgentSpeech": reportInputDuringAgentSpeech.rawValue,
            "preemptible": String(preemptible),
            "dtmfDetection": String(dtmfDetection),
            "language": language,
            "partialPrompts": String(partialPrompts),
            "ignoreBackchannel": String(ignoreBackchannel),
            "callStatus": callStatus,
            "endAction": endAction.rawValue,
            "ttsProvider": ttsName,
        ]
        if let welcomeGreeting { a["welcomeGreeting"] = welcomeGreeting }
        if !events.isEmpty { a["events"] = events.map(\.rawValue).sorted().joined(separator: " ") }
        if !hints.isEmpty { a["hints"] = hints.joined(separator: ",") }
        if let transcriptionLanguage { a["transcriptionLanguage"] = transcriptionLanguage }
        if let interruptSensitivity { a["interruptSensitivity"] = interruptSensitivity }
        if let failureMessage { a["failureMessage"] = failureMessage }
        if let speechTimeoutMs { a["speechTimeout"] = String(speechTimeoutMs) }
        for (key, value) in customParameters { a["parameter." + key] = value }
        return a
    }

    /// The configuration `attributes` describe, on the defaults.
    public init(url: String, attributes: [String: String]) throws(RelayAttributeError) {
        self.init(url: url)
        try apply(attributes: attributes)
    }

    /// Overrides what `a` names (a flow's `relay` step, a recording's header); a value the
    /// attribute does not take is an error naming it, so a hand-written file says what is wrong.
    public mutating func apply(attributes a: [String: String]) throws(RelayAttributeError) {
        func interruptibility(_ key: String, _ current: Interruptible) throws(RelayAttributeError) -> Interruptible {
            guard let text = a[key] else { return current }
            switch text.lowercased() {
            case "true": return .any
            case "false": return .none
            default:
                guard let value = Interruptible(rawValue: text.lowercased()) else {
                    throw RelayAttributeError(key: key, value: text, expected: "none, dtmf, speech, any, true or false")
                }
                return value
            }
        }
        func flag(_ key: String, _ current: Bool) throws(RelayAttributeError) -> Bool {
            guard let text = a[key] else { return current }
            guard let value = Bool(text.lowercased()) else { throw RelayAttributeError(key: key, value: text, expected: "true or false") }
            return value
        }
        interruptible = try interruptibility("interruptible", interruptible)
        welcomeGreetingInterruptible = try interruptibility("welcomeGreetingInterruptible", welcomeGreetingInterruptible)
        reportInputDuringAgentSpeech = try interruptibility("reportInputDuringAgentSpeech", reportInputDuringAgentSpeech)
        preemptible = try flag("preemptible", preemptible)
        dtmfDetection = try flag("dtmfDetection", dtmfDetection)
        partialPrompts = try flag("partialPrompts", partialPrompts)
        ignoreBackchannel = try flag("ignoreBackchannel", ignoreBackchannel)
        if let v = a["welcomeGreeting"] { welcomeGreeting = v }
        if let v = a["language"] { language = v }
        if let v = a["transcriptionLanguage"] { transcriptionLanguage = v }
        if let v = a["callStatus"] { callStatus = v }
        if let v = a["ttsProvider"] { ttsName = v }
        if let v = a["failureMessage"] { failureMessage = v }
        if let v = a["events"] { events = Self.parseEvents(v) }
        if let v = a["hints"] { hints = ScribeSettings.keyterms(hints: v) }
        if let sensitivity = a["interruptSensitivity"] {
            guard ["low", "medium", "high"].contains(sensitivity.lowercased()) else {
                throw RelayAttributeError(key: "interruptSensitivity", value: sensitivity, expected: "low, medium or high")
            }
            interruptSensitivity = sensitivity
        }
        if let text = a["speechTimeout"] {
            // The silence that ends a turn: a detector's hangover is bounded like the service's VAD.
            guard let ms = Int(text), (100...10_000).contains(ms) else {
                throw RelayAttributeError(key: "speechTimeout", value: text, expected: "milliseconds, 100 to 10000")
            }
            speechTimeoutMs = ms
        }
        if let action = a["endAction"] {
            guard let value = RelayEndAction(rawValue: action) else {
                throw RelayAttributeError(key: "endAction", value: action, expected: "hangup or redirect")
            }
            endAction = value
        }
        for (key, value) in a where key.hasPrefix("parameter.") { customParameters[String(key.dropFirst(10))] = value }
    }
}

public struct RelayAttributeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var key: String
    public var value: String
    public var expected: String

    public var description: String { "relay attribute \(key)=\"\(value)\" must be \(expected)" }
}
