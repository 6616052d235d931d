import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import VoiceBridgeCalls
import VoiceBridgeCarriers

/// Plivo through an XML application: the answer URL returns `<Stream bidirectional
/// keepCallAlive>` XML, media sockets connect at `/plivo/media/{token}` (Plivo signs the upgrade
/// too, checked as a GET of the stream URL), a `<Redirect>` after the stream asks for what follows
/// (a flow's transfer), and the hangup URL ends calls. Every request is checked with
/// `X-Plivo-Signature-V3` when `plivo.auth_token` is set.
///
/// Point the application's answer URL at `https://<public>/plivo/answer` and its hangup URL at
/// `https://<public>/plivo/hangup` (both POST).
enum PlivoCarrier {
    static let settings = CarrierSettingsSpec(
        section: "plivo", keys: ["auth_id", "auth_token"], secrets: ["auth_token"],
        environment: [(name: "PLIVO_AUTH_ID", key: "auth_id"), (name: "PLIVO_AUTH_TOKEN", key: "auth_token")],
        audioFormats: PlivoDialect.rules.supportedFormats)
    static let registration = CarrierRegistration(settings: settings, surface: surface)

    static let mediaPrefix = "/plivo/media/"
    static let answerPath = "/plivo/answer"
    static let hangupPath = "/plivo/hangup"
    static let streamStatusPath = "/plivo/stream-status"
    static let afterStreamPath = "/plivo/after-stream"

    static func surface(_ services: CarrierServices) -> CarrierSurface {
        let verifier = PlivoRequestVerifier(
            authToken: services.configuration.carrierSetting("plivo", "auth_token"), publicURL: services.publicURL)
        let routes = PlivoHTTPRoutes(services: services, verifier: verifier)
        return CarrierSurface(
            dialect: PlivoDialect.self,
            mediaPrefix: mediaPrefix,
            mediaFormat: services.configuration.carrierAudio(settings),
            expectedAccountID: services.configuration.carrierSetting("plivo", "auth_id"),
            checkUpgrade: { token, headers in
                verifier.verifyUpgrade(
                    token: token, header: headers.first(name: PlivoSignature.signatureHeader),
                    nonce: headers.first(name: PlivoSignature.nonceHeader))
                    ? .accepted : .badSignature("\(PlivoSignature.signatureHeader) on the upgrade does not verify")
            },
            registerRoutes: { routes.register(on: $0) })
    }
}

/// Checks `X-Plivo-Signature-V3` against URLs built from the configured public URL (never the
/// Host header). Without an auth token every request passes: local use.
struct PlivoRequestVerifier: Sendable {
    let signature: PlivoSignature?
    private let publicURLCell: PublicURLCell

    init(authToken: String?, publicURL: PublicURLCell) {
        signature = authToken.map { PlivoSignature(authToken: $0) }
        publicURLCell = publicURL
    }

    var publicURL: PublicURL { publicURLCell.value }

    func verifyWebhook(
        method: PlivoSignature.Method, path: String, query: String?, header: String?, nonce: String?, parameters: [(String, String)]
    ) -> Bool {
        guard let signature else { return true }
        guard let header, let nonce else { return false }
        let url = publicURL.webhookURL(path: path, query: query)
        return signature.isValid(header: header, nonce: nonce, method: method, url: url, parameters: parameters)
    }

    /// The upgrade is signed as a GET of the stream URL; whether Plivo signs its `wss://` or its
    /// `https://` spelling is unverified (carriers.md §2.4), so both are tried.
    func verifyUpgrade(token: String, header: String?, nonce: String?) -> Bool {
        guard let signature else { return true }
        guard let header, let nonce else { return false }
        let publicURL = self.publicURL
        var valid = false
        for url in [publicURL.streamURL(prefix: PlivoCarrier.mediaPrefix, token: token), publicURL.webhookURL(path: PlivoCarrier.mediaPrefix + token)] {
            valid = signature.isValid(header: header, nonce: nonce, method: .get, url: url, parameters: []) || valid
        }
        return valid
    }
}

struct PlivoHTTPRoutes: Sendable {
    let services: CarrierServices
    let verifier: PlivoRequestVerifier

    private var logger: Logger { services.logger }

    func register(on router: Router<BasicRequestContext>) {
        router.post(RouterPath(PlivoCarrier.answerPath)) { request, _ in try await answer(request) }
        router.get(RouterPath(PlivoCarrier.answerPath)) { request, _ in try await answer(request) }
        router.post(RouterPath(PlivoCarrier.hangupPath)) { request, _ in try await hangup(request) }
        router.post(RouterPath(PlivoCarrier.streamStatusPath)) { request, _ in try await streamStatus(request) }
        router.post(RouterPath(PlivoCarrier.afterStreamPath)) { request, _ in try await afterStream(request) }
        router.get(RouterPath(PlivoCarrier.mediaPrefix + ":token")) { _, _ in
            CarrierServices.plain(.badRequest, "media streams need a WebSocket upgrade")
        }
    }

    /// Reads a Plivo request's parameters (form body, or query for GET), signature-checked.
    private func signedForm(_ request: Request, kind: String) async throws -> SignedWebhook<[String: String]> {
        let form: [(String, String)]
        let method: PlivoSignature.Method
        if request.method == .get {
            form = FormURLEncoded.parse(request.uri.query ?? "")
            method = .get
        } else {
            let body = try await request.body.collect(upTo: CarrierServices.maxBodyBytes)
            form = FormURLEncoded.parse(String(buffer: body))
            method = .post
        }
        let valid = verifier.verifyWebhook(
            method: method, path: request.uri.path, query: request.uri.query,
            header: request.headers[HTTPField.Name(PlivoSignature.signatureHeader)!],
            nonce: request.headers[HTTPField.Name(PlivoSignature.nonceHeader)!],
            parameters: method == .get ? [] : form)
        if !valid,
            let refusal = services.refusal(carrier: PlivoDialect.name, kind: kind, reason: "\(PlivoSignature.signatureHeader) does not verify")
        {
            return .refused(refusal)
        }
        return .accepted(CarrierServices.fields(form))
    }

    func answer(_ request: Request) async throws -> Response {
        let values: [String: String]
        switch try await signedForm(request, kind: "answer webhook") {
        case .refused(let refusal): return refusal
        case .accepted(let parsed): values = parsed
        }
        guard let callUUID = values["CallUUID"], !callUUID.isEmpty else {
            return CarrierServices.plain(.badRequest, "CallUUID missing")
        }
        guard let token = services.admitCall(callID: callUUID, parameters: values) else {
            return CarrierServices.plain(.serviceUnavailable, "server is shutting down")
        }
        let publicURL = services.publicURL.value
        let xml = PlivoStreamXML(
            url: publicURL.streamURL(prefix: PlivoCarrier.mediaPrefix, token: token),
            contentType: PlivoDialect.contentType(services.configuration.carrierAudio(PlivoCarrier.settings)),
            statusCallback: publicURL.webhookURL(path: PlivoCarrier.streamStatusPath),
            afterStream: publicURL.webhookURL(path: PlivoCarrier.afterStreamPath))
        logger.info("answer webhook answered", metadata: ["carrier": "plivo", "callSid": "\(callUUID)"])
        return CarrierServices.xml(xml.render())
    }

    func afterStream(_ request: Request) async throws -> Response {
        let values: [String: String]
        switch try await signedForm(request, kind: "redirect") {
        case .refused(let refusal): return refusal
        case .accepted(let parsed): values = parsed
        }
        let callUUID = values["CallUUID"] ?? ""
        let transfer = services.takeTransfer(callID: callUUID)
        logger.info("after-stream answered", metadata: ["carrier": "plivo", "callSid": "\(callUUID)", "transfer": "\(transfer?.kind ?? "none")"])
        switch transfer {
        case let .dial(number)?: return CarrierServices.xml(PlivoStreamXML.document(dial: number, markup: nil))
        case let .markup(markup)?: return CarrierServices.xml(PlivoStreamXML.document(dial: nil, markup: markup))
        case nil: return CarrierServices.xml(PlivoStreamXML.document(dial: nil, markup: nil))
        }
    }

    /// Plivo's hangup URL: the call is over (`CallStatus` completed, busy, …).
    func hangup(_ request: Request) async throws -> Response {
        let values: [String: String]
        switch try await signedForm(request, kind: "hangup callback") {
        case .refused(let refusal): return refusal
        case .accepted(let parsed): values = parsed
        }
        services.callStatus(callID: values["CallUUID"] ?? "", status: values["CallStatus"] ?? "completed")
        return Response(status: .noContent)
    }

    /// The stream's own status callback (`Event` StartStream/StopStream/DroppedStream in one page,
    /// `started`/`stopped`/`failed` in another): logged, nothing to do.
    func streamStatus(_ request: Request) async throws -> Response {
        let values: [String: String]
        switch try await signedForm(request, kind: "stream status callback") {
        case .refused(let refusal): return refusal
        case .accepted(let parsed): values = parsed
        }
        logger.info(
            "stream status",
            metadata: ["carrier": "plivo", "callSid": "\(values["CallUUID"] ?? "")", "event": "\(values["Event"] ?? values["Status"] ?? "")"])
        return Response(status: .noContent)
    }
}
