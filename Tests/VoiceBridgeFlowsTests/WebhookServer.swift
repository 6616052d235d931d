import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A loopback HTTP/1.1 server standing in for a customer's IVR webhook: it answers each POST
/// with `reply(path, body)` and remembers what it was sent.
final class WebhookServer: Sendable {
    struct Request: Sendable {
        var method: String
        var path: String
        var contentType: String?
        var body: String
    }
    let reply: @Sendable (String, String) -> (status: Int, body: String)
    private let channel: any Channel
    private let received = Mutex<[Request]>([])

    var port: Int { channel.localAddress?.port ?? 0 }
    var requests: [Request] { received.withLock { $0 } }

    init(reply: @escaping @Sendable (String, String) -> (status: Int, body: String)) async throws {
        self.reply = reply
        let box = Mutex<WebhookServer?>(nil)
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler { request in
                        box.withLock { $0 }.map { server in
                            server.received.withLock { $0.append(request) }
                            return server.reply(request.path, request.body)
                        } ?? (500, "")
                    })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        box.withLock { $0 = self }
    }

    func close() async throws { try await channel.close() }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let respond: @Sendable (Request) -> (status: Int, body: String)
        var head: HTTPRequestHead?
        var body = ""

        init(respond: @escaping @Sendable (Request) -> (status: Int, body: String)) { self.respond = respond }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case let .head(h):
                head = h
                body = ""
            case var .body(buffer):
                body += buffer.readString(length: buffer.readableBytes) ?? ""
            case .end:
                guard let head else { return }
                let (status, text) = respond(Request(method: "\(head.method)", path: head.uri, contentType: head.headers.first(name: "Content-Type"), body: body))
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "application/json")
                headers.add(name: "Content-Length", value: "\(text.utf8.count)")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .init(statusCode: status), headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
