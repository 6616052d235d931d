import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOSSL
import NIOWebSocket

/// Hummingbird's child-channel setup with the media WebSocket spliced in.
///
/// Every accepted connection gets an upgradable HTTP/1 pipeline. A WebSocket upgrade to
/// `/media/{token}` that `MediaEndpoint` admits becomes a raw NIO pipeline (the frame encoder and
/// `MediaStreamHandler`, which reads frames itself) on that connection's event loop; Hummingbird
/// never sees it.
/// Every other request falls through to Hummingbird's HTTP/1 responder (the router), exactly as
/// in `HTTP1Channel`. A refused upgrade is answered with its status (403, 404, 503) and closed.
struct BridgeChildChannel: ServerChildChannel, HTTPChannelHandler {
    enum UpgradeResult: Sendable {
        case media(any Channel)
        case http(HTTP1Channel.Value)
        case refused(HTTP1Channel.Value, HTTPResponse.Status, String)
    }

    struct Value: ServerChildChannelValue {
        let result: EventLoopFuture<UpgradeResult>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    let endpoint: MediaEndpoint
    let tls: NIOSSLContext?
    let idleTimeout: Duration?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            if let tls {
                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
            }
            let endpoint = self.endpoint
            // Written by shouldUpgrade and read by the completion handlers, all on this loop.
            let admitted = NIOLoopBoundBox<MediaEndpoint.Admission?>(nil, eventLoop: channel.eventLoop)
            let refusal = NIOLoopBoundBox<(HTTPResponse.Status, String)?>(nil, eventLoop: channel.eventLoop)

            let upgrader = NIOTypedWebSocketServerUpgrader<UpgradeResult>(
                // Oversized frames are refused by the frame decoder before they are buffered:
                // the automatic error handling answers them with close code 1009.
                maxFrameSize: endpoint.settings.maxMessageBytes,
                enableAutomaticErrorHandling: true,
                shouldUpgrade: { channel, head in
                    switch endpoint.admit(uri: head.uri, headers: head.headers) {
                    case .accept(let admission):
                        admitted.value = admission
                        return channel.eventLoop.makeSucceededFuture(HTTPHeaders())
                    case .refuse(let status, let reason):
                        endpoint.logger.warning(
                            "media upgrade refused",
                            metadata: ["status": "\(status.code)", "reason": "\(reason)"]
                        )
                        refusal.value = (HTTPResponse.Status(code: Int(status.code)), reason)
                        return channel.eventLoop.makeSucceededFuture(nil)
                    }
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        guard let admission = admitted.value else {
                            throw ChannelError.inappropriateOperationForState
                        }
                        try endpoint.installPipeline(on: channel, for: admission)
                        return UpgradeResult.media(channel)
                    }
                }
            )

            let upgradeConfiguration = NIOTypedHTTPServerUpgradeConfiguration<UpgradeResult>(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        // The same handlers HTTP1Channel.setup adds after the HTTP/1 codec.
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: self.tls != nil))
                        try channel.pipeline.syncOperations.addHandler(
                            HTTPConnectionStateHandler(idleTimeout: self.idleTimeout, logger: logger)
                        )
                        let http = try HTTP1Channel.Value(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(isOutboundHalfClosureEnabled: true)
                        )
                        if let (status, reason) = refusal.value {
                            return UpgradeResult.refused(http, status, reason)
                        }
                        return UpgradeResult.http(http)
                    }
                }
            )
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration(upgradeConfiguration: upgradeConfiguration)
            configuration.enablePipelining = false  // NIOAsyncChannel serialises requests
            configuration.enableErrorHandling = false  // Hummingbird answers parse errors
            configuration.enableResponseHeaderValidation = false  // HTTPTypes validates
            let result = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(
                configuration: configuration
            )
            return Value(result: result, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.result.get() {
            case .http(let http):
                await handleHTTP(asyncChannel: http, logger: logger)
            case .refused(let http, let status, let reason):
                await writeRefusal(http, status: status, reason: reason, logger: logger)
            case .media(let channel):
                // The socket runs on its own handler; this task only tracks its lifetime so the
                // server's graceful shutdown waits for it.
                try await channel.closeFuture.get()
            }
        } catch {
            logger.debug("connection ended during setup", metadata: ["error": "\(error)"])
        }
    }

    private func writeRefusal(_ http: HTTP1Channel.Value, status: HTTPResponse.Status, reason: String, logger: Logger) async {
        do {
            try await http.executeThenClose { _, outbound in
                var body = ByteBuffer()
                body.writeString(reason + "\n")
                let head = HTTPResponse(
                    status: status,
                    headerFields: [
                        .connection: "close",
                        .contentType: "text/plain; charset=utf-8",
                        .contentLength: String(body.readableBytes),
                    ]
                )
                try await outbound.write(contentsOf: [.head(head), .body(body), .end(nil)])
            }
        } catch {
            logger.trace("could not write upgrade refusal", metadata: ["error": "\(error)"])
        }
    }
}
