import VoiceBridgeCarriers

/// The voice webhook request Twilio sends when a call comes in (twilio-media-streams.md §3, §4.1).
public struct VoiceWebhookRequest: Sendable {
    public var url: String
    /// Form fields in the order they are sent.
    public var parameters: [(String, String)]
    /// `X-Twilio-Signature`, when an auth token was given.
    public var signature: String?

    public init(url: String, callSid: String, accountSid: String, from: String, to: String, authToken: String?) {
        self.url = url
        self.parameters = [
            ("AccountSid", accountSid),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", callSid),
            ("CallStatus", "ringing"),
            ("Called", to),
            ("Caller", from),
            ("Direction", "inbound"),
            ("From", from),
            ("To", to),
        ]
        self.signature = authToken.map { TwilioSignature(authToken: $0).compute(url: url, parameters: parameters) }
    }

    /// Any other signed Twilio request: the same form, other fields (e.g. `<Connect action>`).
    public init(url: String, parameters: [(String, String)], authToken: String?) {
        self.url = url
        self.parameters = parameters
        self.signature = authToken.map { TwilioSignature(authToken: $0).compute(url: url, parameters: parameters) }
    }

    /// `application/x-www-form-urlencoded` body.
    public var body: String { FormURLEncoded.encode(parameters) }
}
