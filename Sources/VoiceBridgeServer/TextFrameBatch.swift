import NIOCore

/// Outbound WebSocket frames (text, or binary media), written back to back into one reused buffer.
///
/// Why not one `WebSocketFrame` per message: each would need its own `ByteBuffer` (an allocation
/// per 20 ms frame per call), and slices of a shared buffer don't help either, because
/// `WebSocketFrameEncoder` only prepends the header into a buffer it owns uniquely, and writing
/// into a buffer whose slices are still queued copies it.
///
/// Instead the frame header (server frames are unmasked: 2, 4 or 10 bytes) is written here, in
/// front of each JSON message, and a flush hands the whole batch to the channel as one
/// `ByteBuffer` below the frame encoder. Once the socket has taken the bytes the channel drops
/// its reference, the buffer is uniquely owned again and is cleared and reused: in steady state a
/// call sends every frame without allocating. Only when a batch is still queued (the peer reads
/// slowly) is a fresh buffer allocated.
struct TextFrameBatch {
    private(set) var buffer: ByteBuffer
    private let allocator: ByteBufferAllocator
    private let initialCapacity: Int
    /// How many buffers were allocated (for tests and debugging).
    private(set) var allocations = 1

    /// Room reserved in front of each message: the 16-bit-length header, the common case for
    /// media. Messages of 125 bytes or less are moved 2 bytes left; over 64 KiB, 6 bytes right.
    static let reservedHeaderBytes = 4

    /// 1 KiB holds a tick's worth (a media message is ~260 bytes; the opening lead is three);
    /// per-call memory matters at thousands of calls, and the buffer grows if ever needed.
    init(allocator: ByteBufferAllocator, initialCapacity: Int = 1024) {
        self.allocator = allocator
        self.initialCapacity = initialCapacity
        self.buffer = allocator.buffer(capacity: initialCapacity)
    }

    /// Bytes written but not yet taken by `takeBatch()`.
    var pendingBytes: Int { buffer.readableBytes }

    /// Appends one complete frame whose payload `write` produces: text unless `binary` (the
    /// media of Vonage and Asterisk).
    mutating func append(binary: Bool = false, _ write: (inout ByteBuffer) -> Void) {
        let opcode: UInt8 = binary ? 0x82 : 0x81
        if buffer.readableBytes == 0 { reclaim() }
        let headerIndex = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        write(&buffer)
        let payloadStart = headerIndex + Self.reservedHeaderBytes
        let length = buffer.writerIndex - payloadStart
        if length <= 125 {
            move(from: payloadStart, length: length, to: headerIndex + 2)
            buffer.setInteger(opcode, at: headerIndex)
            buffer.setInteger(UInt8(length), at: headerIndex + 1)
            buffer.moveWriterIndex(to: headerIndex + 2 + length)
        } else if length <= Int(UInt16.max) {
            buffer.setInteger(opcode, at: headerIndex)
            buffer.setInteger(UInt8(126), at: headerIndex + 1)
            buffer.setInteger(UInt16(length), at: headerIndex + 2)
        } else {
            buffer.writeInteger(UInt64(0))  // 6 more bytes of room (8 written, 2 trimmed below)
            move(from: payloadStart, length: length, to: headerIndex + 10)
            buffer.setInteger(opcode, at: headerIndex)
            buffer.setInteger(UInt8(127), at: headerIndex + 1)
            buffer.setInteger(UInt64(length), at: headerIndex + 2)
            buffer.moveWriterIndex(to: headerIndex + 10 + length)
        }
    }

    /// The frames written since the last call, as one buffer for the channel; nil if none.
    mutating func takeBatch() -> ByteBuffer? {
        guard buffer.readableBytes > 0 else { return nil }
        return buffer.readSlice(length: buffer.readableBytes)
    }

    /// Starts a new batch at the front of the buffer if nobody else holds it, otherwise in a new one.
    private mutating func reclaim() {
        let reused: Void? = buffer.modifyIfUniquelyOwned { $0.clear() }
        if reused == nil {
            buffer = allocator.buffer(capacity: initialCapacity)
            allocations += 1
        }
    }

    /// memmove within the (uniquely owned) buffer; source and destination may overlap.
    private mutating func move(from source: Int, length: Int, to destination: Int) {
        guard length > 0, source != destination else { return }
        let readerIndex = buffer.readerIndex
        buffer.withUnsafeMutableReadableBytes { bytes in
            let base = bytes.baseAddress!
            (base + (destination - readerIndex)).copyMemory(from: base + (source - readerIndex), byteCount: length)
        }
    }
}
