import Foundation
import NIOCore
import VoiceBridgeCarriers

extension SimulatedCarrierKind {
    public static let vonage = SimulatedCarrierKind(SimulatedVonage())
}

/// Vonage: JSON webhooks with a JWT (HS256, `payload_hash`), the NCCO's websocket endpoint, the
/// upgrade signed with the same JWT, and the socket leg's `disconnected` event after the stream,
/// whose answer is the call's next NCCO.
struct SimulatedVonage: SimulatedCarrier {
    let name = VonageDialect.name
    let defaultWebhookPath = "/vonage/answer"
    let signingSecretEnvironment: String? = "VONAGE_SIGNATURE_SECRET"

    func makeIDs() -> SimulatedCallIDs {
        // The conversation names the call; the leg has a UUID of its own.
        let conversation = "CON-" + UUID().uuidString.lowercased()
        return SimulatedCallIDs(
            callSid: conversation, accountSid: "",
            stream: CallIdentity(callID: conversation, streamID: UUID().uuidString.lowercased(), accountID: ""))
    }

    /// Numbers without "+", the leg's uuid and the conversation's; after the stream, the socket
    /// leg's status.
    func webhookFields(ids: SimulatedCallIDs, from: String, to: String, status: String) -> [(String, String)] {
        var fields = [
            ("from", String(from.drop { $0 == "+" })), ("to", String(to.drop { $0 == "+" })),
            ("uuid", ids.stream.streamID), ("conversation_uuid", ids.callSid),
        ]
        if status != "ringing" { fields.append(("status", status == "in-progress" ? "disconnected" : status)) }
        return fields
    }

    func request(url: String, parameters: [(String, String)], signing: SimulatorSigning) -> VoiceWebhookRequest {
        VoiceWebhookRequest(url: url, jsonParameters: parameters, vonageSecret: signing.secret, issuedAt: Int64(Date().timeIntervalSince1970))
    }

    func parseAnswer(_ body: String) throws -> StreamAnswer {
        let answer: VonageConnectWebSocket
        do { answer = try VonageConnectWebSocket.parse(body) } catch { throw SimulatorError.twiml(error.description) }
        return StreamAnswer(
            url: answer.uri, parameters: answer.headers, afterStreamURL: answer.eventURL, afterStreamVerbs: [],
            format: VonageDialect.format(contentType: answer.contentType) ?? .l16LittleEndian(16000))
    }

    /// `authorization: {"type":"vonage"}`: the webhook's JWT signs the upgrade too.
    func upgradeHeaders(streamURL: String, secret: String?) -> [(String, String)] {
        guard let secret else { return [] }
        return [(VonageSignature.header, VonageSignature(secret: secret).token(body: nil, issuedAt: Int64(Date().timeIntervalSince1970)))]
    }

    /// The next NCCO as it came, or nothing (204).
    func afterStream(status: Int, body: String) throws -> [String] {
        if status == 204 { return [] }
        guard status == 200 else { return ["<!-- after stream: HTTP \(status) -->"] }
        return [body]
    }

    func makeCall(setup: SimulatedCallSetup, stream: CallIdentity, done: EventLoopPromise<SimulatedCallOutcome>) -> any ChannelHandler {
        call(setup, VonageCarrierPeer(mediaFormat: setup.track.format), done)
    }
}
