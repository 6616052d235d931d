import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization
import VoiceBridgeCarriers

/// What the example app does when the caller presses a key (or at `setup`).
public enum RelayAppAction: Sendable, Equatable {
    /// Streams the text token by token (one word per token, at the token interval), `last` on the final one.
    case reply(String)
    case sendDigits(String)
    case play(String)
    /// Speaks the text, then sends `end` with the handoff data.
    case goodbye(String, handoffData: String?)
    case end(handoffData: String?)
    case several([RelayAppAction])
    case nothing
}

public struct RelayAppConfiguration: Sendable {
    /// Streamed as the app's first reply when `setup` arrives; nil says nothing.
    public var greeting: RelayAppAction? = .reply("Hello from the relay app. Press any key and I will answer you.")
    /// LLM-like pace: one token every this many milliseconds.
    public var tokenIntervalMs = 30
    /// What each key does; keys not listed get `defaultReply`.
    public var keys: [Character: RelayAppAction] = [
        "#": .goodbye("Thank you for trying the relay. Goodbye.", handoffData: #"{"reason":"caller pressed pound"}"#),
    ]
    /// The answer to a key with no entry of its own; `{digit}` is replaced by the key.
    public var defaultReply = "You pressed {digit}. This answer is streamed one token at a time, the way a language model speaks, and you can interrupt it."
    /// Checks `X-Twilio-Signature` over `signedURL` when both are set (a mismatch is a violation).
    /// `{port}` in it stands for the port the app bound, so a test can listen on port 0 instead
    /// of probing for a free port and racing other tests to bind it again.
    public var authToken: String?
    public var signedURL: String?

    public init() {}
}

/// One message the app received or sent, with the uptime it happened at.
public struct RelayAppRecord: Sendable, Equatable {
    public enum Direction: String, Sendable { case received, sent }
    public var session: Int
    public var direction: Direction
    public var atNanos: UInt64
    public var text: String
}

/// `voicebridge emulate relay-app`: a small ConversationRelay app for demos and tests. It greets
/// the caller, answers each key with a reply streamed token by token, stops talking on
/// `interrupt`, logs every message it receives and checks each one strictly against the
/// published protocol (its own JSON code, not the bridge's codec).
public final class RelayAppEmulator: Sendable {
    public let configuration: RelayAppConfiguration
    private let group: any EventLoopGroup
    private let logger: Logger
    private let channel = Mutex<(any Channel)?>(nil)
    private let state = Mutex<State>(State())

    struct State {
        var records: [RelayAppRecord] = []
        var violations: [String] = []
        var sessions = 0
        var closes: [Int: Int] = [:]
        var signatures: [Int: String] = [:]
        var connections: [ObjectIdentifier: any Channel] = [:]
    }

    public init(
        configuration: RelayAppConfiguration = .init(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "voicebridge.emulator.relay-app")
    ) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
    }

    /// Listens (port 0 picks one) and returns the bound port. Any path upgrades.
    @discardableResult
    public func start(host: String = "127.0.0.1", port: Int = 0) async throws -> Int {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                let id = ObjectIdentifier(channel)
                state.withLock { $0.connections[id] = channel }
                channel.closeFuture.whenComplete { [self] _ in _ = state.withLock { $0.connections.removeValue(forKey: id) } }
                return channel.eventLoop.makeCompletedFuture {
                    let upgrader = NIOWebSocketServerUpgrader(
                        maxFrameSize: 1 << 20, automaticErrorHandling: true,
                        shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
                        upgradePipelineHandler: { [self] channel, head in
                            channel.eventLoop.makeCompletedFuture {
                                let session = beginSession(head)
                                try channel.pipeline.syncOperations.addHandler(NIOWebSocketFrameAggregator(
                                    minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 1024, maxAccumulatedFrameSize: 1 << 20))
                                try channel.pipeline.syncOperations.addHandler(RelayAppSession(app: self, session: session))
                            }
                        })
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        self.channel.withLock { $0 = channel }
        let bound = channel.localAddress?.port ?? port
        logger.info("relay app listening", metadata: ["url": "ws://\(host):\(bound)/relay"])
        return bound
    }

    public func stop() async throws {
        let channel = self.channel.withLock { c in defer { c = nil }; return c }
        try await channel?.close()
        for connection in state.withLock({ Array($0.connections.values) }) { try? await connection.close() }
    }

    public func waitUntilStopped() async throws {
        try await channel.withLock { $0 }?.closeFuture.get()
    }

    /// Every message received and sent, in order.
    public var records: [RelayAppRecord] { state.withLock { $0.records } }
    public var received: [String] { records.filter { $0.direction == .received }.map(\.text) }
    /// Protocol problems found in what the bridge sent (and signature mismatches).
    public var violations: [String] { state.withLock { $0.violations } }
    public var sessionCount: Int { state.withLock { $0.sessions } }
    /// The close code the bridge sent, by session (1-based).
    public func closeCode(session: Int) -> Int? { state.withLock { $0.closes[session] } }
    public func signature(session: Int) -> String? { state.withLock { $0.signatures[session] } }

    private func beginSession(_ head: HTTPRequestHead) -> Int {
        let header = head.headers.first(name: "X-Twilio-Signature")
        let session = state.withLock { s in
            s.sessions += 1
            if let header { s.signatures[s.sessions] = header }
            return s.sessions
        }
        logger.info("session \(session) connected", metadata: ["path": "\(head.uri)", "signed": "\(header != nil)"])
        if let token = configuration.authToken, var url = configuration.signedURL {
            let port = channel.withLock { $0?.localAddress?.port }
            url = url.replacingOccurrences(of: "{port}", with: port.map(String.init) ?? "{port}")
            let valid = header.map { TwilioSignature(authToken: token).isValid(signature: $0, url: url, parameters: []) } ?? false
            if !valid { violation("session \(session): X-Twilio-Signature does not verify for \(url)") }
        }
        return session
    }

    func violation(_ text: String) {
        logger.warning("protocol violation", metadata: ["problem": "\(text)"])
        state.withLock { $0.violations.append(text) }
    }

    func record(_ session: Int, _ direction: RelayAppRecord.Direction, _ text: String) {
        if direction == .received { logger.info("← \(text)", metadata: ["session": "\(session)"]) }
        state.withLock { $0.records.append(RelayAppRecord(session: session, direction: direction, atNanos: NIODeadline.now().uptimeNanoseconds, text: text)) }
    }

    func closed(_ session: Int, code: Int) {
        logger.info("session \(session) closed", metadata: ["code": "\(code)"])
        state.withLock { $0.closes[session] = code }
    }
}

/// One relay session: strict checks on what arrives, and the scripted answers.
final class RelayAppSession: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let app: RelayAppEmulator
    private let session: Int
    private var validator = RelayAppValidator()
    private var context: ChannelHandlerContext?
    /// Bumped to stop a reply that is still streaming.
    private var generation = 0
    private var queued: [RelayAppAction] = []
    private var streaming = false

    init(app: RelayAppEmulator, session: Int) {
        self.app = app
        self.session = session
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            receive(String(buffer: frame.unmaskedData))
        case .binary:
            app.violation("session \(session): a binary frame")
        case .connectionClose:
            var data = frame.unmaskedData
            app.closed(session, code: data.readInteger(as: UInt16.self).map(Int.init) ?? 1005)
            generation += 1
            var reply = context.channel.allocator.buffer(capacity: 2)
            reply.writeInteger(UInt16(1000))
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: reply))).assumeIsolated()
                .whenComplete { _ in context.close(promise: nil) }
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        generation += 1
        context.fireChannelInactive()
    }

    private func receive(_ text: String) {
        app.record(session, .received, text)
        let (type, problems) = validator.check(text)
        for p in problems { app.violation("session \(session): \(p) in \(text)") }
        guard problems.isEmpty, let message = RelayAppJSON.parse(text), case let .object(o) = message else { return }
        switch type {
        case "setup":
            if let greeting = app.configuration.greeting { act(greeting) }
        case "dtmf":
            guard case let .string(d)? = o["digit"], let digit = d.first else { return }
            stopReply()
            act(app.configuration.keys[digit] ?? .reply(app.configuration.defaultReply.replacingOccurrences(of: "{digit}", with: d)))
        case "prompt":
            // A final prompt is the caller's turn: answer it as an LLM app would, echoing it.
            guard case .bool(true)? = o["last"], case let .string(words)? = o["voicePrompt"] else { return }
            stopReply()
            act(.reply("You said: \(words)"))
        case "interrupt":
            // A real app stops generating and closes the cut cycle.
            if streaming {
                stopReply()
                send(RelayAppJSON.message("text", [("token", .string("")), ("last", .bool(true))]))
            }
        default:
            break
        }
    }

    private func stopReply() {
        generation += 1
        streaming = false
        queued = []
    }

    private func act(_ action: RelayAppAction) {
        if streaming {
            queued.append(action)
            return
        }
        switch action {
        case let .reply(text): stream(text, then: nil)
        case let .sendDigits(digits): send(RelayAppJSON.message("sendDigits", [("digits", .string(digits))]))
        case let .play(source): send(RelayAppJSON.message("play", [("source", .string(source))]))
        case let .goodbye(text, handoff): stream(text, then: .end(handoffData: handoff))
        case let .end(handoff):
            send(RelayAppJSON.message("end", handoff.map { [("handoffData", RelayAppJSON.string($0))] } ?? []))
        case let .several(actions):
            for a in actions { act(a) }
        case .nothing:
            break
        }
    }

    /// One word per token (with its leading space), at absolute deadlines `t0 + k × interval`.
    private func stream(_ text: String, then next: RelayAppAction?) {
        guard let context else { return }
        var tokens: [String] = []
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            tokens.append(tokens.isEmpty ? String(word) : " " + word)
        }
        guard !tokens.isEmpty else { return }
        streaming = true
        generation += 1
        let current = generation
        let start = NIODeadline.now()
        let interval = Int64(app.configuration.tokenIntervalMs)
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        for (k, token) in tokens.enumerated() {
            let last = k == tokens.count - 1
            let message = RelayAppJSON.message("text", [("token", .string(token)), ("last", .bool(last))])
            loop.scheduleTask(deadline: start + .milliseconds(interval * Int64(k))) {
                let s = bound.value
                guard s.generation == current else { return }
                s.send(message)
                if last {
                    s.streaming = false
                    if let next { s.act(next) }
                    let queued = s.queued
                    s.queued = []
                    for a in queued { s.act(a) }
                }
            }
        }
    }

    private func send(_ text: String) {
        guard let context else { return }
        app.record(session, .sent, text)
        var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: buffer)), promise: nil)
    }
}
