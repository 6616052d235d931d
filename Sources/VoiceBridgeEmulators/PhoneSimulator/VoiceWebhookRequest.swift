import VoiceBridgeCarriers

/// A form-encoded webhook the carrier sends: the voice webhook when a call comes in
/// (twilio-media-streams.md §3, §4.1; TeXML keeps Twilio's fields), and the requests that follow
/// a stream. Signed the carrier's way.
public struct VoiceWebhookRequest: Sendable {
    public var url: String
    /// Form fields in the order they are sent.
    public var parameters: [(String, String)]
    /// The signature headers: `X-Twilio-Signature`, or Telnyx's Ed25519 pair.
    public var headers: [(String, String)]
    /// Vonage's webhooks are JSON: the parameters as one object of strings.
    public var isJSON = false
    /// A JSON body written by the carrier itself (Telnyx Call Control's nested events).
    public var rawJSON: String?

    /// The voice webhook's fields for an incoming call.
    public static func incomingCallFields(callSid: String, accountSid: String, from: String, to: String) -> [(String, String)] {
        [
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
    }

    public init(url: String, callSid: String, accountSid: String, from: String, to: String, authToken: String?) {
        self.init(
            url: url, parameters: Self.incomingCallFields(callSid: callSid, accountSid: accountSid, from: from, to: to),
            authToken: authToken)
    }

    /// Any other signed Twilio request: the same form, other fields (e.g. `<Connect action>`).
    public init(url: String, parameters: [(String, String)], authToken: String?) {
        self.url = url
        self.parameters = parameters
        self.headers = authToken.map {
            [("X-Twilio-Signature", TwilioSignature(authToken: $0).compute(url: url, parameters: parameters))]
        } ?? []
    }

    /// A SignalWire cXML request: Twilio's algorithm with the project's Signing Key, in
    /// `X-SignalWire-Signature`.
    public init(url: String, parameters: [(String, String)], signalWireSigningKey: String?) {
        self.url = url
        self.parameters = parameters
        self.headers = signalWireSigningKey.map {
            [("X-SignalWire-Signature", TwilioSignature(authToken: $0).compute(url: url, parameters: parameters))]
        } ?? []
    }

    /// A Plivo request, signed with `X-Plivo-Signature-V3` and its nonce when a token is given.
    public init(url: String, parameters: [(String, String)], plivoAuthToken: String?, nonce: String) {
        self.url = url
        self.parameters = parameters
        self.headers = plivoAuthToken.map {
            [
                (PlivoSignature.signatureHeader, PlivoSignature(authToken: $0).compute(method: .post, url: url, parameters: parameters, nonce: nonce)),
                (PlivoSignature.nonceHeader, nonce),
            ]
        } ?? []
    }

    /// A Telnyx TeXML request, signed with Ed25519 over `timestamp|body` when a key is given.
    public init(url: String, parameters: [(String, String)], telnyxKey: Ed25519.PrivateKey?, timestamp: Int64) {
        self.url = url
        self.parameters = parameters
        self.headers = []
        if let telnyxKey {
            headers = telnyxKey.telnyxHeaders(body: Array(body.utf8), timestamp: timestamp)
        }
    }

    /// A Vonage request: the parameters as a JSON object, with `Authorization: Bearer <JWT>`
    /// (HS256, with the body's `payload_hash`) when a signature secret is given.
    public init(url: String, jsonParameters parameters: [(String, String)], vonageSecret: String?, issuedAt: Int64) {
        self.url = url
        self.parameters = parameters
        self.isJSON = true
        self.headers = []
        if let vonageSecret {
            headers = [(VonageSignature.header, VonageSignature(secret: vonageSecret).token(body: Array(body.utf8), issuedAt: issuedAt))]
        }
    }

    /// A Telnyx Call Control event: its JSON as written, signed with Ed25519 over
    /// `timestamp|body` when a key is given.
    public init(url: String, json: String, telnyxKey: Ed25519.PrivateKey?, timestamp: Int64) {
        self.url = url
        self.parameters = []
        self.isJSON = true
        self.rawJSON = json
        self.headers = telnyxKey?.telnyxHeaders(body: Array(json.utf8), timestamp: timestamp) ?? []
    }

    public var contentType: String { isJSON ? "application/json" : "application/x-www-form-urlencoded" }

    /// `X-Twilio-Signature`, when the request is Twilio's and signed.
    public var signature: String? { headers.first { $0.0 == "X-Twilio-Signature" }?.1 }

    /// The form body, or Vonage's JSON.
    public var body: String {
        guard isJSON else { return FormURLEncoded.encode(parameters) }
        if let rawJSON { return rawJSON }
        return "{" + parameters.map { JSONWriting.quoted($0.0) + ":" + JSONWriting.quoted($0.1) }.joined(separator: ",") + "}"
    }
}
