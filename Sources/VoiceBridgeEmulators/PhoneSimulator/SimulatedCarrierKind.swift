import Foundation
import NIOCore
import VoiceBridgeCarriers

/// The carriers the phone simulator plays, each with its own webhook, answer markup, media
/// dialect and after-stream request.
public enum SimulatedCarrierKind: String, Sendable, CaseIterable {
    case twilio
    case telnyx
    case signalwire
    case plivo
    case asterisk
    case vonage
    case exotel

    /// Where `serve` answers this carrier's voice webhook.
    public var defaultWebhookPath: String {
        switch self {
        case .twilio: "/twiml"
        case .telnyx: "/telnyx/texml"
        case .signalwire: "/signalwire/cxml"
        case .plivo: "/plivo/answer"
        // No webhook: Asterisk's websocket_client connects straight to the media socket.
        case .asterisk: "/asterisk/media"
        case .vonage: "/vonage/answer"
        // No webhook: the Voicebot applet connects straight to its URL.
        case .exotel: "/exotel/media"
        }
    }

    /// Asterisk and Exotel dial the bridge's socket themselves; every other carrier asks a webhook first.
    public var hasAnswerWebhook: Bool { self != .asterisk && self != .exotel }

    /// The environment variable `voicebridge call` signs with when `--auth-token` is not given.
    public var signingSecretEnvironment: String? {
        switch self {
        case .twilio: "TWILIO_AUTH_TOKEN"
        case .signalwire: "SIGNALWIRE_SIGNING_KEY"
        case .plivo: "PLIVO_AUTH_TOKEN"
        case .vonage: "VONAGE_SIGNATURE_SECRET"
        case .telnyx, .asterisk, .exotel: nil
        }
    }

    /// The form an answer webhook (and, with another status, the request after a stream) carries.
    func webhookFields(ids: SimulatedCallIDs, from: String, to: String, status: String) -> [(String, String)] {
        switch self {
        case .twilio, .telnyx, .signalwire:
            var fields = VoiceWebhookRequest.incomingCallFields(callSid: ids.callSid, accountSid: ids.accountSid, from: from, to: to)
            if let i = fields.firstIndex(where: { $0.0 == "CallStatus" }) { fields[i].1 = status }
            return fields
        case .asterisk, .exotel:
            return []
        case .vonage:
            // Vonage's JSON: numbers without "+", the leg's uuid and the conversation's. After
            // the stream it reports the socket leg's status.
            var fields = [
                ("from", String(from.drop { $0 == "+" })), ("to", String(to.drop { $0 == "+" })),
                ("uuid", ids.stream.streamID), ("conversation_uuid", ids.callSid),
            ]
            if status != "ringing" { fields.append(("status", status == "in-progress" ? "disconnected" : status)) }
            return fields
        case .plivo:
            // Plivo's answer URL parameters: its own names, no account id.
            return [
                ("CallStatus", status == "ringing" ? "in-progress" : status), ("CallUUID", ids.callSid), ("Direction", "inbound"),
                ("Event", status == "ringing" ? "StartApp" : "Redirect"), ("From", from), ("To", to),
            ]
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
        case .asterisk:
            // The channel's unique id, and the per-call connection's UUID; no account.
            let channel = "pbx1-\(Int(Date().timeIntervalSince1970)).\(Int.random(in: 1...99_999))"
            return SimulatedCallIDs(
                callSid: channel, accountSid: "",
                stream: CallIdentity(callID: channel, streamID: UUID().uuidString.lowercased(), accountID: ""))
        case .exotel:
            // Exotel's ids are opaque hex strings; its account is a name.
            let hex = { String(UUID().uuidString.lowercased().filter { $0 != "-" }.prefix(32)) }
            let callSid = hex()
            return SimulatedCallIDs(callSid: callSid, accountSid: "exampleacct1", stream: CallIdentity(callID: callSid, streamID: hex(), accountID: "exampleacct1"))
        case .vonage:
            // The conversation names the call; the leg has a UUID of its own.
            let conversation = "CON-" + UUID().uuidString.lowercased()
            return SimulatedCallIDs(
                callSid: conversation, accountSid: "",
                stream: CallIdentity(callID: conversation, streamID: UUID().uuidString.lowercased(), accountID: ""))
        case .plivo:
            // Call and stream ids are UUIDs; the auth id is "MA" and 18 more characters.
            let callUUID = UUID().uuidString.lowercased()
            let authID = "MA" + String(TwilioSid.make("").uppercased().prefix(18))
            return SimulatedCallIDs(
                callSid: callUUID, accountSid: authID,
                stream: CallIdentity(callID: callUUID, streamID: UUID().uuidString.lowercased(), accountID: authID))
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
    /// The audio the answer asked for (μ-law where the markup has no choice).
    var format: MediaFormat = .mulaw8kMono

    static func parse(_ body: String, carrier: SimulatedCarrierKind) throws -> StreamAnswer {
        switch carrier {
        case .twilio, .signalwire:
            let (instruction, after) = try TwiMLStream.connect(inTwiML: body)
            return StreamAnswer(
                url: instruction.url, parameters: instruction.parameters.map { ($0.name, $0.value) },
                afterStreamURL: instruction.connectAction, afterStreamVerbs: after.map { $0.render() })
        case .telnyx:
            let answer = try TelnyxConnectStream.parse(body)
            guard let format = TelnyxDialect.format(encoding: answer.codec, sampleRate: answer.samplingRate, channels: 1),
                TelnyxDialect.rules.supportedFormats.contains(format)
            else {
                throw SimulatorError.twiml("the simulator's Telnyx streams PCMU, PCMA 8000 or L16 16000, not \(answer.codec) \(answer.samplingRate)")
            }
            return StreamAnswer(url: answer.url, parameters: [], afterStreamURL: answer.afterStream, afterStreamVerbs: [], format: format)
        case .plivo:
            let answer = try PlivoStreamXML.parse(body)
            guard let format = PlivoDialect.format(contentType: answer.contentType) else {
                throw SimulatorError.twiml("Plivo streams audio/x-mulaw;rate=8000 or audio/x-l16;rate=8000|16000, not \(answer.contentType)")
            }
            return StreamAnswer(url: answer.url, parameters: [], afterStreamURL: answer.afterStream, afterStreamVerbs: [], format: format)
        case .vonage:
            let answer: VonageConnectWebSocket
            do { answer = try VonageConnectWebSocket.parse(body) } catch { throw SimulatorError.twiml(error.description) }
            return StreamAnswer(
                url: answer.uri, parameters: answer.headers, afterStreamURL: answer.eventURL, afterStreamVerbs: [],
                format: VonageDialect.format(contentType: answer.contentType) ?? .l16LittleEndian(16000))
        case .asterisk, .exotel:
            throw SimulatorError.twiml("\(carrier.rawValue) has no answer markup")
        }
    }

    /// Asterisk's connection: the configured URI itself, in its WebSocket spelling.
    static func direct(_ url: String, format: MediaFormat) -> StreamAnswer {
        var url = url
        if url.hasPrefix("http://") { url = "ws://" + url.dropFirst("http://".count) }
        if url.hasPrefix("https://") { url = "wss://" + url.dropFirst("https://".count) }
        return StreamAnswer(url: url, parameters: [], afterStreamURL: nil, afterStreamVerbs: [], format: format)
    }
}
