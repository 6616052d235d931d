import Foundation
import NIOCore
import VoiceBridgeCarriers

extension SimulatedCarrierKind {
    public static let signalwire = SimulatedCarrierKind(SimulatedSignalWire())
}

/// SignalWire: Twilio's webhook and cXML with UUID ids, signed with the project's Signing Key in
/// `X-SignalWire-Signature`; Twilio's media messages with SignalWire's omissions.
struct SimulatedSignalWire: SimulatedCarrier {
    let name = SignalWireDialect.name
    let defaultWebhookPath = "/signalwire/cxml"
    let signingSecretEnvironment: String? = "SIGNALWIRE_SIGNING_KEY"

    func makeIDs() -> SimulatedCallIDs {
        let callSid = UUID().uuidString.lowercased()
        let accountSid = UUID().uuidString.lowercased()
        return SimulatedCallIDs(
            callSid: callSid, accountSid: accountSid,
            stream: CallIdentity(callID: callSid, streamID: UUID().uuidString.lowercased(), accountID: accountSid))
    }

    func webhookFields(ids: SimulatedCallIDs, from: String, to: String, status: String) -> [(String, String)] {
        SimulatedTwilio.twilioFields(ids: ids, from: from, to: to, status: status)
    }

    func request(url: String, parameters: [(String, String)], signing: SimulatorSigning) -> VoiceWebhookRequest {
        VoiceWebhookRequest(url: url, parameters: parameters, signalWireSigningKey: signing.secret)
    }

    func parseAnswer(_ body: String) throws -> StreamAnswer {
        try SimulatedTwilio.connectStream(body)
    }

    func makeCall(setup: SimulatedCallSetup, stream: CallIdentity, done: EventLoopPromise<SimulatedCallOutcome>) -> any ChannelHandler {
        call(setup, SignalWireCarrierPeer(identity: stream), done)
    }
}
