#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation

/// Telnyx Call Control (carriers.md §1.1): a call arrives as a JSON webhook (`call.initiated`),
/// and the application drives it with REST commands on `/v2/calls/{call_control_id}/actions/…`.
/// The bridge answers with the stream fields in the `answer` command itself, so the media socket
/// opens as the call is answered, and ends the call with `hangup` or hands it on with `transfer`.
///
/// Both sides live here: the bridge parses events and writes commands; the simulator's Telnyx
/// writes events and parses commands, strictly, so a mistake in what we send fails loudly.

/// One Call Control webhook: `{"data":{"event_type","id","occurred_at","payload":{…},"record_type":"event"},"meta":{…}}`.
public struct TelnyxCallControlEvent: Sendable, Equatable {
    public var eventType: String
    public var id: String
    public var occurredAt: String
    public var callControlID: String
    public var callLegID: String?
    public var callSessionID: String?
    public var connectionID: String?
    /// `incoming` or `outgoing` (on `call.initiated`).
    public var direction: String?
    public var from: String?
    public var to: String?
    /// Base64, as given to a command; nil when the payload has `null`.
    public var clientState: String?
    /// `call.hangup`: `normal_clearing`, `user_busy`, `timeout`, …
    public var hangupCause: String?

    public init(
        eventType: String, id: String, occurredAt: String, callControlID: String, callLegID: String? = nil,
        callSessionID: String? = nil, connectionID: String? = nil, direction: String? = nil, from: String? = nil,
        to: String? = nil, clientState: String? = nil, hangupCause: String? = nil
    ) {
        self.eventType = eventType
        self.id = id
        self.occurredAt = occurredAt
        self.callControlID = callControlID
        self.callLegID = callLegID
        self.callSessionID = callSessionID
        self.connectionID = connectionID
        self.direction = direction
        self.from = from
        self.to = to
        self.clientState = clientState
        self.hangupCause = hangupCause
    }

    /// Reads a webhook body. Webhooks are rare, so a DOM is fine here; fields Telnyx adds over
    /// time (`offered_codecs`, `custom_headers`, …) are ignored, as a client of an evolving API must.
    public static func parse(_ body: [UInt8]) throws(TelnyxCallControlError) -> TelnyxCallControlEvent {
        guard let root = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            throw .invalidEvent("the body is not a JSON object")
        }
        guard let data = root["data"] as? [String: Any] else { throw .invalidEvent("data missing") }
        guard let eventType = data["event_type"] as? String, !eventType.isEmpty else {
            throw .invalidEvent("data.event_type missing")
        }
        guard let payload = data["payload"] as? [String: Any] else { throw .invalidEvent("data.payload missing") }
        guard let callControlID = payload["call_control_id"] as? String, !callControlID.isEmpty else {
            throw .invalidEvent("data.payload.call_control_id missing")
        }
        func text(_ key: String) -> String? { payload[key] as? String }
        return TelnyxCallControlEvent(
            eventType: eventType, id: data["id"] as? String ?? "", occurredAt: data["occurred_at"] as? String ?? "",
            callControlID: callControlID, callLegID: text("call_leg_id"), callSessionID: text("call_session_id"),
            connectionID: text("connection_id"), direction: text("direction"), from: text("from"), to: text("to"),
            clientState: text("client_state"), hangupCause: text("hangup_cause"))
    }

    /// The webhook as Telnyx writes it (the simulator's side).
    public func render(deliveredTo url: String, attempt: Int = 1) -> String {
        var payload: [(String, String)] = [("call_control_id", JSONWriting.quoted(callControlID))]
        func add(_ key: String, _ value: String?) { if let value { payload.append((key, JSONWriting.quoted(value))) } }
        add("call_leg_id", callLegID)
        add("call_session_id", callSessionID)
        payload.append(("client_state", clientState.map(JSONWriting.quoted) ?? "null"))
        add("connection_id", connectionID)
        add("direction", direction)
        add("from", from)
        add("to", to)
        add("hangup_cause", hangupCause)
        if eventType == "call.initiated" { payload.append(("state", JSONWriting.quoted("parked"))) }
        let payloadJSON = "{" + payload.map { JSONWriting.quoted($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
        return #"{"data":{"event_type":"# + JSONWriting.quoted(eventType) + #","id":"# + JSONWriting.quoted(id)
            + #","occurred_at":"# + JSONWriting.quoted(occurredAt) + #","payload":"# + payloadJSON
            + #","record_type":"event"},"meta":{"attempt":\#(attempt),"delivered_to":"# + JSONWriting.quoted(url) + "}}"
    }

    /// What a flow reads, in Twilio's names (From, To, CallSid, Direction) beside Telnyx's own.
    public var flowParameters: [String: String] {
        var values: [String: String] = ["CallSid": callControlID, "call_control_id": callControlID]
        if let from { values["From"] = from; values["from"] = from }
        if let to { values["To"] = to; values["to"] = to }
        if let direction { values["Direction"] = direction == "incoming" ? "inbound" : direction }
        if let callSessionID { values["call_session_id"] = callSessionID }
        if let callLegID { values["call_leg_id"] = callLegID }
        if let connectionID { values["connection_id"] = connectionID }
        if let clientState { values["client_state"] = clientState }
        return values
    }
}

/// The stream fields the bridge puts in `answer` (T1, T4): live audio back needs
/// `stream_bidirectional_mode: rtp`, exactly as TeXML's `bidirectionalMode`.
public struct TelnyxStreamRequest: Sendable, Equatable {
    public var url: String
    /// `PCMU`, `PCMA` or `L16`, case-sensitive.
    public var codec: String
    public var samplingRate: Int

    public init(url: String, codec: String, samplingRate: Int) {
        self.url = url
        self.codec = codec
        self.samplingRate = samplingRate
    }
}

/// The REST commands the bridge sends, each with a `command_id` so that a retried command is not
/// run twice (Telnyx ignores a repeated `command_id` on the same call).
public enum TelnyxCallControlCommand: Sendable, Equatable {
    case answer(TelnyxStreamRequest)
    case hangup
    /// `to`: a number in E.164, or a SIP URI.
    case transfer(to: String)
    /// Refuses a call before answering: `CALL_REJECTED` or `USER_BUSY`.
    case reject(cause: String)

    /// The path's last component: `/v2/calls/{id}/actions/{action}`.
    public var action: String {
        switch self {
        case .answer: "answer"
        case .hangup: "hangup"
        case .transfer: "transfer"
        case .reject: "reject"
        }
    }

    /// `calls/{id}/actions/{action}`, the id percent-encoded (it holds `:` and may hold `/`-like
    /// base64 characters), relative to the API's base (`…/v2/`).
    public static func path(callControlID: String, action: String) -> String {
        "calls/" + percentEncoded(callControlID) + "/actions/" + action
    }

    public func body(commandID: String) -> String {
        var fields: [(String, String)] = []
        switch self {
        case .answer(let stream):
            fields = [
                ("stream_url", JSONWriting.quoted(stream.url)),
                ("stream_track", JSONWriting.quoted("inbound_track")),
                ("stream_bidirectional_mode", JSONWriting.quoted("rtp")),
                ("stream_bidirectional_codec", JSONWriting.quoted(stream.codec)),
                ("stream_bidirectional_sampling_rate", String(stream.samplingRate)),
            ]
        case .hangup:
            break
        case .transfer(let to):
            fields = [("to", JSONWriting.quoted(to))]
        case .reject(let cause):
            fields = [("cause", JSONWriting.quoted(cause))]
        }
        fields.append(("command_id", JSONWriting.quoted(commandID)))
        return "{" + fields.map { JSONWriting.quoted($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }

    /// Fields each action accepts (T4, and the API reference's request bodies); anything else is
    /// refused by `parse`, so that the bridge never sends a field Telnyx does not know.
    static let documentedFields: [String: Set<String>] = [
        "answer": [
            "billing_group_id", "client_state", "command_id", "custom_headers", "preferred_codecs", "sip_headers",
            "sound_modifications", "stream_url", "stream_track", "stream_codec", "stream_bidirectional_mode",
            "stream_bidirectional_codec", "stream_bidirectional_sampling_rate", "stream_bidirectional_target_legs",
            "stream_auth_token", "send_silence_when_idle", "webhook_url", "webhook_url_method", "transcription",
            "record", "record_channels", "record_format", "record_max_length", "record_timeout_secs",
            "record_track", "record_trim", "custom_parameters",
        ],
        "hangup": ["client_state", "command_id"],
        "reject": ["cause", "client_state", "command_id"],
        "transfer": [
            "to", "from", "from_display_name", "audio_url", "media_name", "timeout_secs", "time_limit_secs",
            "custom_headers", "sip_headers", "sip_auth_username", "sip_auth_password", "client_state",
            "target_leg_client_state", "command_id", "webhook_url", "webhook_url_method", "answering_machine_detection",
            "early_media", "mute_dtmf", "park_after_unbridge", "record", "sip_transport_protocol",
        ],
    ]

    /// Reads a command as Telnyx would (the simulator's side): a known action, a JSON object
    /// with only documented fields of the documented types, and what the bridge relies on.
    public static func parse(action: String, body: [UInt8]) throws(TelnyxCallControlError) -> (command: TelnyxCallControlCommand, commandID: String?) {
        guard let allowed = documentedFields[action] else { throw .unknownAction(action) }
        let object: [String: Any]
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            object = [:]
        } else {
            guard let parsed = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
                throw .invalidCommand("the body is not a JSON object")
            }
            object = parsed
        }
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw .invalidCommand("\(action) has no field \(unknown)")
        }
        func string(_ key: String) throws(TelnyxCallControlError) -> String? {
            guard let value = object[key] else { return nil }
            guard let text = value as? String else { throw .invalidCommand("\(key) must be a string") }
            return text
        }
        let commandID = try string("command_id")
        switch action {
        case "answer":
            // Valid for Telnyx, but a bridge that answers without a stream has no call to carry.
            guard let url = try string("stream_url") else { throw .invalidCommand("answer has no stream_url: the call would have no media") }
            guard url.hasPrefix("ws://") || url.hasPrefix("wss://") else { throw .invalidCommand("stream_url must be ws:// or wss://, got \(url)") }
            let mode = try string("stream_bidirectional_mode") ?? "mp3"
            guard mode == "rtp" || mode == "mp3" else { throw .invalidCommand("stream_bidirectional_mode must be mp3 or rtp, got \(mode)") }
            if let track = try string("stream_track"), !["inbound_track", "outbound_track", "both_tracks"].contains(track) {
                throw .invalidCommand("stream_track must be inbound_track, outbound_track or both_tracks, got \(track)")
            }
            let codec = try string("stream_bidirectional_codec") ?? "PCMU"
            guard ["PCMU", "PCMA", "G722", "OPUS", "AMR-WB", "L16"].contains(codec) else {
                throw .invalidCommand("stream_bidirectional_codec \(codec) is not a Telnyx codec (case-sensitive)")
            }
            var rate = 8000
            if let value = object["stream_bidirectional_sampling_rate"] {
                guard let number = value as? NSNumber, let integer = Int(exactly: number.doubleValue),
                    [8000, 16000, 22050, 24000, 48000].contains(integer)
                else { throw .invalidCommand("stream_bidirectional_sampling_rate must be 8000, 16000, 22050, 24000 or 48000") }
                rate = integer
            }
            // Without rtp Telnyx drops our audio silently (carriers.md §1.5): as the simulator, refuse.
            guard mode == "rtp" else { throw .invalidCommand("stream_bidirectional_mode is mp3: the caller would hear nothing") }
            return (.answer(TelnyxStreamRequest(url: url, codec: codec, samplingRate: rate)), commandID)
        case "transfer":
            guard let to = try string("to"), !to.isEmpty else { throw .invalidCommand("transfer needs to") }
            return (.transfer(to: to), commandID)
        case "reject":
            guard let cause = try string("cause"), ["CALL_REJECTED", "USER_BUSY"].contains(cause) else {
                throw .invalidCommand("reject needs cause CALL_REJECTED or USER_BUSY")
            }
            return (.reject(cause: cause), commandID)
        default:
            return (.hangup, commandID)
        }
    }

    private static func percentEncoded(_ text: String) -> String {
        var output = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"), UInt8(ascii: ":"):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                output += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]], as: UTF8.self)
            }
        }
        return output
    }
}

/// Telnyx's answers to commands: `{"data":{"result":"ok"}}`, or `{"errors":[{"code","title","detail"}]}`.
public enum TelnyxCallControlReply {
    public static let ok = #"{"data":{"result":"ok"}}"#
    /// Error 90018: the call is over and takes no more commands (T6).
    public static let callEndedCode = "90018"

    public static func error(code: String, title: String, detail: String) -> String {
        #"{"errors":[{"code":"# + JSONWriting.quoted(code) + #","title":"# + JSONWriting.quoted(title)
            + #","detail":"# + JSONWriting.quoted(detail) + "}]}"
    }

    /// The first error's code and text in a reply body, if it has one.
    public static func firstError(_ body: [UInt8]) -> (code: String, text: String)? {
        guard let root = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any],
            let errors = root["errors"] as? [[String: Any]], let first = errors.first
        else { return nil }
        let code = (first["code"] as? String) ?? (first["code"] as? NSNumber)?.stringValue ?? ""
        let text = [first["title"] as? String, first["detail"] as? String].compactMap { $0 }.joined(separator: ": ")
        return (code, text)
    }
}

public enum TelnyxCallControlError: Error, Equatable, CustomStringConvertible {
    case invalidEvent(String)
    case invalidCommand(String)
    case unknownAction(String)

    public var description: String {
        switch self {
        case .invalidEvent(let reason): "invalid Call Control webhook: \(reason)"
        case .invalidCommand(let reason): "invalid Call Control command: \(reason)"
        case .unknownAction(let action): "unknown Call Control action \(action)"
        }
    }
}
