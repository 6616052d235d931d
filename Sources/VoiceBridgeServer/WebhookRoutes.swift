import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import VoiceBridgeCarriers

/// The HTTP surface on Hummingbird: voice webhook, status callback, health and metrics.
///
/// Handlers answer at once and never touch a call directly: a status callback hops onto the
/// call's own loop through `LiveCalls`.
struct WebhookRoutes: Sendable {
    let verifier: TwilioRequestVerifier
    let tokens: StreamTokens
    let parameters: CallParameterStore
    /// Where each call goes once its socket closes, as its flow decided (`redirect`), by CallSid.
    let transfers: CallParameterStore
    let liveCalls: LiveCalls
    let metrics: BridgeMetrics
    let logger: Logger

    /// Twilio's form bodies are a few KiB; anything far larger is not a webhook.
    static let maxBodyBytes = 64 * 1024
    /// Webhook parameters repeated to the stream as `<Parameter>`s (they arrive in
    /// `start.customParameters`).
    static let streamParameters = ["From", "To", "CallSid"]
    /// CallStatus values after which a call is over.
    static let terminalStatuses: Set<String> = ["completed", "busy", "failed", "no-answer", "canceled"]

    static let signatureHeader = HTTPField.Name("X-Twilio-Signature")!
    /// Twilio asks here for the TwiML that follows `<Connect>` once the media socket closes.
    static let connectActionPath = "/connect-action"

    func register(on router: Router<BasicRequestContext>) {
        router.post("/twiml") { request, _ in try await voiceWebhook(request) }
        // Twilio can be set to GET webhooks: parameters in the query, which the signature covers.
        router.get("/twiml") { request, _ in try await voiceWebhook(request) }
        router.post("/status") { request, _ in try await statusCallback(request) }
        router.post(RouterPath(Self.connectActionPath)) { request, _ in try await connectAction(request) }
        router.get("/healthz") { _, _ in health() }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: metrics.render(activeCallCount: liveCalls.count, placement: liveCalls.placement)))
            )
        }
        // Reaching the router means no upgrade happened: a plain GET on a media URL.
        router.get("/media/:token") { _, _ in
            plain(.badRequest, "media streams need a WebSocket upgrade")
        }
    }

    /// Reads and signature-checks a form-encoded Twilio request; nil with the response to send
    /// when it must be refused.
    private enum SignedForm {
        case accepted([(String, String)])
        case refused(Response)
    }

    private func signedForm(_ request: Request, kind: String) async throws -> SignedForm {
        let form: [(String, String)]
        let signed: [(String, String)]
        if request.method == .get {
            // GET: the parameters are in the (signed) URL; nothing is appended to it.
            form = FormURLEncoded.parse(request.uri.query ?? "")
            signed = []
        } else {
            let body = try await request.body.collect(upTo: Self.maxBodyBytes)
            form = FormURLEncoded.parse(String(buffer: body))
            signed = form
        }
        let header = request.headers[Self.signatureHeader]
        guard verifier.verifyWebhook(path: request.uri.path, query: request.uri.query, header: header, parameters: signed) else {
            metrics.recordRefusedSignature()
            logger.warning(
                "\(kind) refused: X-Twilio-Signature does not verify",
                metadata: ["path": "\(request.uri.path)", "signature": "\(header == nil ? "missing" : "present")"]
            )
            return .refused(plain(.forbidden, "invalid signature"))
        }
        return .accepted(form)
    }

    func voiceWebhook(_ request: Request) async throws -> Response {
        let form: [(String, String)]
        switch try await signedForm(request, kind: "voice webhook") {
        case .refused(let refusal): return refusal
        case .accepted(let parsed): form = parsed
        }
        if liveCalls.isDraining {
            return plain(.serviceUnavailable, "server is shutting down")
        }
        var values: [String: String] = [:]
        for (name, value) in form where values[name] == nil { values[name] = value }
        guard let callSid = values["CallSid"], !callSid.isEmpty else {
            return plain(.badRequest, "CallSid missing")
        }
        parameters.remember(callSid: callSid, parameters: values)
        let token = tokens.mint(callSid: callSid)
        let twiml = ConnectStreamTwiML(
            url: verifier.publicURL.streamURL(token: token),
            parameters: Self.streamParameters.compactMap { name in values[name].map { (name: name, value: $0) } },
            connectAction: verifier.publicURL.webhookURL(path: Self.connectActionPath)
        )
        metrics.recordWebhook()
        logger.info("voice webhook answered", metadata: ["callSid": "\(callSid)"])
        return Response(
            status: .ok,
            headers: [.contentType: "text/xml; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: twiml.render()))
        )
    }

    /// The TwiML after the stream: the flow's transfer (`<Dial>`, or its own TwiML), else a
    /// hang-up, since the call has nothing left to do.
    func connectAction(_ request: Request) async throws -> Response {
        let form: [(String, String)]
        switch try await signedForm(request, kind: "connect action") {
        case .refused(let refusal): return refusal
        case .accepted(let parsed): form = parsed
        }
        let callSid = form.first { $0.0 == "CallSid" }?.1 ?? ""
        let transfer = callSid.isEmpty ? nil : transfers.take(callSid: callSid)
        let body: String
        if let number = transfer?["dial"] {
            body = #"<?xml version="1.0" encoding="UTF-8"?><Response>"#
                + TwiMLVerb.dial(TwiMLDial(target: number)).render() + "</Response>"
        } else if let twiml = transfer?["twiml"] {
            body = twiml.contains("<Response") ? twiml : #"<?xml version="1.0" encoding="UTF-8"?><Response>"# + twiml + "</Response>"
        } else {
            body = #"<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>"#
        }
        logger.info("connect action answered", metadata: ["callSid": "\(callSid)", "transfer": "\(transfer?["dial"] != nil ? "dial" : transfer?["twiml"] != nil ? "twiml" : "none")"])
        return Response(
            status: .ok,
            headers: [.contentType: "text/xml; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: body))
        )
    }

    func statusCallback(_ request: Request) async throws -> Response {
        let form: [(String, String)]
        switch try await signedForm(request, kind: "status callback") {
        case .refused(let refusal): return refusal
        case .accepted(let parsed): form = parsed
        }
        let callSid = form.first { $0.0 == "CallSid" }?.1 ?? ""
        let status = form.first { $0.0 == "CallStatus" }?.1 ?? ""
        if Self.terminalStatuses.contains(status), !callSid.isEmpty {
            _ = parameters.take(callSid: callSid)
            let live = liveCalls.endCall(callSid: callSid, status: status)
            logger.info(
                "status callback",
                metadata: ["callSid": "\(callSid)", "status": "\(status)", "liveCall": "\(live)"]
            )
        }
        return Response(status: .noContent)
    }

    func health() -> Response {
        let draining = liveCalls.isDraining
        let json = #"{"status":"\#(draining ? "draining" : "ok")","activeCalls":\#(liveCalls.count)}"#
        return Response(
            status: draining ? .serviceUnavailable : .ok,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: json))
        )
    }

    private func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(
            status: status,
            headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: text + "\n"))
        )
    }
}
