import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import VoiceBridgeCarriers

/// What the app's socket reports, on the call's event loop.
public enum RelayTransportEvent: Sendable, Equatable {
    case text(String)
    /// A binary frame: the protocol has none, so it counts as an invalid message.
    case binary
    /// The socket is gone: the close code the app sent (1006 when there was no close frame).
    case closed(code: Int, reason: String)
}

/// The app's WebSocket as the relay flow sees it. Used on the call's event loop only.
public protocol RelayTransport: AnyObject, Sendable {
    /// Delivers events from now on (events that arrived earlier are held, then delivered first).
    func start(onEvent: @escaping (RelayTransportEvent) -> Void)
    func send(_ text: String)
    /// Sends a close frame; the socket closes when the app answers, or after a short wait.
    func close(code: Int, reason: String)
}

/// Opens the app's socket on a given loop: the real client, or a test double.
public protocol RelayConnector: Sendable {
    func connect(_ configuration: RelayConfiguration, on eventLoop: any EventLoop, logger: Logger) -> EventLoopFuture<any RelayTransport>
}

public enum RelayConnectError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidURL(String)
    case connectFailed(String)
    case handshakeRefused(status: Int)

    public var description: String {
        switch self {
        case let .invalidURL(why): "invalid relay URL: \(why)"
        case let .connectFailed(why): "could not connect to the app: \(why)"
        case let .handshakeRefused(status): "the app refused the WebSocket upgrade (HTTP \(status))"
        }
    }
}

/// A `ws://` or `wss://` URL, split for the client. The signature covers the text as written.
public struct RelayURL: Sendable, Equatable {
    public var tls: Bool
    public var host: String
    public var port: Int
    /// Path and query, as sent in the request line.
    public var target: String

    public init(parsing text: String) throws(RelayConnectError) {
        let lower = text.lowercased()
        let rest: Substring
        if lower.hasPrefix("wss://") {
            tls = true
            rest = text.dropFirst(6)
        } else if lower.hasPrefix("ws://") {
            tls = false
            rest = text.dropFirst(5)
        } else {
            throw .invalidURL("the scheme must be ws:// or wss://")
        }
        let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<slash]
        target = slash == rest.endIndex ? "/" : (rest[slash] == "?" ? "/" + rest[slash...] : String(rest[slash...]))
        guard !authority.isEmpty, !authority.contains("@") else { throw .invalidURL("no host (or userinfo, which is not supported)") }
        var hostPart = authority
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw .invalidURL("unclosed IPv6 address") }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty { throw .invalidURL("bad host") }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        }
        host = String(hostPart)
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else { throw .invalidURL("bad port \(portText)") }
            port = p
        } else {
            port = tls ? 443 : 80
        }
        guard !host.isEmpty else { throw .invalidURL("no host") }
    }

    var hostHeader: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return port == (tls ? 443 : 80) ? h : "\(h):\(port)"
    }
}

/// The bridge's client side of the relay socket: raw NIO (as the ElevenLabs client), on the
/// call's own loop, so app messages reach the call with no hop. Signs the upgrade with
/// `X-Twilio-Signature` over the configured URL exactly as written (doc §2).
public final class RelayWebSocketClient: RelayConnector {
    /// The TLS context, or why it could not be made: a wss:// session then fails to connect
    /// (64102) instead of the process failing.
    private let tlsContext: Result<NIOSSLContext, RelayConnectError>

    /// One client for the process (the system's trust roots).
    public static let shared = RelayWebSocketClient()

    /// - Parameter caFilePath: PEM roots to trust instead of the system's (an app behind a
    ///   self-made certificate).
    public init(caFilePath: String? = nil) {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .fullVerification
        if let caFilePath { configuration.trustRoots = .file(caFilePath) }
        do {
            tlsContext = .success(try NIOSSLContext(configuration: configuration))
        } catch {
            tlsContext = .failure(.connectFailed("TLS: \(error)"))
        }
    }

    public func connect(_ configuration: RelayConfiguration, on loop: any EventLoop, logger: Logger) -> EventLoopFuture<any RelayTransport> {
        let url: RelayURL
        do {
            url = try RelayURL(parsing: configuration.url)
        } catch {
            return loop.makeFailedFuture(error)
        }
        var tls: NIOSSLContext?
        if url.tls {
            switch tlsContext {
            case let .success(context): tls = context
            case let .failure(error): return loop.makeFailedFuture(error)
            }
        }
        let signature = configuration.authToken.map { TwilioSignature(authToken: $0).compute(url: configuration.url, parameters: []) }
        let status = NIOLockedValueBox<Int?>(nil)
        let maxFrame = configuration.maxMessageBytes
        let timeout = TimeAmount.milliseconds(Int64(configuration.connectTimeoutMs))
        let upgraded = loop.makePromise(of: Bool.self)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls {
                        let isIP = (try? SocketAddress(ipAddress: url.host, port: 0)) != nil
                        try sync.addHandler(NIOSSLClientHandler(context: tls, serverHostname: isIP ? nil : url.host))
                    }
                    let upgrader = NIOTypedWebSocketClientUpgrader<Bool>(
                        maxFrameSize: maxFrame,
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                let sync = channel.pipeline.syncOperations
                                try sync.addHandler(NIOWebSocketFrameAggregator(
                                    minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 1024, maxAccumulatedFrameSize: maxFrame))
                                try sync.addHandler(RelayFrameHandler())
                                return true
                            }
                        }
                    )
                    var headers = HTTPHeaders()
                    headers.add(name: "Host", value: url.hostHeader)
                    headers.add(name: "User-Agent", value: "voicebridge-relay")
                    if let signature { headers.add(name: "X-Twilio-Signature", value: signature) }
                    headers.add(name: "Content-Length", value: "0")
                    let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: url.target, headers: headers)
                    var pipeline = NIOUpgradableHTTPClientPipelineConfiguration(upgradeConfiguration: .init(
                        upgradeRequestHead: head, upgraders: [upgrader],
                        notUpgradingCompletionHandler: { $0.eventLoop.makeSucceededFuture(false) }
                    ))
                    pipeline.leftOverBytesStrategy = .forwardBytes
                    let result = try sync.configureUpgradableHTTPClientPipeline(configuration: pipeline)
                    let upgradeHandler = try sync.handler(type: NIOTypedHTTPClientUpgradeHandler<Bool>.self)
                    try sync.addHandler(UpgradeStatusSpy(status: status), position: .before(upgradeHandler))
                    result.cascade(to: upgraded)
                }
            }
        let deadline = loop.scheduleTask(in: timeout) {
            upgraded.fail(RelayConnectError.connectFailed("no upgrade within \(configuration.connectTimeoutMs) ms"))
        }
        logger.debug("connecting to the relay app", metadata: ["url": "\(configuration.url)"])
        return bootstrap.connect(host: url.host, port: url.port)
            .flatMapError { error in
                upgraded.fail(error)
                return loop.makeFailedFuture(RelayConnectError.connectFailed("\(error)"))
            }
            .flatMap { channel in
                upgraded.futureResult
                    .flatMapError { error in
                        channel.close(promise: nil)
                        let e = error as? RelayConnectError ?? .connectFailed("\(error)")
                        return loop.makeFailedFuture(e)
                    }
                    .flatMapThrowing { didUpgrade -> any RelayTransport in
                        guard didUpgrade else {
                            channel.close(promise: nil)
                            throw RelayConnectError.handshakeRefused(status: status.withLockedValue { $0 } ?? 0)
                        }
                        let handler = try channel.pipeline.syncOperations.handler(type: RelayFrameHandler.self)
                        return NIORelayTransport(channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
                    }
            }
            .always { _ in deadline.cancel() }
    }
}

/// One open app socket.
final class NIORelayTransport: RelayTransport {
    let channel: any Channel
    private let handler: NIOLoopBound<RelayFrameHandler>

    init(channel: any Channel, handler: NIOLoopBound<RelayFrameHandler>) {
        self.channel = channel
        self.handler = handler
    }

    func start(onEvent: @escaping (RelayTransportEvent) -> Void) {
        handler.value.start(onEvent)
    }

    func send(_ text: String) {
        var buffer = channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: buffer), promise: nil)
    }

    func close(code: Int, reason: String) {
        handler.value.sendClose(code: code, reason: reason)
        let channel = channel
        channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
    }
}

/// The socket after the upgrade: text frames, pings and the close handshake. Holds events until
/// the flow starts listening, and reports `.closed` once.
final class RelayFrameHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private var context: ChannelHandlerContext?
    private var onEvent: ((RelayTransportEvent) -> Void)?
    private var held: [RelayTransportEvent] = []
    private var sentClose = false
    private var reported = false

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func start(_ onEvent: @escaping (RelayTransportEvent) -> Void) {
        self.onEvent = onEvent
        let held = self.held
        self.held = []
        for event in held { onEvent(event) }
    }

    private func emit(_ event: RelayTransportEvent) {
        if case .closed = event {
            guard !reported else { return }
            reported = true
        }
        if let onEvent { onEvent(event) } else { held.append(event) }
    }

    func sendClose(code: Int, reason: String) {
        guard let context, !sentClose else { return }
        sentClose = true
        var buffer = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        buffer.writeInteger(UInt16(code))
        buffer.writeString(String(reason.utf8.prefix(120)) ?? "")
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: buffer)), promise: nil)
        emit(.closed(code: code, reason: reason))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            emit(.text(String(buffer: frame.unmaskedData)))
        case .binary:
            emit(.binary)
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)), promise: nil)
        case .connectionClose:
            var data = frame.unmaskedData
            let code = data.readInteger(as: UInt16.self).map(Int.init) ?? 1005
            let reason = data.readString(length: data.readableBytes) ?? ""
            emit(.closed(code: code, reason: reason))
            if sentClose {
                context.close(promise: nil)
            } else {
                sentClose = true
                var reply = context.channel.allocator.buffer(capacity: 2)
                reply.writeInteger(UInt16(code == 1005 ? 1000 : code))
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: reply)))
                    .assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            }
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        emit(.closed(code: 1006, reason: "the connection closed without a close frame"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A frame over the size limit or one that breaks RFC 6455.
        if !sentClose, error is NIOWebSocketError {
            sendClose(code: 1009, reason: "message too big or malformed")
        }
        context.close(promise: nil)
    }
}

/// Learns the status of a refused upgrade (the upgrade handler swallows it).
private final class UpgradeStatusSpy: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias InboundOut = HTTPClientResponsePart
    private let status: NIOLockedValueBox<Int?>

    init(status: NIOLockedValueBox<Int?>) { self.status = status }

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
