import Foundation
import NIOCore
import VoiceBridgeCarriers

extension SimulatedCarrierKind {
    public static let plivo = SimulatedCarrierKind(SimulatedPlivo())
}

/// Plivo: its own form fields signed with `X-Plivo-Signature-V3` (the upgrade too), `<Stream
/// bidirectional>` in μ-law or L16, the `<Redirect>` asked after the stream.
struct SimulatedPlivo: SimulatedCarrier {
    let name = PlivoDialect.name
    let defaultWebhookPath = "/plivo/answer"
    let signingSecretEnvironment: String? = "PLIVO_AUTH_TOKEN"

    func makeIDs() -> SimulatedCallIDs {
        // Call and stream ids are UUIDs; the auth id is "MA" and 18 more characters.
        let callUUID = UUID().uuidString.lowercased()
        let authID = "MA" + String(TwilioSid.make("").uppercased().prefix(18))
        return SimulatedCallIDs(
            callSid: callUUID, accountSid: authID,
            stream: CallIdentity(callID: callUUID, streamID: UUID().uuidString.lowercased(), accountID: authID))
    }

    /// Plivo's answer URL parameters: its own names, no account id.
    func webhookFields(ids: SimulatedCallIDs, from: String, to: String, status: String) -> [(String, String)] {
        [
            ("CallStatus", status == "ringing" ? "in-progress" : status), ("CallUUID", ids.callSid), ("Direction", "inbound"),
            ("Event", status == "ringing" ? "StartApp" : "Redirect"), ("From", from), ("To", to),
        ]
    }

    func request(url: String, parameters: [(String, String)], signing: SimulatorSigning) -> VoiceWebhookRequest {
        VoiceWebhookRequest(url: url, parameters: parameters, plivoAuthToken: signing.secret, nonce: Self.nonce())
    }

    /// Plivo's nonce: 20 random digits.
    static func nonce() -> String {
        String((0..<20).map { _ in Character(String(Int.random(in: 0...9))) })
    }

    func parseAnswer(_ body: String) throws -> StreamAnswer {
        let answer = try PlivoStreamXML.parse(body)
        guard let format = PlivoDialect.format(contentType: answer.contentType) else {
            throw SimulatorError.twiml("Plivo streams audio/x-mulaw;rate=8000 or audio/x-l16;rate=8000|16000, not \(answer.contentType)")
        }
        return StreamAnswer(url: answer.url, parameters: [], afterStreamURL: answer.afterStream, afterStreamVerbs: [], format: format)
    }

    /// Plivo signs the upgrade as a GET of the stream URL.
    func upgradeHeaders(streamURL: String, secret: String?) -> [(String, String)] {
        guard let secret else { return [] }
        let nonce = Self.nonce()
        return [
            (PlivoSignature.signatureHeader, PlivoSignature(authToken: secret).compute(method: .get, url: streamURL, parameters: [], nonce: nonce)),
            (PlivoSignature.nonceHeader, nonce),
        ]
    }

    func makeCall(setup: SimulatedCallSetup, stream: CallIdentity, done: EventLoopPromise<SimulatedCallOutcome>) -> any ChannelHandler {
        let epochMs = Int(Date().timeIntervalSince1970 * 1000)
        return call(setup, PlivoCarrierPeer(identity: stream, mediaFormat: setup.track.format, epochBaseMs: epochMs), done)
    }
}
