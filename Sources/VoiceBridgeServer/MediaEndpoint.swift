import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOWebSocket
import VoiceBridgeCarriers
import VoiceBridgeRecording

/// Admission and shared state for media sockets: decides at the HTTP upgrade whether a socket
/// may open, then creates its handler.
final class MediaEndpoint: Sendable {
    struct Settings: Sendable {
        var maxMessageBytes: Int
        var writeStall: TimeAmount
        var startTimeout: TimeAmount
        var drain: TimeAmount
        /// After the drain time: how long a call's goodbye may take before its socket is closed.
        var drainGoodbye: TimeAmount = .seconds(10)
        var maxConcurrentCalls: Int
        var signatureMode: BridgeConfiguration.SignatureMode
        /// The live console exists (a control token is set): each call keeps a `CallConsoleLog`.
        var console = false
    }

    struct Admission: Sendable {
        let callSid: String
        let parameters: [String: String]
        /// The carrier whose media path the socket connected to.
        let carrier: CarrierSurface
    }

    enum Decision: Sendable {
        case accept(Admission)
        case refuse(HTTPResponseStatus, String)
    }

    let settings: Settings
    /// Every carrier served, each with its own media path.
    let carriers: [CarrierSurface]
    let tokens: StreamTokens
    let parameters: CallParameterStore
    /// Where calls go after their stream (`CallControl.transfer`), by call id.
    let transfers: CallParameterStore
    let liveCalls: LiveCalls
    let metrics: BridgeMetrics
    let callFactory: MediaCallFactory
    let logger: Logger
    /// Where calls are recorded (`serve --record DIR`); nil: not recorded.
    let recordings: CallRecordings?

    init(
        settings: Settings,
        carriers: [CarrierSurface],
        tokens: StreamTokens,
        parameters: CallParameterStore,
        transfers: CallParameterStore,
        liveCalls: LiveCalls,
        metrics: BridgeMetrics,
        callFactory: @escaping MediaCallFactory,
        logger: Logger,
        recordings: CallRecordings? = nil
    ) {
        self.recordings = recordings
        self.settings = settings
        self.carriers = carriers
        self.tokens = tokens
        self.parameters = parameters
        self.transfers = transfers
        self.liveCalls = liveCalls
        self.metrics = metrics
        self.callFactory = callFactory
        self.logger = logger
    }

    /// Runs in the upgrader's `shouldUpgrade`, on the socket's loop. The signature is checked
    /// before the token is redeemed, so a refused request does not burn the real call's token.
    func admit(uri: String, headers: HTTPHeaders) -> Decision {
        var match: (carrier: CarrierSurface, token: String)?
        var direct: (carrier: CarrierSurface, parameters: [String: String])?
        for carrier in carriers {
            if let token = carrier.token(fromPath: uri) { match = (carrier, token); break }
            if let parameters = carrier.directParameters(fromPath: uri) { direct = (carrier, parameters); break }
        }
        if let direct { return admitDirect(direct.carrier, parameters: direct.parameters, headers: headers) }
        guard let (carrier, token) = match else {
            return .refuse(.notFound, "no WebSocket endpoint at this path")
        }
        if liveCalls.isDraining {
            return .refuse(.serviceUnavailable, "server is shutting down")
        }
        if liveCalls.count >= settings.maxConcurrentCalls {
            metrics.recordError(kind: "over_capacity")
            return .refuse(.serviceUnavailable, "too many live calls")
        }
        if case .badSignature(let reason) = carrier.checkUpgrade(token, headers) {
            metrics.recordRefusedSignature()
            switch settings.signatureMode {
            case .enforce:
                return .refuse(.forbidden, reason)
            case .log:
                logger.warning("\(reason) (signature_mode: log, accepted)", metadata: ["carrier": "\(carrier.name)"])
            }
        }
        switch tokens.redeem(token) {
        case .accepted(let callSid):
            return .accept(Admission(callSid: callSid, parameters: parameters.take(callSid: callSid) ?? [:], carrier: carrier))
        case .refused(let reason):
            metrics.recordError(kind: "bad_stream_token")
            return .refuse(.forbidden, reason)
        }
    }

    /// A carrier that connects without a webhook (Asterisk): its credentials admit the socket,
    /// and the call gets an id of its own until its start names the channel.
    private func admitDirect(_ carrier: CarrierSurface, parameters: [String: String], headers: HTTPHeaders) -> Decision {
        if liveCalls.isDraining {
            return .refuse(.serviceUnavailable, "server is shutting down")
        }
        if liveCalls.count >= settings.maxConcurrentCalls {
            metrics.recordError(kind: "over_capacity")
            return .refuse(.serviceUnavailable, "too many live calls")
        }
        if case .badSignature(let reason) = carrier.checkUpgrade("", headers) {
            // No token stands behind these credentials, so the log-only signature mode does not apply.
            metrics.recordRefusedSignature()
            return .refuse(.unauthorized, reason)
        }
        let callSid = "\(carrier.name)-\(UUID().uuidString.lowercased())"
        return .accept(Admission(callSid: callSid, parameters: parameters, carrier: carrier))
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

    func makeHandler(for admission: Admission) -> any RemovableChannelHandler {
        var logger = self.logger
        logger[metadataKey: "callSid"] = "\(admission.callSid)"
        if admission.carrier.name != TwilioDialect.name {
            logger[metadataKey: "carrier"] = "\(admission.carrier.name)"
        }
        return admission.carrier.makeHandler(self, admission, logger)
    }
}
