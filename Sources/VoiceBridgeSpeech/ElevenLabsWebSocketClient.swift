import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket

/// Opens ElevenLabs text-to-speech WebSockets, `stream-input` or `multi-stream-input` (doc §1, §2).
///
/// One client serves a whole process: it holds the configuration and the TLS context (loaded
/// once; verification always on, the system's roots or the configured CA file). Each `connect`
/// makes one socket, on the event loop the caller picks, and reports what the server sends as
/// events on that loop: no hop per message.
///
/// A raw NIO client rather than HummingbirdWSClient: every NIO product it needs is already in
/// the package, the caller's state can live on the socket's own loop, and it controls what a
/// wrapper hides: bytes that arrive with the 101 (a bad key or an exhausted quota closes right
/// after the upgrade, in the same read, so the pipeline forwards them), the handshake's status,
/// the close code and reason, and the JSON error frame that carries the full reason.
///
/// The API key goes only into the `xi-api-key` header: never into the URL, a log line or an error.
public final class ElevenLabsWebSocketClient: Sendable {
    public let configuration: ElevenLabsWebSocketConfiguration
    private let group: any EventLoopGroup
    private let tls: NIOSSLContext?
    private let logger: Logger

    public init(
        configuration: ElevenLabsWebSocketConfiguration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "voicebridge.speech.elevenlabs-ws")
    ) throws(ElevenLabsWebSocketError) {
        let configuration = try configuration.validated()
        self.configuration = configuration
        self.group = group
        self.logger = logger
        if try configuration.target(.multiStreamInput).tls {
            var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
            tlsConfiguration.certificateVerification = .fullVerification
            if let path = configuration.caFilePath {
                tlsConfiguration.trustRoots = .file(path)
            }
            do {
                tls = try NIOSSLContext(configuration: tlsConfiguration)
            } catch {
                throw .invalidConfiguration("TLS: \(error)")
            }
        } else {
            tls = nil
        }
    }

    /// An event loop of the client's group, for a caller that keeps its state on one.
    public func nextEventLoop() -> any EventLoop { group.next() }

    /// Connects, upgrades, and returns the open socket. `onEvent` runs on `eventLoop` for every
    /// server message and once at the end (`.closed`); never before the returned future succeeds.
    public func connect(
        _ endpoint: ElevenLabsWebSocketConfiguration.Endpoint,
        on eventLoop: (any EventLoop)? = nil,
        onEvent: @escaping @Sendable (ElevenLabsWebSocketEvent) -> Void
    ) -> EventLoopFuture<ElevenLabsWebSocketConnection> {
        let loop = eventLoop ?? group.next()
        do {
            return open(try configuration.target(endpoint), name: endpoint.rawValue, on: loop, onEvent: onEvent)
        } catch {
            return loop.makeFailedFuture(error)
        }
    }

    /// Opens the realtime speech-to-text socket (elevenlabs-stt.md §1) with the same key, base
    /// URL, TLS and timeouts as the speech side: the one transport serves both directions.
    public func connectTranscription(
        _ settings: ScribeSettings,
        on eventLoop: any EventLoop,
        onEvent: @escaping @Sendable (ElevenLabsSocketEvent<ScribeServerMessage>) -> Void
    ) -> EventLoopFuture<ElevenLabsWebSocketConnection> {
        do {
            return open(try configuration.target(path: ScribeSettings.path, query: settings.queryItems), name: "speech-to-text",
                        on: eventLoop, onEvent: onEvent)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    private func open<Message: ElevenLabsServerMessage>(
        _ target: ElevenLabsWebSocketConfiguration.Target,
        name: String,
        on loop: any EventLoop,
        onEvent: @escaping @Sendable (ElevenLabsSocketEvent<Message>) -> Void
    ) -> EventLoopFuture<ElevenLabsWebSocketConnection> {
        var logger = logger
        logger[metadataKey: "endpoint"] = "\(name)"
        let upgraded = loop.makePromise(of: Bool.self)
        let status = NIOLockedValueBox<Int?>(nil)
        let events = ElevenLabsWebSocketEventGate(onEvent)
        let tls = tls
        let configuration = configuration
        let connectTimeout = TimeAmount.nanoseconds(Int64(configuration.connectTimeout.components.seconds) * 1_000_000_000
            + configuration.connectTimeout.components.attoseconds / 1_000_000_000)

        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls {
                        let serverName = Self.isIPAddress(target.host) ? nil : target.host
                        try sync.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName))
                    }
                    let upgrader = NIOTypedWebSocketClientUpgrader<Bool>(
                        maxFrameSize: configuration.maxFrameSize,
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                let sync = channel.pipeline.syncOperations
                                try sync.addHandler(NIOWebSocketFrameAggregator(
                                    minNonFinalFragmentSize: 0,
                                    maxAccumulatedFrameCount: 1 << 16,
                                    maxAccumulatedFrameSize: configuration.maxFrameSize
                                ))
                                try sync.addHandler(ElevenLabsWebSocketFrameHandler<Message>(events: events, logger: logger))
                                return true
                            }
                        }
                    )
                    var headers = HTTPHeaders()
                    headers.add(name: "Host", value: target.hostHeader)
                    headers.add(name: "User-Agent", value: "voicebridge")
                    headers.add(name: "xi-api-key", value: configuration.apiKey)
                    headers.add(name: "Content-Length", value: "0")
                    let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target.uri, headers: headers)
                    let upgrade = NIOTypedHTTPClientUpgradeConfiguration<Bool>(
                        upgradeRequestHead: head,
                        upgraders: [upgrader],
                        notUpgradingCompletionHandler: { $0.eventLoop.makeSucceededFuture(false) }
                    )
                    var pipeline = NIOUpgradableHTTPClientPipelineConfiguration(upgradeConfiguration: upgrade)
                    // A close right after the 101 (bad key, quota) arrives in the same read.
                    pipeline.leftOverBytesStrategy = .forwardBytes
                    let result = try sync.configureUpgradableHTTPClientPipeline(configuration: pipeline)
                    // Learn the status of a refused upgrade: the upgrade handler swallows it.
                    let upgradeHandler = try sync.handler(type: NIOTypedHTTPClientUpgradeHandler<Bool>.self)
                    try sync.addHandler(ResponseStatusSpy(status: status), position: .before(upgradeHandler))
                    result.cascade(to: upgraded)
                }
            }

        logger.debug("connecting", metadata: ["url": "\(target.url)"])
        let timeout = loop.scheduleTask(in: connectTimeout) {
            upgraded.fail(ElevenLabsWebSocketError.connectFailed("no upgrade within \(configuration.connectTimeout)"))
        }
        return bootstrap.connect(host: target.host, port: target.port)
            .flatMapError { error in
                upgraded.fail(error)
                return loop.makeFailedFuture(Self.connectError(error))
            }
            .flatMap { channel in
                upgraded.futureResult.flatMapError { error in
                    channel.close(promise: nil)
                    return loop.makeFailedFuture(Self.connectError(error))
                }
                .flatMapThrowing { didUpgrade in
                    guard didUpgrade else {
                        channel.close(promise: nil)
                        throw ElevenLabsWebSocketError.handshakeRefused(status: status.withLockedValue { $0 } ?? 0)
                    }
                    logger.debug("connected", metadata: ["url": "\(target.url)"])
                    events.open(on: loop)
                    return ElevenLabsWebSocketConnection(channel: channel)
                }
            }
            .always { _ in timeout.cancel() }
    }

    private static func connectError(_ error: any Error) -> ElevenLabsWebSocketError {
        if let error = error as? ElevenLabsWebSocketError { return error }
        return .connectFailed("\(error)")
    }

    static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}

/// A message type an ElevenLabs socket's frames are read into.
public protocol ElevenLabsServerMessage: Sendable, Equatable {
    /// Reads one text frame's bytes in place.
    init(scanning bytes: UnsafeRawBufferPointer) throws(ElevenLabsWebSocketError)
    /// For an error message, the full text of why: a close that follows may cut its reason.
    var errorText: String? { get }
}

/// What a socket reports to its owner, on the socket's event loop.
public enum ElevenLabsSocketEvent<Message: ElevenLabsServerMessage>: Sendable, Equatable {
    /// A message from the server, parsed.
    case message(Message)
    /// The socket is closed: nil after a normal close (1000), else why.
    case closed(ElevenLabsWebSocketError?)
}

/// The text-to-speech socket's events.
public typealias ElevenLabsWebSocketEvent = ElevenLabsSocketEvent<ElevenLabsWebSocketServerMessage>

/// One open socket. `send` and `close` may be called from any thread.
public final class ElevenLabsWebSocketConnection: Sendable {
    let channel: any Channel

    init(channel: any Channel) {
        self.channel = channel
    }

    public var eventLoop: any EventLoop { channel.eventLoop }

    /// Sends one message as a masked text frame.
    public func send(_ message: ElevenLabsWebSocketMessage) {
        let text = message.json
        var buffer = channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        send(text: buffer)
    }

    /// Sends a message already written as JSON, as a masked text frame.
    public func send(text: ByteBuffer) {
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: text), promise: nil)
    }

    /// An empty buffer from the socket's allocator, to write a message into.
    public func buffer(capacity: Int) -> ByteBuffer { channel.allocator.buffer(capacity: capacity) }

    /// Starts the closing handshake (1000); the channel closes when the server answers, or at
    /// once if it is gone.
    public func close() {
        var buffer = channel.allocator.buffer(capacity: 2)
        buffer.write(webSocketErrorCode: .normalClosure)
        let channel = channel
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: buffer))
            .whenComplete { result in
                if case .failure = result { channel.close(promise: nil) }
            }
        // Don't wait forever for the server's close frame.
        channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
    }
}

/// Holds events until the socket is handed to its owner, so nothing reaches `onEvent` before the
/// connect future completes, and reports `.closed` only once.
final class ElevenLabsWebSocketEventGate<Message: ElevenLabsServerMessage>: Sendable {
    private struct State {
        var open = false
        var held: [ElevenLabsSocketEvent<Message>] = []
        var closed = false
    }

    private let onEvent: @Sendable (ElevenLabsSocketEvent<Message>) -> Void
    private let state = NIOLockedValueBox(State())

    init(_ onEvent: @escaping @Sendable (ElevenLabsSocketEvent<Message>) -> Void) {
        self.onEvent = onEvent
    }

    func emit(_ event: ElevenLabsSocketEvent<Message>) {
        let deliver = state.withLockedValue { state -> Bool in
            if state.closed { return false }
            if case .closed = event { state.closed = true }
            guard state.open else {
                state.held.append(event)
                return false
            }
            return true
        }
        if deliver { onEvent(event) }
    }

    /// Lets events through, starting with the held ones, once the connect future's callbacks
    /// (which run at once, on `loop`) have handed the socket to its owner.
    func open(on loop: any EventLoop) {
        loop.execute { [self] in
            let held = state.withLockedValue { state -> [ElevenLabsSocketEvent<Message>] in
                state.open = true
                defer { state.held = [] }
                return state.held
            }
            for event in held { onEvent(event) }
        }
    }
}

/// The socket's inbound side after the upgrade: messages, pings, the close handshake.
private final class ElevenLabsWebSocketFrameHandler<Message: ElevenLabsServerMessage>: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let events: ElevenLabsWebSocketEventGate<Message>
    private let logger: Logger
    /// The `message` of the last JSON error frame: the full text of a reason the close cuts.
    private var lastErrorMessage: String?
    private var sentClose = false
    private var reported = false
    private var failure: (any Error)?

    init(events: ElevenLabsWebSocketEventGate<Message>, logger: Logger) {
        self.events = events
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            do {
                // Server frames are unmasked: the frame's own bytes are parsed in place.
                let message = try frame.unmaskedData.withUnsafeReadableBytes { bytes throws(ElevenLabsWebSocketError) in
                    try Message(scanning: bytes)
                }
                if let errorText = message.errorText {
                    lastErrorMessage = errorText
                    logger.warning("ElevenLabs error message", metadata: ["error": "\(errorText)"])
                }
                events.emit(.message(message))
            } catch {
                logger.warning("ignoring a malformed ElevenLabs message", metadata: ["error": "\(error)"])
            }
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            var data = frame.unmaskedData
            let code = data.readInteger(as: UInt16.self).map(Int.init) ?? 1005
            let reason = data.readString(length: data.readableBytes) ?? ""
            report(code == 1000 ? nil : ElevenLabsWebSocketError.fromClose(code: code, reason: reason, message: lastErrorMessage))
            if !sentClose {
                sentClose = true
                var reply = context.channel.allocator.buffer(capacity: 2)
                reply.writeInteger(UInt16(code == 1005 ? 1000 : code))
                let frame = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: reply)
                context.writeAndFlush(wrapOutboundOut(frame)).assumeIsolated().whenComplete { _ in
                    context.close(promise: nil)
                }
            } else {
                context.close(promise: nil)
            }
        default:
            break
        }
    }

    /// Notes our own close frame, so the server's answer to it ends the socket without a second one.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if unwrapOutboundIn(data).opcode == .connectionClose { sentClose = true }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let reason = failure.map { "\($0)" } ?? lastErrorMessage ?? "the connection closed without a close frame"
        report(.fromClose(code: 1006, reason: reason, message: nil))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failure = error
        context.close(promise: nil)
    }

    private func report(_ error: ElevenLabsWebSocketError?) {
        guard !reported else { return }
        reported = true
        events.emit(.closed(error))
    }
}

/// Records the status of the upgrade response, then steps out of the pipeline.
private final class ResponseStatusSpy: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias InboundOut = HTTPClientResponsePart

    private let status: NIOLockedValueBox<Int?>

    init(status: NIOLockedValueBox<Int?>) {
        self.status = status
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            status.withLockedValue { $0 = Int(head.status.code) }
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        context.fireChannelRead(data)
    }
}
