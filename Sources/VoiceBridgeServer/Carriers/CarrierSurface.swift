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
    /// The upgrade's own credentials, checked before the token is redeemed.
    let checkUpgrade: @Sendable (_ token: String, _ headers: HTTPHeaders) -> UpgradeCheck
    /// The media handler for an admitted socket, specialised for the carrier's dialect.
    let makeHandler: @Sendable (MediaEndpoint, MediaEndpoint.Admission, Logger) -> any RemovableChannelHandler
    /// Registers the carrier's HTTP routes.
    let registerRoutes: @Sendable (Router<BasicRequestContext>) -> Void

    init<Dialect: CarrierDialect>(
        dialect: Dialect.Type,
        mediaPrefix: String,
        checkUpgrade: @escaping @Sendable (String, HTTPHeaders) -> UpgradeCheck = { _, _ in .accepted },
        registerRoutes: @escaping @Sendable (Router<BasicRequestContext>) -> Void
    ) {
        self.name = Dialect.name
        self.mediaPrefix = mediaPrefix
        self.checkUpgrade = checkUpgrade
        self.makeHandler = { endpoint, admission, logger in
            MediaStreamHandler<Dialect>(endpoint: endpoint, admission: admission, logger: logger)
        }
        self.registerRoutes = registerRoutes
    }

    /// The token of a `<mediaPrefix>{token}` request path (query ignored), or nil for any other path.
    func token(fromPath uri: String) -> String? {
        MediaRoute.token(fromPath: uri, prefix: mediaPrefix)
    }
}
