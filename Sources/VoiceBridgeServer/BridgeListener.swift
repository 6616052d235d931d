#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import VoiceBridgeSpeech

/// The listening socket, with every accepted connection placed on an event loop by load
/// (`LoopPlacement`) instead of by NIO's accept round-robin.
///
/// NIO's `ServerBootstrap` gives each child channel `childGroup.next()` and accepts only a
/// `MultiThreadedEventLoopGroup` there, so there is no hook to choose. This listener accepts on a
/// thread of its own (one blocking `accept4` per connection, nothing per frame) and hands each
/// socket to its chosen loop with `ClientBootstrap.withConnectedSocket`, then runs Hummingbird's
/// child-channel setup and handling on it exactly as Hummingbird's `Server` would.
///
/// Graceful shutdown, in two steps: first send `ChannelShouldQuiesceEvent` to every open
/// connection (HTTP finishes its request; a media socket drains its call) but go on accepting, so
/// webhooks and `/healthz` are answered (503, draining) while calls finish, and load balancers
/// and carriers hear that this instance is going; once `drained` returns (the live calls are
/// over), stop accepting, quiesce what opened since, and return once all of it has closed.
struct BridgeListener<ChildChannel: ServerChildChannel>: Service {
    let host: String
    let port: Int
    let backlog: Int32
    let childChannel: ChildChannel
    let placement: LoopPlacement
    let logger: Logger
    let onServerRunning: @Sendable (Int) async -> Void
    /// Returns once the calls live at the shutdown are over (or their time is up).
    var drained: @Sendable () async -> Void = {}

    func run() async throws {
        let socket = try ListeningSocket(host: host, port: port, backlog: backlog)
        let (accepted, continuation) = AsyncStream<CInt>.makeStream()
        let open = OpenConnections()
        let logger = self.logger
        NamedThread.start("vb-accept") { [socket] in
            socket.acceptLoop(logger: logger) { continuation.yield($0) }
            continuation.finish()
        }
        logger.info("listening", metadata: [
            "host": "\(host)", "port": "\(socket.port)", "eventLoops": "\(placement.loops.count)",
        ])

        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await onServerRunning(socket.port)
                await withDiscardingTaskGroup { group in
                    for await fd in accepted {
                        let index = placement.placeConnection()
                        let loop = placement.loops[index]
                        group.addTask {
                            await serve(fd, on: loop, index: index, open: open)
                        }
                    }
                }
            } onCancel: {
                socket.stopAccepting()
            }
        } onGracefulShutdown: { [drained] in
            open.quiesceAll(includingNew: false)
            Task {
                await drained()
                socket.stopAccepting()
                open.quiesceAll(includingNew: true)
            }
        }
    }

    private func serve(_ fd: CInt, on loop: any EventLoop, index: Int, open: OpenConnections) async {
        let value: ChildChannel.Value
        do {
            value = try await ClientBootstrap(group: loop)
                .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .withConnectedSocket(fd) { channel in
                    childChannel.setup(channel: channel, logger: logger)
                }
        } catch {
            placement.connectionClosed(onLoop: index)
            logger.debug("connection failed during setup", metadata: ["error": "\(error)"])
            return
        }
        let channel = value.channel
        let placement = self.placement
        channel.closeFuture.whenComplete { _ in placement.connectionClosed(onLoop: index) }
        let id = open.add(channel)
        await childChannel.handle(value: value, logger: logger)
        open.remove(id)
    }
}

/// Connections still open, so that a graceful shutdown can ask each to finish.
private final class OpenConnections: Sendable {
    private struct State {
        var channels: [UInt64: any Channel] = [:]
        var next: UInt64 = 0
        var quiescing = false
    }

    private let state = Mutex(State())

    func add(_ channel: any Channel) -> UInt64 {
        let (id, quiescing) = state.withLock { state in
            state.next += 1
            state.channels[state.next] = channel
            return (state.next, state.quiescing)
        }
        // Opened as the shutdown began: it is asked to finish like the rest.
        if quiescing { channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
        return id
    }

    func remove(_ id: UInt64) {
        _ = state.withLock { $0.channels.removeValue(forKey: id) }
    }

    /// Asks every open connection to finish; `includingNew`: those opened later too.
    func quiesceAll(includingNew: Bool) {
        let channels = state.withLock { state in
            if includingNew { state.quiescing = true }
            return Array(state.channels.values)
        }
        for channel in channels {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }
}

/// A bound, listening TCP socket whose accepts run on a thread of their own.
final class ListeningSocket: Sendable {
    let fd: CInt
    let port: Int
    private let stopped = Atomic<Bool>(false)
    /// Guards the descriptor: `shutdown` must never reach a number that `close` has freed.
    private let closed = Mutex(false)

    init(host: String, port: Int, backlog: Int32) throws {
        let address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        let family: CInt = address.protocol == .inet6 ? AF_INET6 : AF_INET
        let fd = Glibc.socket(family, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ListenerError("socket", errno) }
        var one: CInt = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size))
        let bound = address.withSockAddr { pointer, length in Glibc.bind(fd, pointer, socklen_t(length)) }
        guard bound == 0 else {
            let error = ListenerError("bind \(host):\(port)", errno)
            close(fd)
            throw error
        }
        guard listen(fd, backlog) == 0 else {
            let error = ListenerError("listen", errno)
            close(fd)
            throw error
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        var boundPort = port
        if named == 0 {
            // sin_port and sin6_port both sit at offset 2, in network byte order.
            boundPort = withUnsafeBytes(of: storage) { Int($0[2]) << 8 | Int($0[3]) }
        }
        self.fd = fd
        self.port = boundPort
    }

    /// Accepts until `stopAccepting()`, then closes the socket. Blocking: run it on its own thread.
    func acceptLoop(logger: Logger, _ onAccept: (CInt) -> Void) {
        var exhaustedLogged = false
        while !stopped.load(ordering: .acquiring) {
            let client = accept(fd, nil, nil)
            if client >= 0 {
                // accept4 is not in Swift's Glibc module; NIO wants the socket non-blocking.
                _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                exhaustedLogged = false
                onAccept(client)
                continue
            }
            switch errno {
            case EINTR, ECONNABORTED, EAGAIN, EPROTO:
                continue
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                // Out of descriptors: new callers wait in the backlog until calls end.
                if !exhaustedLogged {
                    logger.error("cannot accept connections: out of file descriptors or memory", metadata: ["errno": "\(errno)"])
                    exhaustedLogged = true
                }
                usleep(50_000)
            default:
                if !stopped.load(ordering: .acquiring) {
                    logger.error("accept failed; no longer listening", metadata: ["errno": "\(errno)"])
                }
                stopped.store(true, ordering: .releasing)
            }
        }
        closed.withLock { closed in
            closed = true
            close(fd)
        }
    }

    /// Ends the accept loop: `shutdown` wakes a blocked `accept` on Linux.
    func stopAccepting() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        closed.withLock { closed in
            if !closed { shutdown(fd, CInt(SHUT_RDWR)) }
        }
    }
}

struct ListenerError: Error, CustomStringConvertible {
    let description: String
    init(_ what: String, _ code: CInt) {
        description = "\(what): \(String(cString: strerror(code)))"
    }
}
