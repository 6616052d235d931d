import NIOCore
import VoiceBridgeCarriers

extension SimulatedCarrierKind {
    public static let twilio = SimulatedCarrierKind(SimulatedTwilio())
}

/// Twilio: the form webhook signed with `X-Twilio-Signature`, TwiML `<Connect><Stream>`, the
/// upgrade signed over the stream URL, `<Connect action>` asked after the stream.
struct SimulatedTwilio: SimulatedCarrier {
    let name = TwilioDialect.name
    let defaultWebhookPath = "/twiml"
    let signingSecretEnvironment: String? = "TWILIO_AUTH_TOKEN"
    let userAgent = "Twilio.TmeWs/1.0"

    func makeIDs() -> SimulatedCallIDs {
        let callSid = TwilioSid.make("CA")
        let accountSid = TwilioSid.make("AC")
        return SimulatedCallIDs(
            callSid: callSid, accountSid: accountSid,
            stream: CallIdentity(callID: callSid, streamID: TwilioSid.make("MZ"), accountID: accountSid))
    }

    func webhookFields(ids: SimulatedCallIDs, from: String, to: String, status: String) -> [(String, String)] {
        Self.twilioFields(ids: ids, from: from, to: to, status: status)
    }

    /// Twilio's voice webhook form, which TeXML and cXML keep.
    static func twilioFields(ids: SimulatedCallIDs, from: String, to: String, status: String) -> [(String, String)] {
        var fields = VoiceWebhookRequest.incomingCallFields(callSid: ids.callSid, accountSid: ids.accountSid, from: from, to: to)
        if let i = fields.firstIndex(where: { $0.0 == "CallStatus" }) { fields[i].1 = status }
        return fields
    }

    func request(url: String, parameters: [(String, String)], signing: SimulatorSigning) -> VoiceWebhookRequest {
        VoiceWebhookRequest(url: url, parameters: parameters, authToken: signing.secret)
    }

    func parseAnswer(_ body: String) throws -> StreamAnswer {
        try Self.connectStream(body)
    }

    /// `<Connect><Stream>` in TwiML (or cXML), with what follows it.
    static func connectStream(_ body: String) throws -> StreamAnswer {
        let (instruction, after) = try TwiMLStream.connect(inTwiML: body)
        return StreamAnswer(
            url: instruction.url, parameters: instruction.parameters.map { ($0.name, $0.value) },
            afterStreamURL: instruction.connectAction, afterStreamVerbs: after.map { $0.render() })
    }

    func upgradeHeaders(streamURL: String, secret: String?) -> [(String, String)] {
        guard let secret else { return [] }
        return [("X-Twilio-Signature", TwilioSignature(authToken: secret).compute(url: streamURL, parameters: []))]
    }

    func makeCall(setup: SimulatedCallSetup, stream: CallIdentity, done: EventLoopPromise<SimulatedCallOutcome>) -> any ChannelHandler {
        call(setup, TwilioCarrierPeer(identity: stream), done)
    }
}
