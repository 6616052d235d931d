import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOWebSocket
import VoiceBridgeCarriers
import VoiceBridgeRecording

/// Checks `X-Twilio-Signature` against URLs built from the configured public URL (never the Host
/// header). Without an auth token every request passes: local use, logged once at startup.
struct TwilioRequestVerifier: Sendable {
    let signature: TwilioSignature?
    private let publicURLBox: NIOLockedValueBox<PublicURL>

    init(authToken: String?, publicURL: PublicURL) {
        self.signature = authToken.map { TwilioSignature(authToken: $0) }
        self.publicURLBox = NIOLockedValueBox(publicURL)
    }

    /// The configured public URL; when none was configured, the local one with the port
    /// actually bound (port 0 is only known once the server listens).
    var publicURL: PublicURL {
        get { publicURLBox.withLockedValue { $0 } }
        nonmutating set { publicURLBox.withLockedValue { $0 = newValue } }
    }

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
        let streamURL = publicURL.streamURL(token: token)
        let httpSpelling = publicURL.webhookURL(path: MediaRoute.prefix + token)
        var valid = false
        for url in [streamURL, httpSpelling] {
            // Non-short-circuiting so the time spent does not depend on which spelling matched.
            valid = signature.isValid(signature: header, url: url, parameters: []) || valid
        }
        return valid
    }
}

/// Admission and shared state for media sockets: decides at the HTTP upgrade whether a socket
/// may open, then creates its handler.
final class MediaEndpoint: Sendable {
    struct Settings: Sendable {
        var accountSid: String?
        var maxMessageBytes: Int
        var writeStall: TimeAmount
        var startTimeout: TimeAmount
        var drain: TimeAmount
        var maxConcurrentCalls: Int
        var signatureMode: BridgeConfiguration.SignatureMode
    }

    struct Admission: Sendable {
        let callSid: String
        let parameters: [String: String]
    }

    enum Decision: Sendable {
        case accept(Admission)
        case refuse(HTTPResponseStatus, String)
    }

    let settings: Settings
    let verifier: TwilioRequestVerifier
    let tokens: StreamTokens
    let parameters: CallParameterStore
    let liveCalls: LiveCalls
    let metrics: BridgeMetrics
    let callFactory: MediaCallFactory
    let logger: Logger
    /// Where calls are recorded (`serve --record DIR`); nil: not recorded.
    let recordings: CallRecordings?

    init(
        settings: Settings,
        verifier: TwilioRequestVerifier,
        tokens: StreamTokens,
        parameters: CallParameterStore,
        liveCalls: LiveCalls,
        metrics: BridgeMetrics,
        callFactory: @escaping MediaCallFactory,
        logger: Logger,
        recordings: CallRecordings? = nil
    ) {
        self.recordings = recordings
        self.settings = settings
        self.verifier = verifier
        self.tokens = tokens
        self.parameters = parameters
        self.liveCalls = liveCalls
        self.metrics = metrics
        self.callFactory = callFactory
        self.logger = logger
    }

    /// Runs in the upgrader's `shouldUpgrade`, on the socket's loop. The signature is checked
    /// before the token is redeemed, so a refused request does not burn the real call's token.
    func admit(uri: String, headers: HTTPHeaders) -> Decision {
        guard let token = MediaRoute.token(fromPath: uri) else {
            return .refuse(.notFound, "no WebSocket endpoint at this path")
        }
        if liveCalls.isDraining {
            return .refuse(.serviceUnavailable, "server is shutting down")
        }
        if liveCalls.count >= settings.maxConcurrentCalls {
            metrics.recordError(kind: "over_capacity")
            return .refuse(.serviceUnavailable, "too many live calls")
        }
        if !verifier.verifyUpgrade(token: token, header: headers.first(name: "X-Twilio-Signature")) {
            metrics.recordRefusedSignature()
            switch settings.signatureMode {
            case .enforce:
                return .refuse(.forbidden, "X-Twilio-Signature on the upgrade does not verify")
            case .log:
                logger.warning("X-Twilio-Signature on a media upgrade does not verify (signature_mode: log, accepted)")
            }
        }
        switch tokens.redeem(token) {
        case .accepted(let callSid):
            return .accept(Admission(callSid: callSid, parameters: parameters.take(callSid: callSid) ?? [:]))
        case .refused(let reason):
            metrics.recordError(kind: "bad_stream_token")
            return .refuse(.forbidden, reason)
        }
    }

    /// The media socket's pipeline after the upgrade: `MediaStreamHandler` goes in front of NIO's
    /// frame decoder and reads the frames itself, so the decoder (and the protocol error handler
    /// behind it) never see a byte. They are left in place rather than removed: a decoder's removal
    /// finishes an event-loop turn later and would hand over, meanwhile, frames in NIO's type. The
    /// frame encoder in front stays too: it writes the rare close and pong frames.
    func installPipeline(on channel: any Channel, for admission: Admission) throws {
        let pipeline = channel.pipeline.syncOperations
        let handler = makeHandler(for: admission)
        if let decoder = try? pipeline.context(handlerType: ByteToMessageHandler<WebSocketFrameDecoder>.self) {
            try pipeline.addHandler(handler, position: .before(decoder.handler))
        } else {
            try pipeline.addHandler(handler)
        }
    }

    func makeHandler(for admission: Admission) -> MediaStreamHandler<TwilioDialect> {
        var logger = self.logger
        logger[metadataKey: "callSid"] = "\(admission.callSid)"
        return MediaStreamHandler(endpoint: self, admission: admission, logger: logger)
    }
}
