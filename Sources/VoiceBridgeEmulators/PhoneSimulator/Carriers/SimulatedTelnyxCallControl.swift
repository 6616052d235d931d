import Foundation
import NIOCore
import VoiceBridgeCarriers

extension SimulatedCarrierKind {
    public static let telnyxCallControl = SimulatedCarrierKind(SimulatedTelnyxCallControl())
}

/// Telnyx through Call Control: a signed JSON `call.initiated` webhook, then the bridge's REST
/// `answer` (with the stream) arrives at the simulator's `TelnyxCallControlAPI`, the media
/// socket opens where it says, and after the stream the bridge's `hangup` or `transfer` command
/// is what follows. A caller who hangs up sends `call.hangup`, as Telnyx does.
struct SimulatedTelnyxCallControl: SimulatedCarrier {
    let name = "telnyx-call-control"
    let defaultWebhookPath = "/telnyx/call-control"
    let userAgent = "telnyx-media-stream/1.0"

    func makeIDs() -> SimulatedCallIDs {
        // The call control id names the call in webhooks, commands and the stream's start alike.
        let callControlID = "v3:" + TwilioSid.make("")
        let connection = String(UInt64.random(in: 1_000_000_000...9_999_999_999))
        return SimulatedCallIDs(
            callSid: callControlID, accountSid: connection,
            stream: CallIdentity(callID: callControlID, streamID: UUID().uuidString.lowercased(), accountID: connection))
    }

    /// The event's fields: `call.initiated` for the answer webhook, `call.hangup` otherwise.
    func webhookFields(ids: SimulatedCallIDs, from: String, to: String, status: String) -> [(String, String)] {
        [
            ("event_type", status == "ringing" ? "call.initiated" : "call.hangup"),
            ("call_control_id", ids.callSid), ("connection_id", ids.accountSid), ("direction", "incoming"),
            ("from", from), ("to", to),
        ] + (status == "ringing" ? [] : [("hangup_cause", "normal_clearing")])
    }

    func request(url: String, parameters: [(String, String)], signing: SimulatorSigning) -> VoiceWebhookRequest {
        let fields = Dictionary(parameters, uniquingKeysWith: { first, _ in first })
        let now = Date()
        let event = TelnyxCallControlEvent(
            eventType: fields["event_type"] ?? "call.initiated", id: UUID().uuidString.lowercased(),
            occurredAt: ISO8601DateFormatter().string(from: now), callControlID: fields["call_control_id"] ?? "",
            callLegID: UUID().uuidString.lowercased(), callSessionID: nil, connectionID: fields["connection_id"],
            direction: fields["direction"], from: fields["from"], to: fields["to"], hangupCause: fields["hangup_cause"])
        return VoiceWebhookRequest(
            url: url, json: event.render(deliveredTo: url), telnyxKey: signing.telnyxKey, timestamp: Int64(now.timeIntervalSince1970))
    }

    func prepare(ids: SimulatedCallIDs, configuration: PhoneSimulator.Configuration) {
        configuration.telnyxAPI?.expectCall(ids.callSid)
    }

    /// The webhook only needs a 2xx; the stream comes with the bridge's `answer` command.
    func stream(
        answering response: WebhookClient.Response, ids: SimulatedCallIDs, configuration: PhoneSimulator.Configuration,
        on loop: any EventLoop
    ) async throws -> StreamAnswer {
        guard (200..<300).contains(response.status) else {
            throw SimulatorError.webhook("HTTP \(response.status): \(response.body.prefix(200))")
        }
        guard let api = configuration.telnyxAPI else {
            throw SimulatorError.webhook("\(name) needs the simulator's Telnyx API (voicebridge call --telnyx-api-port)")
        }
        guard let received = await api.nextCommand(for: ids.callSid, timeout: configuration.webhookTimeout, on: loop) else {
            throw SimulatorError.webhook("no Call Control command for \(ids.callSid) within the webhook timeout (is serve's telnyx.api_url \(api.baseURL ?? "this API")?)")
        }
        guard case .answer(let stream)? = received.command else {
            throw SimulatorError.webhook("the bridge sent \(received.action) where Telnyx expects answer")
        }
        guard let format = TelnyxDialect.format(encoding: stream.codec, sampleRate: stream.samplingRate, channels: 1),
            TelnyxDialect.rules.supportedFormats.contains(format)
        else {
            throw SimulatorError.twiml("the simulator's Telnyx streams PCMU, PCMA 8000 or L16 16000, not \(stream.codec) \(stream.samplingRate)")
        }
        return StreamAnswer(url: stream.url, parameters: [], afterStreamURL: nil, afterStreamVerbs: [], format: format)
    }

    /// After a stream the bridge ended: its command, as verbs (`<Hangup/>`, `<Dial>…</Dial>`).
    /// A caller who hung up ends the call at Telnyx, which then tells the bridge (`call.hangup`).
    func afterStream(
        ids: SimulatedCallIDs, endReason: CallTimeline.EndReason, configuration: PhoneSimulator.Configuration,
        on loop: any EventLoop
    ) async -> [String]? {
        guard let api = configuration.telnyxAPI else { return [] }
        var verbs: [String] = []
        var callEnds = true
        if endReason == .serverClosed {
            switch await api.nextCommand(for: ids.callSid, timeout: configuration.webhookTimeout, on: loop)?.command {
            case .hangup?: verbs = [TwiMLVerb.hangup.render()]
            case .transfer(let to)?:
                verbs = [TwiMLVerb.dial(TwiMLDial(target: to)).render()]
                callEnds = false  // the caller goes on, to the transfer's target
            case let other?: verbs = ["<!-- after stream: \(other.action) -->"]
            case nil: verbs = ["<!-- after stream: no command -->"]
            }
        }
        if callEnds {
            api.endCall(ids.callSid)
            let request = self.request(
                url: configuration.webhookURL,
                parameters: webhookFields(ids: ids, from: configuration.from, to: configuration.to, status: "completed"),
                signing: SimulatorSigning(secret: configuration.authToken, telnyxKey: configuration.telnyxSigningKey))
            if let response = try? await WebhookClient.post(request, on: loop, timeout: configuration.webhookTimeout),
                !(200..<300).contains(response.status)
            {
                verbs.append("<!-- call.hangup webhook: HTTP \(response.status) -->")
            }
        }
        return verbs
    }

    func makeCall(setup: SimulatedCallSetup, stream: CallIdentity, done: EventLoopPromise<SimulatedCallOutcome>) -> any ChannelHandler {
        call(setup, TelnyxCarrierPeer(identity: stream, mediaFormat: setup.track.format), done)
    }
}
