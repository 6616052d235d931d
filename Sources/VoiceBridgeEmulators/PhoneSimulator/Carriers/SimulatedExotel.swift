import Foundation
import NIOCore
import VoiceBridgeCarriers

extension SimulatedCarrierKind {
    public static let exotel = SimulatedCarrierKind(SimulatedExotel())
}

/// Exotel's Voicebot applet: no webhook; it connects to the URL in the applet, whose Basic
/// credentials it sends (`--auth-token user:password`).
struct SimulatedExotel: SimulatedCarrier {
    let name = ExotelDialect.name
    let defaultWebhookPath = "/exotel/media"
    var hasAnswerWebhook: Bool { false }
    /// The applet's default `sample-rate`, 16-bit PCM.
    var defaultDirectFormat: MediaFormat { .l16LittleEndian(8000) }

    func makeIDs() -> SimulatedCallIDs {
        // Exotel's ids are opaque hex strings; its account is a name.
        let hex = { String(UUID().uuidString.lowercased().filter { $0 != "-" }.prefix(32)) }
        let callSid = hex()
        return SimulatedCallIDs(
            callSid: callSid, accountSid: "exampleacct1", stream: CallIdentity(callID: callSid, streamID: hex(), accountID: "exampleacct1"))
    }

    func webhookFields(ids: SimulatedCallIDs, from: String, to: String, status: String) -> [(String, String)] { [] }

    func request(url: String, parameters: [(String, String)], signing: SimulatorSigning) -> VoiceWebhookRequest {
        VoiceWebhookRequest(url: url, parameters: parameters, authToken: nil)
    }

    func upgradeHeaders(streamURL: String, secret: String?) -> [(String, String)] { basicCredentialHeaders(secret) }

    func makeCall(setup: SimulatedCallSetup, stream: CallIdentity, done: EventLoopPromise<SimulatedCallOutcome>) -> any ChannelHandler {
        call(setup, ExotelCarrierPeer(identity: stream, mediaFormat: setup.track.format), done)
    }
}
