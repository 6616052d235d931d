import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import VoiceBridgeCarriers

/// A local stand-in for Telnyx's Call Control REST API, over real HTTP on loopback: what the
/// phone simulator's Telnyx answers when the bridge commands a call
/// (`POST /v2/calls/{call_control_id}/actions/{answer|hangup|transfer|reject}`).
///
/// Checked as Telnyx would, with Telnyx's error shape (`{"errors":[{"code","title","detail"}]}`):
/// the bearer API key (401), a JSON body of documented fields only (422), a known call (404),
/// a call still up (422, code 90018 "call has already ended"), `answer` at most once. A repeated
/// `command_id` on a call is acknowledged and not run again. Failures can be injected
/// (`failNextCommands`) to exercise a client's retries.
///
/// ```swift
/// let api = TelnyxCallControlAPI(apiKey: "KEY…")
/// let port = try await api.start()                 // base URL: http://127.0.0.1:\(port)/v2
/// api.expectCall("v3:…")                           // before its call.initiated webhook goes out
/// let command = await api.nextCommand(for: "v3:…", timeout: .seconds(5))
/// ```
public final class TelnyxCallControlAPI: Sendable {
    /// One command as it arrived, or as it was refused.
    public struct Received: Sendable, Equatable {
        public var callControlID: String
        public var action: String
        public var commandID: String?
        /// Nil when refused.
        public var command: TelnyxCallControlCommand?
        public var status: Int
        /// Why it was refused, as the error body said.
        public var error: String?
    }

    private struct CallState {
        var ended = false
        var answered = false
        var commandIDs: Set<String> = []
        var queue: [Received] = []
        var waiter: CheckedContinuation<Received?, Never>?
        var waiterID = 0
    }

    private struct State {
        var calls: [String: CallState] = [:]
        var log: [Received] = []
        var nextWaiterID = 0
        /// Injected failures, by call.
        var failures: [String: (count: Int, status: Int)] = [:]
    }

    private let apiKey: String?
    private let group: any EventLoopGroup
    private let state = Mutex(State())
    private let channel = Mutex<(any Channel)?>(nil)

    public init(apiKey: String?, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.apiKey = apiKey
        self.group = group
    }

    /// Listens on `host:port` (0: any free port) and returns the port.
    public func start(host: String = "127.0.0.1", port: Int = 0) async throws -> Int {
        try await bind(host: host, port: port).get()
    }

    /// `start` without a task: for a caller that must block until it listens (a test's static
    /// setup), the bind completes on an event loop, not on the waiting thread's executor.
    public func bind(host: String = "127.0.0.1", port: Int = 0) -> EventLoopFuture<Int> {
        ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(TelnyxCallControlAPIHandler(api: self))
                }
            }
            .bind(host: host, port: port)
            .map { [self] channel in
                self.channel.withLock { $0 = channel }
                return channel.localAddress?.port ?? port
            }
    }

    public func stop() async throws {
        let channel = self.channel.withLock { channel in defer { channel = nil }; return channel }
        try await channel?.close()
        // Taken out of the state, so that a pending timeout finds nothing to resume twice.
        let waiters = state.withLock { state in
            var waiters: [CheckedContinuation<Received?, Never>] = []
            for id in state.calls.keys {
                if let waiter = state.calls[id]?.waiter { waiters.append(waiter) }
                state.calls[id]?.waiter = nil
            }
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: nil) }
    }

    /// `http://host:port/v2`, what `telnyx.api_url` should say.
    public var baseURL: String? {
        channel.withLock { $0?.localAddress }.flatMap { address in
            address.port.map { "http://\(address.ipAddress ?? "127.0.0.1"):\($0)/v2" }
        }
    }

    /// Every command received, refused ones included, in order.
    public var log: [Received] { state.withLock { $0.log } }

    /// Makes a call known, as Telnyx does when it sends the call's first webhook.
    public func expectCall(_ id: String) {
        state.withLock { state in
            if state.calls[id] == nil { state.calls[id] = CallState() }
        }
    }

    /// The call is over (its caller hung up): commands now get error 90018.
    public func endCall(_ id: String) {
        state.withLock { $0.calls[id]?.ended = true }
    }

    /// The call's next `count` well-formed commands are answered with `status` (a busy or
    /// failing API) and not run.
    public func failNextCommands(_ count: Int, for id: String, status: Int = 503) {
        state.withLock { $0.failures[id] = (count, status) }
    }

    /// The next accepted command for the call, or nil after `timeout`.
    public func nextCommand(for id: String, timeout: TimeAmount, on loop: any EventLoop) async -> Received? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Received?, Never>) in
            let waiterID: Int? = state.withLock { state in
                guard var call = state.calls[id] else {
                    continuation.resume(returning: nil)
                    return nil
                }
                if !call.queue.isEmpty {
                    let first = call.queue.removeFirst()
                    state.calls[id] = call
                    continuation.resume(returning: first)
                    return nil
                }
                state.nextWaiterID += 1
                // One waiter per call: one that is replaced gets nil rather than waiting forever.
                call.waiter?.resume(returning: nil)
                call.waiter = continuation
                call.waiterID = state.nextWaiterID
                state.calls[id] = call
                return state.nextWaiterID
            }
            guard let waiterID else { return }
            loop.scheduleTask(in: timeout) { [self] in
                let expired: CheckedContinuation<Received?, Never>? = state.withLock { state in
                    guard let call = state.calls[id], call.waiterID == waiterID, let waiter = call.waiter else { return nil }
                    state.calls[id]?.waiter = nil
                    return waiter
                }
                expired?.resume(returning: nil)
            }
        }
    }

    /// Runs one request; returns the status and the JSON body of the reply.
    func handle(method: HTTPMethod, uri: String, headers: HTTPHeaders, body: [UInt8]) -> (status: Int, body: String) {
        func refuse(_ status: Int, _ code: String, _ title: String, _ detail: String) -> (Int, String) {
            (status, TelnyxCallControlReply.error(code: code, title: title, detail: detail))
        }
        let path = uri.prefix { $0 != "?" }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        // "", "v2", "calls", "{id}", "actions", "{action}"
        guard parts.count == 6, parts[0].isEmpty, parts[1] == "v2", parts[2] == "calls", parts[4] == "actions",
            let id = String(parts[3]).removingPercentEncoding, !id.isEmpty
        else {
            return refuse(404, "10005", "Resource not found", "no route \(path)")
        }
        let action = String(parts[5])
        guard method == .POST else { return refuse(405, "10015", "Method not allowed", "use POST") }
        if let apiKey {
            guard BearerToken.matches(authorization: headers.first(name: "Authorization"), token: apiKey) else {
                return record(id, action, nil, nil, refuse(401, "10009", "Authentication failed", "the API key is missing or wrong"))
            }
        }
        guard headers.first(name: "Content-Type")?.lowercased().hasPrefix("application/json") == true else {
            return record(id, action, nil, nil, refuse(415, "10011", "Unsupported media type", "send application/json"))
        }
        let parsed: (command: TelnyxCallControlCommand, commandID: String?)
        do {
            parsed = try TelnyxCallControlCommand.parse(action: action, body: body)
        } catch {
            return record(id, action, nil, nil, refuse(422, "10015", "Invalid parameters", error.description))
        }
        return state.withLock { state -> (Int, String) in
            if let failure = state.failures[id], failure.count > 0 {
                state.failures[id] = (failure.count - 1, failure.status)
                let reply = refuse(failure.status, "10007", "Unexpected error", "injected failure")
                state.log.append(Received(callControlID: id, action: action, commandID: parsed.commandID, command: nil, status: reply.0, error: reply.1))
                return reply
            }
            guard var call = state.calls[id] else {
                let reply = refuse(404, "90015", "Invalid Call Control ID", "no call \(id)")
                state.log.append(Received(callControlID: id, action: action, commandID: parsed.commandID, command: nil, status: reply.0, error: reply.1))
                return reply
            }
            if let commandID = parsed.commandID, call.commandIDs.contains(commandID) {
                return (200, TelnyxCallControlReply.ok)
            }
            var reply: (Int, String) = (200, TelnyxCallControlReply.ok)
            if call.ended {
                reply = refuse(422, TelnyxCallControlReply.callEndedCode, "Call has already ended", "This call is no longer active and can't receive commands.")
            } else if case .answer = parsed.command, call.answered {
                reply = refuse(422, "90034", "Call already answered", "answer was sent before")
            } else if case .answer = parsed.command {
                call.answered = true
            } else if case .reject = parsed.command, call.answered {
                reply = refuse(422, "90034", "Call already answered", "reject is for calls not yet answered")
            } else {
                // hangup, transfer and reject end the call as far as the bridge is concerned.
                call.ended = true
            }
            if let commandID = parsed.commandID, reply.0 == 200 { call.commandIDs.insert(commandID) }
            let received = Received(
                callControlID: id, action: action, commandID: parsed.commandID, command: reply.0 == 200 ? parsed.command : nil,
                status: reply.0, error: reply.0 == 200 ? nil : reply.1)
            state.log.append(received)
            if reply.0 == 200 {
                if let waiter = call.waiter {
                    call.waiter = nil
                    waiter.resume(returning: received)
                } else {
                    call.queue.append(received)
                }
            }
            state.calls[id] = call
            return reply
        }
    }

    private func record(_ id: String, _ action: String, _ commandID: String?, _ command: TelnyxCallControlCommand?, _ reply: (Int, String)) -> (Int, String) {
        state.withLock {
            $0.log.append(Received(callControlID: id, action: action, commandID: commandID, command: command, status: reply.0, error: reply.1))
        }
        return reply
    }
}

/// One connection's requests, one at a time, each answered as JSON.
private final class TelnyxCallControlAPIHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let maxBodyBytes = 64 * 1024

    private let api: TelnyxCallControlAPI
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    init(api: TelnyxCallControlAPI) { self.api = api }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
        case .body(var buffer):
            if body.count + buffer.readableBytes <= Self.maxBodyBytes, let bytes = buffer.readBytes(length: buffer.readableBytes) {
                body += bytes
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let reply = api.handle(method: head.method, uri: head.uri, headers: head.headers, body: body)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(reply.body.utf8.count))
            if !head.isKeepAlive { headers.add(name: "Connection", value: "close") }
            let keepAlive = head.isKeepAlive
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: HTTPResponseStatus(statusCode: reply.status), headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: reply.body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                if !keepAlive { context.close(promise: nil) }
            }
        }
    }
}
