import NIOCore

/// Fault injection for a slow network, at the socket end of the pipeline: reads are paced (one
/// per `readInterval`, so the client's writes back up), and writes go out in small pieces with
/// gaps (so the client sees frames and chunks split across many TCP segments, late).
///
/// Order is kept: a close waits until every queued piece is out.
final class ElevenLabsEmulatorThrottleHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private let readInterval: TimeAmount
    private let writeBytes: Int
    private let writeInterval: TimeAmount
    private var lastRead: NIODeadline = .distantPast
    private var readPending: Scheduled<Void>?
    private var queue: [(piece: ByteBuffer, promise: EventLoopPromise<Void>?)] = []
    private var writing: Scheduled<Void>?
    private var pendingClose: (mode: CloseMode, promise: EventLoopPromise<Void>?)?

    init(readInterval: TimeAmount, writeBytes: Int, writeInterval: TimeAmount) {
        self.readInterval = readInterval
        self.writeBytes = max(1, writeBytes)
        self.writeInterval = writeInterval
    }

    func read(context: ChannelHandlerContext) {
        guard readPending == nil else { return }
        let due = lastRead + readInterval
        if due <= .now() {
            lastRead = .now()
            context.read()
            return
        }
        readPending = context.eventLoop.assumeIsolated().scheduleTask(deadline: due) { [self] in
            readPending = nil
            lastRead = .now()
            context.read()
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .byteBuffer(var buffer) = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        while buffer.readableBytes > writeBytes, let piece = buffer.readSlice(length: writeBytes) {
            queue.append((piece, nil))
        }
        queue.append((buffer, promise))
        if writing == nil { writeNext(context: context) }
    }

    func flush(context: ChannelHandlerContext) {
        // Pieces are flushed one by one as they go out.
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard !queue.isEmpty else {
            context.close(mode: mode, promise: promise)
            return
        }
        pendingClose = (mode, promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        readPending?.cancel()
        writing?.cancel()
    }

    private func writeNext(context: ChannelHandlerContext) {
        guard !queue.isEmpty else {
            writing = nil
            if let close = pendingClose {
                pendingClose = nil
                context.close(mode: close.mode, promise: close.promise)
            }
            return
        }
        let (piece, promise) = queue.removeFirst()
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(piece)), promise: promise)
        writing = context.eventLoop.assumeIsolated().scheduleTask(in: writeInterval) { [self] in
            writeNext(context: context)
        }
    }
}
