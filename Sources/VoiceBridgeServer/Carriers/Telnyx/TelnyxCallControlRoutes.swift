import Foundation
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import VoiceBridgeCalls
import VoiceBridgeCarriers
import VoiceBridgeSpeech

/// Telnyx's REST API for Call Control commands: `POST {api_url}/calls/{id}/actions/{action}`
/// with the API key as a bearer token. A command that meets a busy or failing API (429, 5xx, no
/// connection) is tried again with the same `command_id`, which Telnyx runs at most once.
struct TelnyxCallControlClient: Sendable {
    enum Outcome: Equatable, Sendable {
        case done
        /// Error 90018: the call had already ended (the caller hung up first).
        case callEnded
        case failed(String)
    }

    /// `https://api.telnyx.com/v2`, without a trailing slash.
    let baseURL: String
    let apiKey: String?
    var engine: CurlMulti = .shared
    var retryDelays: [Duration] = [.milliseconds(200), .seconds(1)]

    static let defaultBaseURL = "https://api.telnyx.com/v2"

    func send(_ command: TelnyxCallControlCommand, callControlID: String, commandID: String) async -> Outcome {
        guard let apiKey else { return .failed("telnyx.api_key / TELNYX_API_KEY is unset") }
        let url = baseURL + "/" + TelnyxCallControlCommand.path(callControlID: callControlID, action: command.action)
        let headers: HTTPHeaderFields = [
            "Authorization": "Bearer \(apiKey)", "Content-Type": "application/json", "Accept": "application/json",
        ]
        let body: [UInt8] = Array(command.body(commandID: commandID).utf8)
        let request = VoiceBridgeSpeech.HTTPRequest(
            method: "POST", url: url, headers: headers, body: body,
            connectTimeout: .seconds(5), stallTimeout: .seconds(10), totalTimeout: .seconds(15))
        var attempt = 0
        while true {
            let failure: String
            do {
                let (head, body) = try await engine.perform(request)
                if (200..<300).contains(head.status) { return .done }
                let error = TelnyxCallControlReply.firstError(body)
                if error?.code == TelnyxCallControlReply.callEndedCode { return .callEnded }
                failure = "HTTP \(head.status)" + (error.map { " (\($0.code) \($0.text))" } ?? "")
                guard head.status == 429 || head.status >= 500 else { return .failed(failure) }
            } catch {
                failure = "\(error)"
            }
            guard attempt < retryDelays.count else { return .failed(failure) }
            try? await Task.sleep(for: retryDelays[attempt])
            attempt += 1
        }
    }
}

/// The calls this process answered through Call Control and still carries: their stream's end
/// is ours to act on (hang up, or transfer), unlike a TeXML call, whose TeXML goes on by itself.
final class TelnyxCallControlCalls: Sendable {
    private let ids = NIOLockedValueBox<Set<String>>([])

    func insert(_ id: String) { _ = ids.withLockedValue { $0.insert(id) } }
    /// True once for a call that was ours.
    func remove(_ id: String) -> Bool { ids.withLockedValue { $0.remove(id) != nil } }
    var count: Int { ids.withLockedValue { $0.count } }
}

/// Call Control's webhook, `POST /telnyx/call-control` (Ed25519-checked like TeXML's): an
/// incoming `call.initiated` is admitted and answered with the stream in the `answer` command;
/// `call.hangup` ends the live call; `streaming.failed` hangs up a call that would be silent.
/// When the bridge ends a stream, the call is hung up or transferred by REST, as its flow decided.
struct TelnyxCallControlRoutes: Sendable {
    let services: CarrierServices
    let verifier: TelnyxRequestVerifier
    let client: TelnyxCallControlClient
    let calls: TelnyxCallControlCalls

    static let webhookPath = "/telnyx/call-control"

    private var logger: Logger { services.logger }

    func register(on router: Router<BasicRequestContext>) {
        router.post(RouterPath(Self.webhookPath)) { request, _ in try await webhook(request) }
    }

    func webhook(_ request: Request) async throws -> Response {
        let body = try await request.body.collect(upTo: CarrierServices.maxBodyBytes)
        if let failure = verifier.check(request, body: body),
            let refusal = services.refusal(carrier: TelnyxDialect.name, kind: "Call Control webhook", reason: failure)
        {
            return refusal
        }
        let event: TelnyxCallControlEvent
        do {
            event = try TelnyxCallControlEvent.parse(Array(body.readableBytesView))
        } catch {
            logger.warning("Call Control webhook refused", metadata: ["carrier": "telnyx", "reason": "\(error)"])
            return CarrierServices.plain(.badRequest, error.description)
        }
        let id = event.callControlID
        switch event.eventType {
        case "call.initiated" where event.direction == "incoming":
            callInitiated(event)
        case "call.hangup":
            _ = calls.remove(id)
            _ = services.takeTransfer(callID: id)
            services.callStatus(callID: id, status: "completed")
        case "streaming.failed":
            if calls.remove(id) {
                logger.warning("Telnyx could not open the media stream: hanging up", metadata: ["carrier": "telnyx", "callSid": "\(id)"])
                command(.hangup, callID: id, commandID: "hangup-" + event.id)
            }
        default:
            logger.debug("Call Control event", metadata: ["carrier": "telnyx", "callSid": "\(id)", "event": "\(event.eventType)"])
        }
        // Telnyx wants a quick 2xx; the commands go out on their own.
        return Response(status: .ok)
    }

    /// Admits the call and answers it with the stream. The command's id comes from the event's,
    /// so a webhook Telnyx delivers twice answers the call once.
    private func callInitiated(_ event: TelnyxCallControlEvent) {
        let id = event.callControlID
        guard let token = services.admitCall(callID: id, parameters: event.flowParameters) else {
            logger.info("draining: call rejected", metadata: ["carrier": "telnyx", "callSid": "\(id)"])
            command(.reject(cause: "USER_BUSY"), callID: id, commandID: "reject-" + event.id)
            return
        }
        calls.insert(id)
        let format = services.configuration.carrierAudio(TelnyxCarrier.settings)
        let stream = TelnyxStreamRequest(
            url: services.streamURL(prefix: TelnyxCarrier.mediaPrefix, token: token),
            codec: TelnyxDialect.codecName(format.encoding), samplingRate: format.sampleRate)
        logger.info("Call Control call answered", metadata: ["carrier": "telnyx", "callSid": "\(id)"])
        command(.answer(stream), callID: id, commandID: "answer-" + event.id) { outcome in
            if outcome != .done { _ = calls.remove(id) }
        }
    }

    /// The bridge ended the stream: the call goes where its flow sent it, or is hung up.
    func streamEnded(callID id: String) {
        guard calls.remove(id) else { return }
        let commandID = UUID().uuidString.lowercased()
        guard let transfer = services.takeTransfer(callID: id) else {
            command(.hangup, callID: id, commandID: "hangup-" + commandID)
            return
        }
        switch transfer {
        case .dial(let number):
            command(.transfer(to: number), callID: id, commandID: "transfer-" + commandID)
        case .markup:
            logger.warning(
                "a markup transfer needs TeXML; Call Control can only dial a number: hanging up",
                metadata: ["carrier": "telnyx", "callSid": "\(id)"])
            command(.hangup, callID: id, commandID: "hangup-" + commandID)
        }
    }

    private func command(
        _ command: TelnyxCallControlCommand, callID: String, commandID: String,
        then: (@Sendable (TelnyxCallControlClient.Outcome) -> Void)? = nil
    ) {
        let client = client
        let services = services
        Task {
            let outcome = await client.send(command, callControlID: callID, commandID: commandID)
            switch outcome {
            case .done:
                services.logger.debug("Call Control command done", metadata: ["carrier": "telnyx", "callSid": "\(callID)", "action": "\(command.action)"])
            case .callEnded:
                services.logger.info("Call Control command after the call ended", metadata: ["carrier": "telnyx", "callSid": "\(callID)", "action": "\(command.action)"])
            case .failed(let reason):
                services.metrics.recordError(kind: "telnyx_command")
                services.logger.error(
                    "Call Control command failed", metadata: ["carrier": "telnyx", "callSid": "\(callID)", "action": "\(command.action)", "reason": "\(reason)"])
            }
            then?(outcome)
        }
    }
}
