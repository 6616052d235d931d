import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import VoiceBridgeCalls
import VoiceBridgeCarriers

/// Telnyx, through a TeXML application or through Call Control.
///
/// TeXML: the voice webhook answers `<Connect><Stream
/// bidirectionalMode="rtp">` TeXML, media sockets connect at `/telnyx/media/{token}` (Telnyx signs
/// no upgrade: the one-time token is the credential), a `<Redirect>` after the stream asks for
/// what follows (a flow's transfer), and status callbacks end calls. Webhooks are checked with
/// Ed25519 when `telnyx.public_key` is set.
///
/// Point the TeXML application's voice URL at `https://<public>/telnyx/texml` and its status
/// callback at `https://<public>/telnyx/status`.
///
/// Call Control (`TelnyxCallControlRoutes`): point the Call Control application's webhook at
/// `https://<public>/telnyx/call-control` and set `telnyx.api_key`; calls are answered with the
/// stream, and hung up or transferred by REST when their flow ends.
enum TelnyxCarrier {
    static let settings = CarrierSettingsSpec(
        section: "telnyx", keys: ["public_key", "api_key", "api_url"], secrets: ["api_key"],
        environment: [
            (name: "TELNYX_PUBLIC_KEY", key: "public_key"), (name: "TELNYX_API_KEY", key: "api_key"),
            (name: "TELNYX_API_URL", key: "api_url"),
        ],
        audioFormats: TelnyxDialect.rules.supportedFormats)
    static let registration = CarrierRegistration(settings: settings, surface: surface)

    static let mediaPrefix = "/telnyx/media/"
    static let answerPath = "/telnyx/texml"
    static let statusPath = "/telnyx/status"
    static let afterStreamPath = "/telnyx/after-stream"

    static func surface(_ services: CarrierServices) -> CarrierSurface {
        let verifier = TelnyxRequestVerifier(services: services)
        let routes = TelnyxHTTPRoutes(services: services, verifier: verifier)
        let configuration = services.configuration
        let callControl = TelnyxCallControlRoutes(
            services: services, verifier: verifier,
            client: TelnyxCallControlClient(
                baseURL: String((configuration.carrierSetting("telnyx", "api_url") ?? TelnyxCallControlClient.defaultBaseURL).reversed().drop { $0 == "/" }.reversed()),
                apiKey: configuration.carrierSetting("telnyx", "api_key")),
            calls: TelnyxCallControlCalls())
        return CarrierSurface(
            dialect: TelnyxDialect.self, mediaPrefix: mediaPrefix, mediaFormat: configuration.carrierAudio(settings),
            streamEnded: { callControl.streamEnded(callID: $0) },
            registerRoutes: { router in
                routes.register(on: router)
                callControl.register(on: router)
            })
    }
}

/// Ed25519 checks on Telnyx webhooks; without a public key every request passes (local use).
struct TelnyxRequestVerifier: Sendable {
    let signature: TelnyxSignature?
    let invalidKey: Bool
    let now: @Sendable () -> Int64

    init(services: CarrierServices, now: @escaping @Sendable () -> Int64 = StreamTokens.unixNow) {
        let key = services.configuration.carrierSetting("telnyx", "public_key")
        signature = key.flatMap { TelnyxSignature(publicKeyBase64: $0) }
        invalidKey = key != nil && signature == nil
        self.now = now
    }

    /// Nil when the request may go on; else why not.
    func check(_ request: Request, body: ByteBuffer) -> String? {
        if invalidKey { return "telnyx.public_key is not a base64 Ed25519 public key" }
        guard let signature else { return nil }
        let failure = signature.check(
            signature: request.headers[HTTPField.Name(TelnyxSignature.signatureHeader)!],
            timestamp: request.headers[HTTPField.Name(TelnyxSignature.timestampHeader)!],
            body: Array(body.readableBytesView), now: now())
        return failure?.description
    }
}

struct TelnyxHTTPRoutes: Sendable {
    let services: CarrierServices
    let verifier: TelnyxRequestVerifier

    private var logger: Logger { services.logger }

    func register(on router: Router<BasicRequestContext>) {
        router.post(RouterPath(TelnyxCarrier.answerPath)) { request, _ in try await answer(request) }
        router.post(RouterPath(TelnyxCarrier.statusPath)) { request, _ in try await status(request) }
        router.post(RouterPath(TelnyxCarrier.afterStreamPath)) { request, _ in try await afterStream(request) }
        router.get("/telnyx/media/:token") { _, _ in
            CarrierServices.plain(.badRequest, "media streams need a WebSocket upgrade")
        }
    }

    /// Reads a TeXML webhook's form, signature-checked over its raw body.
    private func signedForm(_ request: Request, kind: String) async throws -> SignedWebhook<[String: String]> {
        let body = try await request.body.collect(upTo: CarrierServices.maxBodyBytes)
        if let failure = verifier.check(request, body: body),
            let refusal = services.refusal(carrier: TelnyxDialect.name, kind: kind, reason: failure)
        {
            return .refused(refusal)
        }
        return .accepted(CarrierServices.fields(FormURLEncoded.parse(String(buffer: body))))
    }

    func answer(_ request: Request) async throws -> Response {
        let values: [String: String]
        switch try await signedForm(request, kind: "TeXML voice webhook") {
        case .refused(let refusal): return refusal
        case .accepted(let parsed): values = parsed
        }
        guard let callSid = values["CallSid"], !callSid.isEmpty else {
            return CarrierServices.plain(.badRequest, "CallSid missing")
        }
        guard let token = services.admitCall(callID: callSid, parameters: values) else {
            return CarrierServices.plain(.serviceUnavailable, "server is shutting down")
        }
        let publicURL = services.publicURL.value
        let format = services.configuration.carrierAudio(TelnyxCarrier.settings)
        let texml = TelnyxConnectStream(
            url: publicURL.streamURL(prefix: TelnyxCarrier.mediaPrefix, token: token),
            codec: TelnyxDialect.codecName(format.encoding), samplingRate: format.sampleRate,
            afterStream: publicURL.webhookURL(path: TelnyxCarrier.afterStreamPath))
        logger.info("voice webhook answered", metadata: ["carrier": "telnyx", "callSid": "\(callSid)"])
        return CarrierServices.xml(texml.render())
    }

    func afterStream(_ request: Request) async throws -> Response {
        let values: [String: String]
        switch try await signedForm(request, kind: "TeXML redirect") {
        case .refused(let refusal): return refusal
        case .accepted(let parsed): values = parsed
        }
        let callSid = values["CallSid"] ?? ""
        let transfer = services.takeTransfer(callID: callSid)
        logger.info("after-stream answered", metadata: ["carrier": "telnyx", "callSid": "\(callSid)", "transfer": "\(transfer?.kind ?? "none")"])
        return CarrierServices.xml(TwiMLVerb.document(after: transfer))
    }

    func status(_ request: Request) async throws -> Response {
        let values: [String: String]
        switch try await signedForm(request, kind: "TeXML status callback") {
        case .refused(let refusal): return refusal
        case .accepted(let parsed): values = parsed
        }
        services.callStatus(callID: values["CallSid"] ?? "", status: values["CallStatus"] ?? "")
        return Response(status: .noContent)
    }
}
