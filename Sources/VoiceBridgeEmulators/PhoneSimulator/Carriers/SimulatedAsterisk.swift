import Foundation
import NIOCore
import VoiceBridgeCarriers

extension SimulatedCarrierKind {
    public static let asterisk = SimulatedCarrierKind(SimulatedAsterisk())
}

/// Asterisk's `chan_websocket`: no webhook; its `websocket_client` connects straight to the
/// media path with HTTP Basic credentials (`--auth-token user:password`).
struct SimulatedAsterisk: SimulatedCarrier {
    let name = AsteriskDialect.name
    let defaultWebhookPath = "/asterisk/media"
    var hasAnswerWebhook: Bool { false }

    func makeIDs() -> SimulatedCallIDs {
        // The channel's unique id, and the per-call connection's UUID; no account.
        let channel = "pbx1-\(Int(Date().timeIntervalSince1970)).\(Int.random(in: 1...99_999))"
        return SimulatedCallIDs(
            callSid: channel, accountSid: "",
            stream: CallIdentity(callID: channel, streamID: UUID().uuidString.lowercased(), accountID: ""))
    }

    func webhookFields(ids: SimulatedCallIDs, from: String, to: String, status: String) -> [(String, String)] { [] }

    func request(url: String, parameters: [(String, String)], signing: SimulatorSigning) -> VoiceWebhookRequest {
        VoiceWebhookRequest(url: url, parameters: parameters, authToken: nil)
    }

    func upgradeHeaders(streamURL: String, secret: String?) -> [(String, String)] { basicCredentialHeaders(secret) }

    func makeCall(setup: SimulatedCallSetup, stream: CallIdentity, done: EventLoopPromise<SimulatedCallOutcome>) -> any ChannelHandler {
        call(setup, AsteriskCarrierPeer(identity: stream, mediaFormat: setup.track.format), done)
    }
}
