import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import VoiceBridgeCalls
import VoiceBridgeCarriers

/// Vonage's Voice API: the answer webhook (GET with a query, or POST JSON) answers an NCCO that
/// connects the call to `/vonage/media/{token}`; the event webhook ends calls on their terminal
/// status and, when the socket leg disconnects, answers with the flow's transfer as the call's
/// next NCCO. With `VONAGE_SIGNATURE_SECRET` every webhook, and the socket's upgrade, must carry
/// a valid HS256 JWT.
///
/// Point the application's answer URL at `https://<public>/vonage/answer` and its event URL at
/// `https://<public>/vonage/events`.
enum VonageCarrier {
    static let settings = CarrierSettingsSpec(
        section: "vonage", keys: ["signature_secret"], secrets: ["signature_secret"],
        environment: [(name: "VONAGE_SIGNATURE_SECRET", key: "signature_secret")],
        audioFormats: VonageDialect.rules.supportedFormats)
    static let registration = CarrierRegistration(settings: settings, surface: surface)

    static let mediaPrefix = "/vonage/media/"
    static let answerPath = "/vonage/answer"
    static let eventsPath = "/vonage/events"

    static func surface(_ services: CarrierServices) -> CarrierSurface {
        let verifier = VonageRequestVerifier(secret: services.configuration.carrierSetting("vonage", "signature_secret"))
        let routes = VonageHTTPRoutes(services: services, verifier: verifier)
        return CarrierSurface(
            dialect: VonageDialect.self, mediaPrefix: mediaPrefix, mediaFormat: services.configuration.carrierAudio(settings),
            checkUpgrade: { _, headers in
                if let failure = verifier.check(authorization: headers.first(name: VonageSignature.header), body: nil) {
                    return .badSignature("Vonage's upgrade: \(failure)")
                }
                return .accepted
            },
            registerRoutes: { routes.register(on: $0) })
    }

    /// Vonage's call statuses that end a call, as the shared (Twilio) names.
    static func terminalStatus(_ status: String) -> String? {
        switch status {
        case "completed": "completed"
        case "busy", "rejected": "busy"
        case "failed": "failed"
        case "timeout", "unanswered": "no-answer"
        case "cancelled": "canceled"
        default: nil
        }
    }
}

/// HS256 JWT checks; without a secret every request passes (local use).
struct VonageRequestVerifier: Sendable {
    let signature: VonageSignature?
    let now: @Sendable () -> Int64

    init(secret: String?, now: @escaping @Sendable () -> Int64 = StreamTokens.unixNow) {
        signature = secret.map { VonageSignature(secret: $0) }
        self.now = now
    }

    func check(authorization: String?, body: [UInt8]?) -> VonageSignature.Failure? {
        signature?.check(authorization: authorization, body: body, now: now())
    }
}

struct VonageHTTPRoutes: Sendable {
    let services: CarrierServices
    let verifier: VonageRequestVerifier

    private var logger: Logger { services.logger }

    func register(on router: Router<BasicRequestContext>) {
        router.get(RouterPath(VonageCarrier.answerPath)) { request, _ in try await answer(request) }
        router.post(RouterPath(VonageCarrier.answerPath)) { request, _ in try await answer(request) }
        router.post(RouterPath(VonageCarrier.eventsPath)) { request, _ in try await event(request) }
        router.get("/vonage/media/:token") { _, _ in
            CarrierServices.plain(.badRequest, "media streams need a WebSocket upgrade")
        }
    }

    /// A webhook's fields (the query of a GET, the JSON object of a POST), its JWT checked.
    private func signedFields(_ request: Request, kind: String) async throws -> SignedWebhook<[String: String]> {
        let body = try await request.body.collect(upTo: CarrierServices.maxBodyBytes)
        let bytes = Array(body.readableBytesView)
        if let failure = verifier.check(authorization: request.headers[.authorization], body: bytes),
            let refusal = services.refusal(carrier: VonageDialect.name, kind: kind, reason: "\(failure)")
        {
            return .refused(refusal)
        }
        if request.method == .get {
            return .accepted(CarrierServices.fields(FormURLEncoded.parse(request.uri.query ?? "")))
        }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else {
            return .refused(CarrierServices.plain(.badRequest, "\(kind): the body is not a JSON object"))
        }
        var fields: [String: String] = [:]
        for (key, value) in object {
            switch value {
            case let text as String: fields[key] = text
            case let number as NSNumber: fields[key] = number.stringValue
            default: break
            }
        }
        return .accepted(fields)
    }

    func answer(_ request: Request) async throws -> Response {
        let values: [String: String]
        switch try await signedFields(request, kind: "answer webhook") {
        case .refused(let refusal): return refusal
        case .accepted(let parsed): values = parsed
        }
        // The conversation names the call: every leg's events carry it, the socket's included.
        guard let conversation = values["conversation_uuid"], !conversation.isEmpty else {
            return CarrierServices.plain(.badRequest, "conversation_uuid missing")
        }
        var parameters = values
        // Flows read Twilio's names; Vonage writes E.164 without the "+".
        if let from = values["from"] { parameters["From"] = Self.e164(from) }
        if let to = values["to"] { parameters["To"] = Self.e164(to) }
        guard let token = services.admitCall(callID: conversation, parameters: parameters) else {
            return CarrierServices.plain(.serviceUnavailable, "server is shutting down")
        }
        let publicURL = services.publicURL.value
        let ncco = VonageConnectWebSocket(
            uri: publicURL.streamURL(prefix: VonageCarrier.mediaPrefix, token: token),
            contentType: VonageDialect.contentType(services.configuration.carrierAudio(VonageCarrier.settings)),
            eventURL: publicURL.webhookURL(path: VonageCarrier.eventsPath),
            headers: [(VonageDialect.callHeader, conversation)],
            signedUpgrade: verifier.signature != nil)
        logger.info("answer webhook answered", metadata: ["carrier": "vonage", "callSid": "\(conversation)"])
        return Self.json(ncco.render())
    }

    /// A call's events: a terminal status ends it; the socket leg's `disconnected` is answered
    /// with the flow's transfer (the NCCO Vonage runs next), or nothing, and the call ends.
    func event(_ request: Request) async throws -> Response {
        let values: [String: String]
        switch try await signedFields(request, kind: "event webhook") {
        case .refused(let refusal): return refusal
        case .accepted(let parsed): values = parsed
        }
        let conversation = values["conversation_uuid"] ?? ""
        let status = values["status"] ?? ""
        if status == "disconnected" {
            guard let transfer = services.takeTransfer(callID: conversation) else { return Response(status: .noContent) }
            logger.info("socket leg ended", metadata: ["carrier": "vonage", "callSid": "\(conversation)", "transfer": "\(transfer.kind)"])
            switch transfer {
            case .dial(let number): return Self.json(VonageConnectWebSocket.transfer(dialing: number))
            case .markup(let ncco): return Self.json(ncco)
            }
        }
        if let terminal = VonageCarrier.terminalStatus(status) {
            services.callStatus(callID: conversation, status: terminal)
        }
        return Response(status: .noContent)
    }

    static func e164(_ number: String) -> String {
        !number.isEmpty && number.allSatisfy(\.isNumber) ? "+" + number : number
    }

    static func json(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
