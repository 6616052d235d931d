import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import VoiceBridgeCalls
import VoiceBridgeCarriers

/// Twilio: the voice webhook answers `<Connect><Stream>` TwiML, media sockets connect at
/// `/media/{token}` with `X-Twilio-Signature` on the upgrade, status callbacks end calls, and
/// `<Connect action>` asks for what follows the stream (a flow's transfer).
enum TwilioCarrier {
    static let registration = CarrierRegistration(settings: nil, surface: surface)

    /// Twilio's own paths (they predate the other carriers and keep their place).
    static let profile = TwilioStyleProfile(
        carrier: TwilioDialect.name, answerPath: "/twiml", statusPath: "/status", connectActionPath: "/connect-action",
        mediaPrefix: MediaRoute.prefix, signatureHeaders: [HTTPField.Name("X-Twilio-Signature")!])

    static func surface(_ services: CarrierServices) -> CarrierSurface {
        let verifier = TwilioRequestVerifier(authToken: services.configuration.twilioAuthToken, publicURL: services.publicURL)
        let routes = TwilioHTTPRoutes(services: services, verifier: verifier, profile: profile)
        return CarrierSurface(
            dialect: TwilioDialect.self,
            mediaPrefix: MediaRoute.prefix,
            expectedAccountID: services.configuration.twilioAccountSid,
            checkUpgrade: { token, headers in
                verifier.verifyUpgrade(token: token, header: headers.first(name: "X-Twilio-Signature"))
                    ? .accepted : .badSignature("X-Twilio-Signature on the upgrade does not verify")
            },
            registerRoutes: { routes.register(on: $0) }
        )
    }
}

/// Where a carrier that keeps Twilio's HTTP conventions (form webhooks signed with HMAC-SHA1 over
/// the URL and sorted parameters, `<Connect action>`) answers: Twilio itself, and SignalWire's cXML.
struct TwilioStyleProfile: Sendable {
    let carrier: String
    let answerPath: String
    let statusPath: String
    let connectActionPath: String
    let mediaPrefix: String
    /// The signature headers accepted, first found wins.
    let signatureHeaders: [HTTPField.Name]
}

/// Checks `X-Twilio-Signature` against URLs built from the configured public URL (never the Host
/// header). Without an auth token every request passes: local use, logged once at startup.
struct TwilioRequestVerifier: Sendable {
    let signature: TwilioSignature?
    private let publicURLCell: PublicURLCell

    private let mediaPrefix: String

    init(authToken: String?, publicURL: PublicURLCell, mediaPrefix: String = MediaRoute.prefix) {
        self.signature = authToken.map { TwilioSignature(authToken: $0) }
        self.publicURLCell = publicURL
        self.mediaPrefix = mediaPrefix
    }

    var publicURL: PublicURL { publicURLCell.value }

    var isEnabled: Bool { signature != nil }

    /// A form-encoded webhook: the URL as requested (path and query) plus every form parameter.
    func verifyWebhook(path: String, query: String?, header: String?, parameters: [(String, String)]) -> Bool {
        guard let signature else { return true }
        guard let header, !header.isEmpty else { return false }
        let url = publicURL.webhookURL(path: path, query: query)
        return signature.isValid(signature: header, url: url, parameters: parameters)
    }

    /// The media socket's upgrade: Twilio signs the stream URL it was given (`wss://…/media/TOKEN`)
    /// with no parameters. The `https://` spelling is accepted too, since proxies and Twilio's
    /// own tooling have been seen to disagree on it.
    func verifyUpgrade(token: String, header: String?) -> Bool {
        guard let signature else { return true }
        guard let header, !header.isEmpty else { return false }
        let publicURL = self.publicURL
        let streamURL = publicURL.streamURL(prefix: mediaPrefix, token: token)
        let httpSpelling = publicURL.webhookURL(path: mediaPrefix + token)
        var valid = false
        for url in [streamURL, httpSpelling] {
            // Non-short-circuiting so the time spent does not depend on which spelling matched.
            valid = signature.isValid(signature: header, url: url, parameters: []) || valid
        }
        return valid
    }
}

/// Twilio's webhooks on Hummingbird: voice webhook, status callback, connect action. Handlers
/// answer at once and never touch a call directly: a status callback hops onto the call's own
/// loop through `LiveCalls`.
struct TwilioHTTPRoutes: Sendable {
    let services: CarrierServices
    let verifier: TwilioRequestVerifier
    let profile: TwilioStyleProfile

    /// Webhook parameters repeated to the stream as `<Parameter>`s (they arrive in
    /// `start.customParameters`).
    static let streamParameters = ["From", "To", "CallSid"]


    private var logger: Logger { services.logger }

    func register(on router: Router<BasicRequestContext>) {
        router.post(RouterPath(profile.answerPath)) { request, _ in try await voiceWebhook(request) }
        // Twilio can be set to GET webhooks: parameters in the query, which the signature covers.
        router.get(RouterPath(profile.answerPath)) { request, _ in try await voiceWebhook(request) }
        router.post(RouterPath(profile.statusPath)) { request, _ in try await statusCallback(request) }
        // Twilio asks here for the TwiML that follows `<Connect>` once the media socket closes.
        router.post(RouterPath(profile.connectActionPath)) { request, _ in try await connectAction(request) }
        // Reaching the router means no upgrade happened: a plain GET on a media URL.
        router.get(RouterPath(profile.mediaPrefix + ":token")) { _, _ in
            CarrierServices.plain(.badRequest, "media streams need a WebSocket upgrade")
        }
    }

    /// Reads and signature-checks a form-encoded Twilio request.
    private func signedForm(_ request: Request, kind: String) async throws -> SignedWebhook<[(String, String)]> {
        let form: [(String, String)]
        let signed: [(String, String)]
        if request.method == .get {
            // GET: the parameters are in the (signed) URL; nothing is appended to it.
            form = FormURLEncoded.parse(request.uri.query ?? "")
            signed = []
        } else {
            let body = try await request.body.collect(upTo: CarrierServices.maxBodyBytes)
            form = FormURLEncoded.parse(String(buffer: body))
            signed = form
        }
        let header = profile.signatureHeaders.lazy.compactMap { request.headers[$0] }.first
        guard verifier.verifyWebhook(path: request.uri.path, query: request.uri.query, header: header, parameters: signed) else {
            services.metrics.recordRefusedSignature()
            logger.warning(
                "\(kind) refused: \(profile.signatureHeaders[0]) does not verify",
                metadata: ["carrier": "\(profile.carrier)", "path": "\(request.uri.path)", "signature": "\(header == nil ? "missing" : "present")"]
            )
            return .refused(CarrierServices.plain(.forbidden, "invalid signature"))
        }
        return .accepted(form)
    }

    func voiceWebhook(_ request: Request) async throws -> Response {
        let values: [String: String]
        switch try await signedForm(request, kind: "voice webhook") {
        case .refused(let refusal): return refusal
        case .accepted(let parsed): values = CarrierServices.fields(parsed)
        }
        guard let callSid = values["CallSid"], !callSid.isEmpty else {
            return CarrierServices.plain(.badRequest, "CallSid missing")
        }
        guard let token = services.admitCall(callID: callSid, parameters: values) else {
            return CarrierServices.plain(.serviceUnavailable, "server is shutting down")
        }
        let twiml = ConnectStreamTwiML(
            url: verifier.publicURL.streamURL(prefix: profile.mediaPrefix, token: token),
            parameters: Self.streamParameters.compactMap { name in values[name].map { (name: name, value: $0) } },
            connectAction: verifier.publicURL.webhookURL(path: profile.connectActionPath)
        )
        logger.info("voice webhook answered", metadata: profile.carrier == TwilioDialect.name ? ["callSid": "\(callSid)"] : ["callSid": "\(callSid)", "carrier": "\(profile.carrier)"])
        return CarrierServices.xml(twiml.render())
    }

    /// The TwiML after the stream: the flow's transfer (`<Dial>`, or its own TwiML), else a
    /// hang-up, since the call has nothing left to do.
    func connectAction(_ request: Request) async throws -> Response {
        let form: [(String, String)]
        switch try await signedForm(request, kind: "connect action") {
        case .refused(let refusal): return refusal
        case .accepted(let parsed): form = parsed
        }
        let callSid = CarrierServices.fields(form)["CallSid"] ?? ""
        let transfer = services.takeTransfer(callID: callSid)
        logger.info("connect action answered", metadata: ["callSid": "\(callSid)", "transfer": "\(transfer?.kind ?? "none")"])
        return CarrierServices.xml(TwiMLVerb.document(after: transfer))
    }

    func statusCallback(_ request: Request) async throws -> Response {
        let form: [(String, String)]
        switch try await signedForm(request, kind: "status callback") {
        case .refused(let refusal): return refusal
        case .accepted(let parsed): form = parsed
        }
        let values = CarrierServices.fields(form)
        services.callStatus(callID: values["CallSid"] ?? "", status: values["CallStatus"] ?? "")
        return Response(status: .noContent)
    }
}

extension CallTransfer {
    /// For logs: `dial` or `markup`.
    var kind: String {
        switch self {
        case .dial: "dial"
        case .markup: "markup"
        }
    }
}

extension TwiMLVerb {
    /// The document that follows a stream (TwiML, which TeXML also reads): the transfer's
    /// `<Dial>`, its own markup, or a hang-up.
    static func document(after transfer: CallTransfer?) -> String {
        let head = #"<?xml version="1.0" encoding="UTF-8"?><Response>"#
        switch transfer {
        case let .dial(number)?:
            return head + TwiMLVerb.dial(TwiMLDial(target: number)).render() + "</Response>"
        case let .markup(markup)?:
            return markup.contains("<Response") ? markup : head + markup + "</Response>"
        case nil:
            return head + "<Hangup/></Response>"
        }
    }
}
