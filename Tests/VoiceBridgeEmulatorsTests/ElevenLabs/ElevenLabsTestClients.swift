import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization

/// Events delivered to a test, with a wait that times out on the channel's event loop.
final class TestEventBox<Event: Sendable>: Sendable {
    private struct State {
        var events: [Event] = []
        var waiter: (id: Int, continuation: CheckedContinuation<Event?, Never>)?
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    func push(_ event: Event) {
        let waiter = state.withLock { state -> CheckedContinuation<Event?, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter.continuation
            }
            state.events.append(event)
            return nil
        }
        waiter?.resume(returning: event)
    }

    /// The next event, or nil after `timeout`.
    func next(timeout: TimeAmount, on loop: any EventLoop) async -> Event? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Event?, Never>) in
            let id = state.withLock { state -> Int? in
                if !state.events.isEmpty {
                    continuation.resume(returning: state.events.removeFirst())
                    return nil
                }
                state.nextWaiter += 1
                state.waiter = (state.nextWaiter, continuation)
                return state.nextWaiter
            }
            guard let id else { return }
            loop.scheduleTask(in: timeout) { [self] in
                let expired = state.withLock { state -> CheckedContinuation<Event?, Never>? in
                    guard let waiter = state.waiter, waiter.id == id else { return nil }
                    state.waiter = nil
                    return waiter.continuation
                }
                expired?.resume(returning: nil)
            }
        }
    }
}

/// A minimal WebSocket client over NIO: sends masked text frames, reports text frames, the close
/// frame and the end of the connection.
final class TestWebSocket: Sendable {
    enum Event: Sendable, Equatable {
        case text(String)
        case close(code: Int?, reason: String)
        /// The TCP connection ended (after a close frame, or without one: an abnormal 1006).
        case ended
    }

    struct UpgradeRefused: Error {}

    let channel: any Channel
    let events: TestEventBox<Event>

    private init(channel: any Channel, events: TestEventBox<Event>) {
        self.channel = channel
        self.events = events
    }

    static func connect(port: Int, path: String, headers: [(String, String)] = []) async throws -> TestWebSocket {
        let events = TestEventBox<Event>()
        let channelBox = Mutex<(any Channel)?>(nil)
        let upgraded: EventLoopFuture<Bool> = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    channelBox.withLock { $0 = channel }
                    let upgrader = NIOTypedWebSocketClientUpgrader<Bool>(
                        maxFrameSize: 16 << 20,
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(NIOWebSocketFrameAggregator(
                                    minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 1 << 16, maxAccumulatedFrameSize: 16 << 20
                                ))
                                try channel.pipeline.syncOperations.addHandler(Collector(events: events))
                                return true
                            }
                        }
                    )
                    var requestHeaders = HTTPHeaders()
                    requestHeaders.add(name: "Host", value: "127.0.0.1:\(port)")
                    requestHeaders.add(name: "Content-Length", value: "0")
                    for (name, value) in headers { requestHeaders.add(name: name, value: value) }
                    let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: requestHeaders)
                    let configuration = NIOTypedHTTPClientUpgradeConfiguration<Bool>(
                        upgradeRequestHead: head,
                        upgraders: [upgrader],
                        notUpgradingCompletionHandler: { $0.eventLoop.makeSucceededFuture(false) }
                    )
                    // Keep what follows the 101 in the same read: the server may close at once (a bad key).
                    var pipeline = NIOUpgradableHTTPClientPipelineConfiguration(upgradeConfiguration: configuration)
                    pipeline.leftOverBytesStrategy = .forwardBytes
                    return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(configuration: pipeline)
                }
            }
        guard try await upgraded.get(), let channel = channelBox.withLock({ $0 }) else { throw UpgradeRefused() }
        return TestWebSocket(channel: channel, events: events)
    }

    func send(_ text: String) async throws {
        var buffer = channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        try await channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: buffer))
    }

    /// Sends a close frame (the server answers with its own and hangs up).
    func sendClose(code: Int = 1000) async throws {
        var buffer = channel.allocator.buffer(capacity: 2)
        buffer.write(webSocketErrorCode: WebSocketErrorCode(codeNumber: code))
        try await channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: buffer))
    }

    func next(timeout: TimeAmount = .seconds(10)) async -> Event? {
        await events.next(timeout: timeout, on: channel.eventLoop)
    }

    /// Text messages until the next close frame or end; returns them with what ended the wait.
    func collect(timeout: TimeAmount = .seconds(15)) async -> (messages: [String], end: Event?) {
        var messages: [String] = []
        let deadline = NIODeadline.now() + timeout
        while true {
            let left = deadline - .now()
            guard left > .zero, let event = await next(timeout: left) else { return (messages, nil) }
            if case .text(let text) = event {
                messages.append(text)
            } else {
                return (messages, event)
            }
        }
    }

    /// Text messages that arrive within `window` (nothing else expected).
    func quietMessages(for window: TimeAmount) async -> [Event] {
        var events: [Event] = []
        let deadline = NIODeadline.now() + window
        while true {
            let left = deadline - .now()
            guard left > .zero, let event = await next(timeout: left) else { return events }
            events.append(event)
        }
    }

    func disconnect() {
        channel.close(promise: nil)
    }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = WebSocketFrame
        typealias OutboundOut = WebSocketFrame
        let events: TestEventBox<Event>
        var closed = false

        init(events: TestEventBox<Event>) {
            self.events = events
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            switch frame.opcode {
            case .text:
                events.push(.text(String(buffer: frame.unmaskedData)))
            case .connectionClose:
                var data = frame.unmaskedData
                let code = data.readInteger(as: UInt16.self).map(Int.init)
                let reason = data.readString(length: data.readableBytes) ?? ""
                events.push(.close(code: code, reason: reason))
                if !closed {
                    closed = true
                    var reply = context.channel.allocator.buffer(capacity: 2)
                    reply.writeInteger(UInt16(code ?? 1000))
                    context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: reply)), promise: nil)
                }
            default:
                break
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            events.push(.ended)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}

/// A minimal HTTP/1.1 client: one request per connection, the whole response collected.
enum TestHTTP {
    struct Response: Sendable {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
        /// Body pieces as they arrived.
        var pieces: [[UInt8]]
        /// The response ended properly (false when the connection dropped mid-body).
        var complete: Bool

        var text: String { String(decoding: body, as: UTF8.self) }
    }

    enum Event: Sendable {
        case head(Int, [String: String])
        case body([UInt8])
        case end
        case ended
    }

    struct NoResponse: Error {}

    static func request(
        port: Int,
        method: HTTPMethod = .POST,
        path: String,
        headers: [(String, String)] = [],
        body: String? = nil,
        timeout: TimeAmount = .seconds(20)
    ) async throws -> Response {
        let events = TestEventBox<Event>()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(Collector(events: events))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        var requestHeaders = HTTPHeaders()
        requestHeaders.add(name: "Host", value: "127.0.0.1:\(port)")
        requestHeaders.add(name: "Connection", value: "close")
        requestHeaders.add(name: "Content-Type", value: "application/json")
        requestHeaders.add(name: "Content-Length", value: "\(body?.utf8.count ?? 0)")
        for (name, value) in headers { requestHeaders.add(name: name, value: value) }
        channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: requestHeaders)), promise: nil)
        if let body {
            channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: body))), promise: nil)
        }
        try await channel.writeAndFlush(HTTPClientRequestPart.end(nil))

        var response = Response(status: 0, headers: [:], body: [], pieces: [], complete: false)
        let deadline = NIODeadline.now() + timeout
        loop: while true {
            let left = deadline - .now()
            guard left > .zero, let event = await events.next(timeout: left, on: channel.eventLoop) else { break }
            switch event {
            case .head(let status, let headers):
                response.status = status
                response.headers = headers
            case .body(let bytes):
                response.body += bytes
                response.pieces.append(bytes)
            case .end:
                response.complete = true
                break loop
            case .ended:
                break loop
            }
        }
        channel.close(promise: nil)
        guard response.status != 0 else { throw NoResponse() }
        return response
    }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        let events: TestEventBox<Event>

        init(events: TestEventBox<Event>) {
            self.events = events
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                var headers: [String: String] = [:]
                for (name, value) in head.headers { headers[name.lowercased()] = value }
                events.push(.head(Int(head.status.code), headers))
            case .body(var buffer):
                events.push(.body(buffer.readBytes(length: buffer.readableBytes) ?? []))
            case .end:
                events.push(.end)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            events.push(.ended)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            events.push(.ended)
            context.close(promise: nil)
        }
    }
}

/// Decoded server messages, for assertions.
struct TestServerMessage: Decodable {
    struct Alignment: Decodable, Equatable {
        var chars: [String]
        var charStartTimesMs: [Int]
        var charDurationsMs: [Int]
    }

    var audio: String?
    var isFinal: Bool?
    var normalizedAlignment: Alignment?
    var alignment: Alignment?
    var contextId: String?
    var message: String?
    var error: String?
    var code: Int?

    init(_ text: String) throws {
        self = try JSONDecoder().decode(TestServerMessage.self, from: Data(text.utf8))
    }

    var audioBytes: [UInt8] { audio.flatMap { Data(base64Encoded: $0) }.map { [UInt8]($0) } ?? [] }

    /// The top-level keys of a JSON object text, in order of appearance.
    static func keys(_ text: String) -> [String] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return [] }
        return object.keys.sorted { a, b in
            (text.range(of: "\"\(a)\":")?.lowerBound ?? text.endIndex) < (text.range(of: "\"\(b)\":")?.lowerBound ?? text.endIndex)
        }
    }
}
