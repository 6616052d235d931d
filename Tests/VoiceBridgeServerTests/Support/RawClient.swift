import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A plain TCP client for live-server tests: bytes in, bytes out, nothing interpreted by NIO, so
/// tests see exactly what the server put on the wire (status lines, frame headers, close codes).
final class RawClient: Sendable {
    struct Timeout: Error, CustomStringConvertible {
        let what: String
        var description: String { "timed out waiting for \(what)" }
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let state = NIOLockedValueBox((buffer: ByteBuffer(), eof: false))

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var incoming = unwrapInboundIn(data)
            _ = state.withLockedValue { $0.buffer.writeBuffer(&incoming) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            state.withLockedValue { $0.eof = true }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    let channel: any Channel
    private let collector: Collector

    private init(channel: any Channel, collector: Collector) {
        self.channel = channel
        self.collector = collector
    }

    /// - Parameter receiveBufferSize: a small SO_RCVBUF makes a non-reading client fill up fast.
    static func connect(port: Int, autoRead: Bool = true, receiveBufferSize: Int? = nil) async throws -> RawClient {
        let collector = Collector()
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(ChannelOptions.autoRead, value: autoRead)
        if let receiveBufferSize {
            bootstrap = bootstrap.channelOption(
                ChannelOptions.socketOption(.so_rcvbuf),
                value: SocketOptionValue(receiveBufferSize)
            )
        }
        let channel = try await bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        return RawClient(channel: channel, collector: collector)
    }

    func send(_ bytes: ByteBuffer) async throws {
        try await channel.writeAndFlush(bytes)
    }

    func send(_ text: String) async throws {
        try await send(ByteBuffer(string: text))
    }

    func close() async {
        try? await channel.close()
    }

    var isClosed: Bool { collector.state.withLockedValue { $0.eof } }

    /// Polls the received bytes until `parse` takes something out of them (it consumes what it
    /// reads by moving the reader index), the peer closes (nil), or the timeout passes.
    func read<T>(
        _ what: String,
        timeout: Duration = .seconds(5),
        _ parse: @escaping @Sendable (inout ByteBuffer) -> T?
    ) async throws -> T? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let (value, eof) = collector.state.withLockedValue { state -> (T?, Bool) in
                var copy = state.buffer
                if let value = parse(&copy) {
                    state.buffer = copy
                    return (value, false)
                }
                return (nil, state.eof)
            }
            if let value { return value }
            if eof { return nil }
            if ContinuousClock.now >= deadline { throw Timeout(what: what) }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Waits until the peer has closed the connection.
    func waitForClose(timeout: Duration = .seconds(5)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !isClosed {
            if ContinuousClock.now >= deadline { throw Timeout(what: "connection close") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

/// An HTTP/1.1 response as read off the wire.
struct RawHTTPResponse: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: String

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// Parses a complete response head (and a Content-Length body) from the front of `buffer`.
    static func parse(_ buffer: inout ByteBuffer) -> RawHTTPResponse? {
        let view = buffer.readableBytesView
        guard let end = view.firstRange(of: Array("\r\n\r\n".utf8)) else { return nil }
        let headLength = end.upperBound - view.startIndex
        let head = String(decoding: view[view.startIndex..<end.lowerBound], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
        let headers = lines.compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var response = RawHTTPResponse(status: status, headers: headers, body: "")
        let length = Int(response.header("Content-Length") ?? "0") ?? 0
        guard buffer.readableBytes >= headLength + length else { return nil }
        buffer.moveReaderIndex(forwardBy: headLength)
        response.body = buffer.readString(length: length) ?? ""
        return response
    }
}

extension RawClient {
    /// One request on a fresh connection (`Connection: close`).
    static func http(
        port: Int,
        method: String,
        path: String,
        headers: [(String, String)] = [],
        body: String = ""
    ) async throws -> RawHTTPResponse {
        let client = try await RawClient.connect(port: port)
        defer { Task { await client.close() } }
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        if method == "POST" {
            request += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n"
        }
        request += "\r\n" + body
        try await client.send(request)
        guard let response = try await client.read("HTTP response", { RawHTTPResponse.parse(&$0) }) else {
            throw RawClient.Timeout(what: "HTTP response (connection closed first)")
        }
        return response
    }
}
