import NIOCore
import NIOWebSocket

/// Reads a client's WebSocket frames (RFC 6455 §5) straight from the socket's bytes, for the
/// media socket: 100 messages a second per call.
///
/// NIO's frame decoder makes a `WebSocketFrame` per message (an allocation for its storage),
/// boxes it through the pipeline, then an aggregator and the handler each look at it again. Here
/// a whole frame that is already in the read buffer is unmasked straight into one reused message
/// buffer and handed over; only a frame split across reads is copied aside first. A data message
/// costs no allocation, and one pass over its bytes.
///
/// Strict as a server must be: client frames are masked, reserved bits are zero, control frames
/// are final and at most 125 bytes, continuation frames follow a fragmented message and nothing
/// else does. A frame or message over `maxMessageBytes` is refused from its header, before its
/// payload is buffered.
struct WebSocketFrameReader {
    enum Frame {
        /// A complete text message, unmasked. Valid until the next `read`.
        case text(ByteBuffer)
        case binary(ByteBuffer)
        case ping(ByteBuffer)
        case pong
        case close(ByteBuffer)
    }

    enum Failure: Error, Equatable {
        /// RFC 6455 framing broken (close 1002).
        case protocolError(String)
        /// Over `maxMessageBytes` or `maxFragments` (close 1009).
        case tooLarge(String)
    }

    let maxMessageBytes: Int
    let maxFragments: Int
    /// Bytes of a frame that has not fully arrived.
    private var partial: ByteBuffer
    /// The message being read, unmasked; reused from message to message.
    private var message: ByteBuffer
    /// The opcode of a fragmented message still waiting for its final frame.
    private var continuing: WebSocketOpcode?
    private var fragments = 0

    init(maxMessageBytes: Int, maxFragments: Int = 64, allocator: ByteBufferAllocator) {
        self.maxMessageBytes = maxMessageBytes
        self.maxFragments = maxFragments
        // A Twilio media message is about 330 bytes; both grow for the rare larger one.
        partial = allocator.buffer(capacity: 0)
        message = allocator.buffer(capacity: 512)
    }

    /// Reads every complete frame in `bytes` (after what an earlier read left), in order.
    mutating func read(_ bytes: ByteBuffer, _ onFrame: (Frame) throws(Failure) -> Void) throws(Failure) {
        if partial.readableBytes == 0 {
            var input = bytes
            try readFrames(&input, onFrame)
            if input.readableBytes > 0 {
                partial.clear()
                partial.writeImmutableBuffer(input)
            }
        } else {
            partial.writeImmutableBuffer(bytes)
            var input = partial
            partial = ByteBuffer()  // keep `input` uniquely owned while it is read
            try readFrames(&input, onFrame)
            input.discardReadBytes()
            partial = input
        }
    }

    private mutating func readFrames(_ input: inout ByteBuffer, _ onFrame: (Frame) throws(Failure) -> Void) throws(Failure) {
        while let header = try Self.header(in: input, maxMessageBytes: maxMessageBytes) {
            guard input.readableBytes >= header.size + header.length else { return }
            input.moveReaderIndex(forwardBy: header.size)
            let payload = input.readSlice(length: header.length)!
            try handle(header, payload, onFrame)
        }
    }

    private mutating func handle(_ h: Header, _ payload: ByteBuffer, _ onFrame: (Frame) throws(Failure) -> Void) throws(Failure) {
        switch h.opcode {
        case .continuation, .text, .binary:
            if h.opcode == .continuation {
                guard continuing != nil else { throw .protocolError("continuation frame without a message") }
            } else {
                guard continuing == nil else { throw .protocolError("new message inside a fragmented one") }
                message.clear()
                fragments = 0
            }
            fragments += 1
            guard fragments <= maxFragments else { throw .tooLarge("more than \(maxFragments) fragments") }
            guard message.readableBytes + payload.readableBytes <= maxMessageBytes else {
                throw .tooLarge("message over \(maxMessageBytes) bytes")
            }
            WebSocketUnmasking.write(payload, maskedWith: h.mask, into: &message)
            if !h.fin {
                if h.opcode != .continuation { continuing = h.opcode }
                return
            }
            let opcode = h.opcode == .continuation ? continuing! : h.opcode
            continuing = nil
            try onFrame(opcode == .text ? .text(message) : .binary(message))
        case .ping, .pong, .connectionClose:
            var unmasked = ByteBuffer()
            WebSocketUnmasking.write(payload, maskedWith: h.mask, into: &unmasked)
            switch h.opcode {
            case .ping: try onFrame(.ping(unmasked))
            case .pong: try onFrame(.pong)
            default: try onFrame(.close(unmasked))
            }
        default:
            throw .protocolError("reserved opcode \(h.opcode)")
        }
    }

    struct Header {
        var fin: Bool
        var opcode: WebSocketOpcode
        var mask: WebSocketUnmasking.Key
        /// Header bytes, mask included.
        var size: Int
        var length: Int
    }

    /// The frame header at the reader index, nil until all of it has arrived.
    static func header(in input: ByteBuffer, maxMessageBytes: Int) throws(Failure) -> Header? {
        let start = input.readerIndex
        guard input.readableBytes >= 2,
            let b0 = input.getInteger(at: start, as: UInt8.self),
            let b1 = input.getInteger(at: start + 1, as: UInt8.self)
        else { return nil }
        guard b0 & 0x70 == 0 else { throw .protocolError("reserved bits set") }
        guard b1 & 0x80 != 0 else { throw .protocolError("unmasked client frame") }
        let opcode = WebSocketOpcode(encodedWebSocketOpcode: b0 & 0x0F)!
        let fin = b0 & 0x80 != 0
        var size = 2
        var length = Int(b1 & 0x7F)
        if opcode.isControlOpcode {
            guard fin else { throw .protocolError("fragmented control frame") }
            guard length <= 125 else { throw .protocolError("control frame over 125 bytes") }
        }
        if length == 126 {
            guard let n = input.getInteger(at: start + 2, as: UInt16.self) else { return nil }
            length = Int(n)
            size += 2
        } else if length == 127 {
            guard let n = input.getInteger(at: start + 2, as: UInt64.self) else { return nil }
            guard n <= UInt64(Int32.max) else { throw .tooLarge("frame of \(n) bytes") }
            length = Int(n)
            size += 8
        }
        // Refused from the header: the payload is never buffered.
        guard length <= maxMessageBytes else { throw .tooLarge("frame of \(length) bytes") }
        guard let key = input.getInteger(at: start + size, as: UInt32.self) else { return nil }
        size += 4
        return Header(fin: fin, opcode: opcode, mask: WebSocketUnmasking.Key(networkOrder: key), size: size, length: length)
    }
}
