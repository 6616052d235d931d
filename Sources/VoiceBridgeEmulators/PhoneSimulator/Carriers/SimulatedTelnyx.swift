import Foundation
import NIOCore
import VoiceBridgeCarriers

extension SimulatedCarrierKind {
    public static let telnyx = SimulatedCarrierKind(SimulatedTelnyx())
}

/// Telnyx through TeXML: Twilio's webhook fields signed with Ed25519, `<Connect><Stream
/// bidirectionalMode="rtp">` in PCMU, PCMA or L16, the `<Redirect>` asked after the stream.
struct SimulatedTelnyx: SimulatedCarrier {
    let name = TelnyxDialect.name
    let defaultWebhookPath = "/telnyx/texml"

    func makeIDs() -> SimulatedCallIDs {
        let accountSid = UUID().uuidString
        return SimulatedCallIDs(
            callSid: "v3:" + TwilioSid.make(""), accountSid: accountSid,
            stream: CallIdentity(callID: "v2:" + TwilioSid.make(""), streamID: UUID().uuidString, accountID: accountSid))
    }

    func webhookFields(ids: SimulatedCallIDs, from: String, to: String, status: String) -> [(String, String)] {
        SimulatedTwilio.twilioFields(ids: ids, from: from, to: to, status: status)
    }

    func request(url: String, parameters: [(String, String)], signing: SimulatorSigning) -> VoiceWebhookRequest {
        VoiceWebhookRequest(url: url, parameters: parameters, telnyxKey: signing.telnyxKey, timestamp: Int64(Date().timeIntervalSince1970))
    }

    func parseAnswer(_ body: String) throws -> StreamAnswer {
        let answer = try TelnyxConnectStream.parse(body)
        guard let format = TelnyxDialect.format(encoding: answer.codec, sampleRate: answer.samplingRate, channels: 1),
            TelnyxDialect.rules.supportedFormats.contains(format)
        else {
            throw SimulatorError.twiml("the simulator's Telnyx streams PCMU, PCMA 8000 or L16 16000, not \(answer.codec) \(answer.samplingRate)")
        }
        return StreamAnswer(url: answer.url, parameters: [], afterStreamURL: answer.afterStream, afterStreamVerbs: [], format: format)
    }

    func makeCall(setup: SimulatedCallSetup, stream: CallIdentity, done: EventLoopPromise<SimulatedCallOutcome>) -> any ChannelHandler {
        call(setup, TelnyxCarrierPeer(identity: stream, mediaFormat: setup.track.format), done)
    }
}
