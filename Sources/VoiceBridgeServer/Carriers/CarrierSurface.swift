import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import VoiceBridgeCalls
import VoiceBridgeCarriers

/// The configured public URL, shared by every carrier's surface. When none was configured it is
/// the local one, and its port is only known once the server listens (port 0 picks one).
final class PublicURLCell: Sendable {
    private let box: NIOLockedValueBox<PublicURL>
    init(_ url: PublicURL) { box = NIOLockedValueBox(url) }
    var value: PublicURL {
        get { box.withLockedValue { $0 } }
        set { box.withLockedValue { $0 = newValue } }
    }
}

/// What the server shares with every carrier: where calls are admitted and remembered.
struct CarrierServices: Sendable {
    let configuration: BridgeConfiguration
    let publicURL: PublicURLCell
    /// One-time tokens in stream URLs, minted by a carrier's answer webhook and redeemed at the upgrade.
    let tokens: StreamTokens
    /// Webhook parameters by call id, from the answer webhook to the call's flow variables.
    let parameters: CallParameterStore
    /// Where each call goes once its stream closes, as its flow decided (`CallControl.transfer`).
    let transfers: CallParameterStore
    let liveCalls: LiveCalls
    let metrics: BridgeMetrics
    let logger: Logger

    /// `<scheme>://host/base<prefix><token>`, `wss` when the public URL is https.
    func streamURL(prefix: String, token: String) -> String {
        publicURL.value.streamURL(prefix: prefix, token: token)
    }

    /// CallStatus values after which a call is over (Twilio's, which TeXML keeps).
    static let terminalStatuses: Set<String> = ["completed", "busy", "failed", "no-answer", "canceled"]
    /// Form bodies of webhooks are a few KiB; anything far larger is not a webhook.
    static let maxBodyBytes = 64 * 1024

    /// An answer webhook's work, whatever the carrier: remember its parameters for the call's
    /// flow and mint the one-time token for the stream URL. Nil while draining.
    func admitCall(callID: String, parameters values: [String: String]) -> String? {
        if liveCalls.isDraining { return nil }
        parameters.remember(callSid: callID, parameters: values)
        metrics.recordWebhook()
        return tokens.mint(callSid: callID)
    }

    /// A status callback's work: a terminal status ends the live call (on its own loop).
    func callStatus(callID: String, status: String) {
        guard Self.terminalStatuses.contains(status), !callID.isEmpty else { return }
        _ = parameters.take(callSid: callID)
        tokens.callEnded(callSid: callID)
        let live = liveCalls.endCall(callSid: callID, status: status)
        logger.info("status callback", metadata: ["callSid": "\(callID)", "status": "\(status)", "liveCall": "\(live)"])
    }

    /// Where the call goes now that its stream is over, as its flow decided; nil: hang up.
    func takeTransfer(callID: String) -> CallTransfer? {
        callID.isEmpty ? nil : CallTransfer(parameters: transfers.take(callSid: callID))
    }

    /// A webhook whose signature did not verify: counted and logged, then refused with 403, or
    /// let through under `signature_mode: log`. Nil when the request may go on.
    func refusal(carrier: String, kind: String, reason: String) -> Response? {
        metrics.recordRefusedSignature()
        switch configuration.signatureMode {
        case .enforce:
            logger.warning("\(kind) refused", metadata: ["carrier": "\(carrier)", "reason": "\(reason)"])
            return Self.plain(.forbidden, "invalid signature")
        case .log:
            logger.warning("\(kind): \(reason) (signature_mode: log, accepted)", metadata: ["carrier": "\(carrier)"])
            return nil
        }
    }

    /// The first value of each form field.
    static func fields(_ form: [(String, String)]) -> [String: String] {
        var values: [String: String] = [:]
        for (name, value) in form where values[name] == nil { values[name] = value }
        return values
    }

    /// Answers a refused request in plain text.
    static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(
            status: status,
            headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: text + "\n"))
        )
    }

    /// Answers with markup (TwiML, TeXML, Plivo XML).
    static func xml(_ text: String) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/xml; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }
}

/// A webhook read and signature-checked by its carrier: its fields, or the answer refusing it.
enum SignedWebhook<Fields> {
    case accepted(Fields)
    case refused(Response)
}

/// A transfer as it waits in `CarrierServices.transfers` for the carrier's request.
extension CallTransfer {
    var parameters: [String: String] {
        switch self {
        case let .dial(number): ["dial": number]
        case let .markup(markup): ["markup": markup]
        }
    }

    init?(parameters: [String: String]?) {
        if let number = parameters?["dial"] {
            self = .dial(number)
        } else if let markup = parameters?["markup"] {
            self = .markup(markup)
        } else {
            return nil
        }
    }
}

/// One carrier as the server serves it: where its media sockets connect, how their upgrades are
/// authenticated, which dialect they speak, and its HTTP routes (answer webhook with its markup,
/// signatures, status and action callbacks). Built by the carrier's own folder from the shared
/// services; `CarrierRegistry` lists them.
struct CarrierSurface: Sendable {
    enum UpgradeCheck: Equatable {
        case accepted
        /// Refused: the text goes to the log (and the 403 body in enforce mode).
        case badSignature(String)
    }

    /// Lower-case, as in `CarrierDialect.name`.
    let name: String
    /// Media sockets connect at `<prefix><token>` (Twilio keeps `/media/`).
    let mediaPrefix: String
    /// For carriers with no answer webhook to mint a token (Asterisk): sockets connect at exactly
    /// this path and `checkUpgrade` alone (their credentials) admits them; the query's
    /// parameters become flow variables.
    let directPath: String?
    /// The format the bridge asks the carrier for (its `audio` setting): what ElevenLabs is asked
    /// for, so speech passes through. The start's own format still rules the call.
    let mediaFormat: MediaFormat
    /// When set, a start naming another account is refused (Twilio's `twilio.account_sid`).
    let expectedAccountID: String?
    /// The upgrade's own credentials, checked before the token is redeemed.
    let checkUpgrade: @Sendable (_ token: String, _ headers: HTTPHeaders) -> UpgradeCheck
    /// The media handler for an admitted socket, specialised for the carrier's dialect.
    let makeHandler: @Sendable (MediaEndpoint, MediaEndpoint.Admission, Logger) -> any RemovableChannelHandler
    /// Registers the carrier's HTTP routes.
    let registerRoutes: @Sendable (Router<BasicRequestContext>) -> Void
    /// Told once when an admitted call's media socket is gone, with the call's id: for carriers
    /// whose call does not go on by itself after the stream (Telnyx Call Control).
    let streamEnded: (@Sendable (_ callID: String) -> Void)?

    init<Dialect: CarrierDialect>(
        dialect: Dialect.Type,
        mediaPrefix: String,
        directPath: String? = nil,
        mediaFormat: MediaFormat = .mulaw8kMono,
        expectedAccountID: String? = nil,
        checkUpgrade: @escaping @Sendable (String, HTTPHeaders) -> UpgradeCheck = { _, _ in .accepted },
        streamEnded: (@Sendable (String) -> Void)? = nil,
        registerRoutes: @escaping @Sendable (Router<BasicRequestContext>) -> Void
    ) {
        self.streamEnded = streamEnded
        self.name = Dialect.name
        self.mediaPrefix = mediaPrefix
        self.directPath = directPath
        self.mediaFormat = mediaFormat
        self.expectedAccountID = expectedAccountID
        self.checkUpgrade = checkUpgrade
        self.makeHandler = { endpoint, admission, logger in
            MediaStreamHandler<Dialect>(endpoint: endpoint, admission: admission, logger: logger)
        }
        self.registerRoutes = registerRoutes
    }

    /// The token of a `<mediaPrefix>{token}` request path (query ignored), or nil for any other path.
    func token(fromPath uri: String) -> String? {
        directPath == nil ? MediaRoute.token(fromPath: uri, prefix: mediaPrefix) : nil
    }

    /// The query's parameters when `uri` is this carrier's direct path; nil for any other path.
    func directParameters(fromPath uri: String) -> [String: String]? {
        guard let directPath else { return nil }
        let path = uri.prefix { $0 != "?" && $0 != "#" }
        guard path == directPath else { return nil }
        let query = uri.dropFirst(path.count).drop { $0 == "?" }.prefix { $0 != "#" }
        return CarrierServices.fields(FormURLEncoded.parse(String(query)))
    }
}

extension CarrierSurface {
    /// A carrier with no answer webhook (Asterisk, Exotel): it connects straight to `path`, and
    /// the `username`/`password` of its settings, when a password is set, are the HTTP Basic
    /// credentials its upgrade must carry (401 otherwise, compared in constant time).
    static func direct<Dialect: CarrierDialect>(
        _ dialect: Dialect.Type, path: String, settings: CarrierSettingsSpec, services: CarrierServices
    ) -> CarrierSurface {
        let section = settings.section
        let password = services.configuration.carrierSetting(section, "password")
        let credentials = password.map {
            BasicCredentials(username: services.configuration.carrierSetting(section, "username") ?? "", password: $0)
        }
        if credentials == nil {
            services.logger.notice("\(section).password is unset: anyone who reaches \(path) can open a call")
        }
        return CarrierSurface(
            dialect: dialect,
            mediaPrefix: path,
            directPath: path,
            mediaFormat: services.configuration.carrierAudio(settings),
            checkUpgrade: { _, headers in
                guard let credentials else { return .accepted }
                return credentials.accepts(headers.first(name: "Authorization"))
                    ? .accepted : .badSignature("the upgrade does not carry \(section)'s Basic credentials")
            },
            registerRoutes: { router in
                router.get(RouterPath(path)) { _, _ in
                    CarrierServices.plain(.badRequest, "media streams need a WebSocket upgrade")
                }
            })
    }
}
