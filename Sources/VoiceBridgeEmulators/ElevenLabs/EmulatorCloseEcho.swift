import NIOCore
import NIOWebSocket

/// The emulator's side of a close the client starts: the same code back, then the connection
/// ends once it is written (RFC 6455 §5.5.1), as the service does.
enum EmulatorCloseEcho {
    static func answer(_ frame: WebSocketFrame, context: ChannelHandlerContext) {
        var data = frame.unmaskedData
        let code = data.readWebSocketErrorCode() ?? .normalClosure
        var reply = context.channel.allocator.buffer(capacity: 2)
        reply.write(webSocketErrorCode: code)
        context.writeAndFlush(NIOAny(WebSocketFrame(fin: true, opcode: .connectionClose, data: reply)))
            .assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
