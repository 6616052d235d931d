import NIOCore
import NIOHTTP1
import NIOPosix

/// A one-shot HTTP/1.1 POST over NIO, enough for Twilio's voice webhook.
enum WebhookClient {
    struct Response: Sendable {
        var status: Int
        var body: String
    }

    static func post(
        _ request: VoiceWebhookRequest, on loop: any EventLoop, timeout: TimeAmount
    ) async throws -> Response {
        let endpoint = try SimulatorEndpoint(parsing: request.url)
        guard endpoint.scheme == "http" else {
            throw SimulatorError.webhook("only http:// webhooks are supported (no TLS in the simulator): \(request.url)")
        }
        let promise = loop.makePromise(of: Response.self)
        let body = request.body
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: endpoint.hostHeader)
        headers.add(name: "User-Agent", value: "TwilioProxy/1.1")
        headers.add(name: "Content-Type", value: request.contentType)
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "Accept", value: "*/*")
        headers.add(name: "Connection", value: "close")
        for (name, value) in request.headers { headers.add(name: name, value: value) }
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: endpoint.target, headers: headers)

        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: loop)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
                    }
                }
                .connect(host: endpoint.host, port: endpoint.port).get()
        } catch {
            promise.fail(error)
            throw SimulatorError.webhook("cannot connect to \(endpoint.hostHeader): \(error)")
        }
        let timeoutTask = loop.scheduleTask(in: timeout) {
            promise.fail(SimulatorError.webhook("no answer within \(timeout.nanoseconds / 1_000_000_000) s"))
            channel.close(promise: nil)
        }
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: body))), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        defer { timeoutTask.cancel() }
        return try await promise.futureResult.get()
    }

    final class ResponseCollector: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPClientResponsePart

        private let promise: EventLoopPromise<Response>
        private var status = 0
        private var body = ByteBuffer()

        init(promise: EventLoopPromise<Response>) { self.promise = promise }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): status = Int(head.status.code)
            case .body(var part): body.writeBuffer(&part)
            case .end:
                promise.succeed(Response(status: status, body: String(buffer: body)))
                context.close(promise: nil)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(SimulatorError.webhook("connection closed before the answer was complete"))
        }
    }
}
