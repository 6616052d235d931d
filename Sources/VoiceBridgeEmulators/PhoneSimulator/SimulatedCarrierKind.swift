import Foundation
import NIOCore
import VoiceBridgeCarriers

/// The carriers the phone simulator plays, each with its own webhook, answer markup, media
/// dialect and after-stream request.
public enum SimulatedCarrierKind: String, Sendable, CaseIterable {
    case twilio
    case telnyx
    case signalwire

    /// Where `serve` answers this carrier's voice webhook.
    public var defaultWebhookPath: String {
        switch self {
        case .twilio: "/twiml"
        case .telnyx: "/telnyx/texml"
        case .signalwire: "/signalwire/cxml"
        }
    }
}

/// One simulated call's ids: what the answer webhook names the call by, and what the media
/// stream's `start` carries (the same for Twilio; TeXML's CallSid and Call Control's
/// call_control_id for Telnyx).
struct SimulatedCallIDs: Sendable {
    var callSid: String
    var accountSid: String
    var stream: CallIdentity

    static func make(for carrier: SimulatedCarrierKind) -> SimulatedCallIDs {
        switch carrier {
        case .twilio:
            let callSid = TwilioSid.make("CA")
            let accountSid = TwilioSid.make("AC")
            return SimulatedCallIDs(
                callSid: callSid, accountSid: accountSid,
                stream: CallIdentity(callID: callSid, streamID: TwilioSid.make("MZ"), accountID: accountSid))
        case .signalwire:
            let callSid = UUID().uuidString.lowercased()
            let accountSid = UUID().uuidString.lowercased()
            return SimulatedCallIDs(
                callSid: callSid, accountSid: accountSid,
                stream: CallIdentity(callID: callSid, streamID: UUID().uuidString.lowercased(), accountID: accountSid))
        case .telnyx:
            let accountSid = UUID().uuidString
            return SimulatedCallIDs(
                callSid: "v3:" + TwilioSid.make(""), accountSid: accountSid,
                stream: CallIdentity(callID: "v2:" + TwilioSid.make(""), streamID: UUID().uuidString, accountID: accountSid))
        }
    }
}

/// What an answer asked for, whatever its markup.
struct StreamAnswer: Sendable {
    var url: String
    /// `<Parameter>`s, for carriers that repeat them in `start`.
    var parameters: [(String, String)]
    /// Where the carrier asks what follows the stream once the server ends it (Twilio's
    /// `<Connect action>`, the `<Redirect>` after a TeXML `<Connect>`).
    var afterStreamURL: String?
    /// Verbs written after the stream in the answer itself, rendered.
    var afterStreamVerbs: [String]

    static func parse(_ body: String, carrier: SimulatedCarrierKind) throws -> StreamAnswer {
        switch carrier {
        case .twilio, .signalwire:
            let (instruction, after) = try TwiMLStream.connect(inTwiML: body)
            return StreamAnswer(
                url: instruction.url, parameters: instruction.parameters.map { ($0.name, $0.value) },
                afterStreamURL: instruction.connectAction, afterStreamVerbs: after.map { $0.render() })
        case .telnyx:
            let answer = try TelnyxConnectStream.parse(body)
            guard answer.codec == "PCMU", answer.samplingRate == 8000 else {
                throw SimulatorError.twiml("the simulator's Telnyx plays PCMU 8000, not \(answer.codec) \(answer.samplingRate)")
            }
            return StreamAnswer(url: answer.url, parameters: [], afterStreamURL: answer.afterStream, afterStreamVerbs: [])
        }
    }
}
