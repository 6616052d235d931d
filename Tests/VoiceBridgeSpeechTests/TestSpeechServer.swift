import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A small HTTP/1.1 server on 127.0.0.1 (port 0) for the libcurl tests: real sockets, real
/// chunked transfer encoding, and a per-test handler that answers like ElevenLabs would.
///
/// It records every request, which connections closed, and how many requests it was answering
/// at once, so tests can assert what the client did on the wire.
final class TestSpeechServer: Sendable {
    struct Request: Sendable {
        var method: String
        var uri: String
        var path: String
        var query: [String: String]
        var headers: [(String, String)]
        var body: [UInt8]
        var connection: Int
        var receivedAt: ContinuousClock.Instant

        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }

        var json: [String: Any]? {
            (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        }
    }

    typealias Handler = @Sendable (Request, Responder) async -> Void

    fileprivate final class Shared: Sendable {
        struct State {
            var requests: [Request] = []
            var closed: Set<Int> = []
            var active = 0
            var peak = 0
            var nextConnection = 0
        }

        let state = Mutex(State())
        let handler: Handler

        init(handler: @escaping Handler) {
            self.handler = handler
        }
    }

    private let shared: Shared
    private let channel: any Channel
    let port: Int

    var baseURL: String { "http://127.0.0.1:\(port)" }

    private init(shared: Shared, channel: any Channel) {
        self.shared = shared
        self.channel = channel
        port = channel.localAddress?.port ?? 0
    }

    static func start(_ handler: @escaping Handler) async throws -> TestSpeechServer {
        let shared = Shared(handler: handler)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let id = shared.state.withLock { state -> Int in
                        state.nextConnection += 1
                        return state.nextConnection
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(ConnectionHandler(shared: shared, connection: id))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return TestSpeechServer(shared: shared, channel: channel)
    }

    func shutdown() async {
        try? await channel.close()
    }

    var requests: [Request] { shared.state.withLock { $0.requests } }
    var peakConcurrentRequests: Int { shared.state.withLock { $0.peak } }

    func isClosed(_ connection: Int) -> Bool {
        shared.state.withLock { $0.closed.contains(connection) }
    }

    /// Waits until the client has closed `connection`; false if it still hasn't after `timeout`.
    func waitForClose(of connection: Int, timeout: Duration = .seconds(3)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if isClosed(connection) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return isClosed(connection)
    }

    /// Waits until the server has received `count` requests.
    func waitForRequests(_ count: Int, timeout: Duration = .seconds(5)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if requests.count >= count { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return requests.count >= count
    }

    /// Collects each request, then hands it to the test's handler on a task of its own.
    private final class ConnectionHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart

        private let shared: Shared
        private let connection: Int
        private var head: HTTPRequestHead?
        private var body: [UInt8] = []

        init(shared: Shared, connection: Int) {
            self.shared = shared
            self.connection = connection
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = []
            case .body(var buffer):
                body += buffer.readBytes(length: buffer.readableBytes) ?? []
            case .end:
                guard let head else { return }
                let (path, query) = Self.split(head.uri)
                let request = Request(
                    method: head.method.rawValue, uri: head.uri, path: path, query: query,
                    headers: head.headers.map { ($0.name, $0.value) }, body: body, connection: connection,
                    receivedAt: .now
                )
                self.head = nil
                let shared = shared
                shared.state.withLock { state in
                    state.requests.append(request)
                    state.active += 1
                    state.peak = max(state.peak, state.active)
                }
                let responder = Responder(channel: context.channel, connection: connection)
                Task {
                    await shared.handler(request, responder)
                    shared.state.withLock { $0.active -= 1 }
                }
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            let connection = connection
            shared.state.withLock { _ = $0.closed.insert(connection) }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }

        private static func split(_ uri: String) -> (String, [String: String]) {
            let parts = uri.split(separator: "?", maxSplits: 1)
            var query: [String: String] = [:]
            if parts.count == 2 {
                for pair in parts[1].split(separator: "&") {
                    let kv = pair.split(separator: "=", maxSplits: 1)
                    query[String(kv[0])] = kv.count == 2 ? String(kv[1]).removingPercentEncoding ?? String(kv[1]) : ""
                }
            }
            return (String(parts.first ?? ""), query)
        }
    }
}

/// Writes one response. Each write waits until NIO has flushed it, so a test's delays between
/// chunks are delays on the wire.
struct Responder: Sendable {
    let channel: any Channel
    let connection: Int

    /// Starts a response. Without a content length the body goes out chunked.
    func head(status: Int, headers: [(String, String)] = [], contentLength: Int? = nil) async throws {
        var fields = HTTPHeaders(headers)
        if let contentLength { fields.replaceOrAdd(name: "content-length", value: "\(contentLength)") }
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: fields)
        try await channel.writeAndFlush(HTTPServerResponsePart.head(head)).get()
    }

    func chunk(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: bytes)))).get()
    }

    func end() async throws {
        try await channel.writeAndFlush(HTTPServerResponsePart.end(nil)).get()
    }

    /// Drops the connection, mid-response if need be.
    func close() async throws {
        try await channel.close()
    }

    /// A whole response with a content length, e.g. an error body.
    func respond(status: Int, body: String, headers: [(String, String)] = [("content-type", "application/json")]) async {
        let bytes = Array(body.utf8)
        try? await head(status: status, headers: headers, contentLength: bytes.count)
        try? await chunk(bytes)
        try? await end()
    }
}
