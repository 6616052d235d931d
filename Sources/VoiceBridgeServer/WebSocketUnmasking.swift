import NIOCore
import NIOWebSocket

/// Copies a masked client frame's payload and unmasks it in one pass, eight bytes at a time.
///
/// NIO's `webSocketUnmask` goes byte by byte after a separate copy; for the 100 inbound messages a
/// second of every call that showed as 3 % of the server's CPU.
enum WebSocketUnmasking {
    static func write(_ payload: ByteBuffer, maskedWith key: WebSocketMaskingKey, into destination: inout ByteBuffer) {
        let count = payload.readableBytes
        destination.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { out in
            payload.withUnsafeReadableBytes { source in
                unmask(source, key: key, into: out)
            }
            return count
        }
    }

    /// `out[i] = source[i] ^ key[i % 4]`.
    static func unmask(_ source: UnsafeRawBufferPointer, key: WebSocketMaskingKey, into out: UnsafeMutableRawBufferPointer) {
        // The key twice, as memory holds it: the same on either byte order.
        let pattern: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3])
        let word = withUnsafeBytes(of: pattern) { $0.loadUnaligned(as: UInt64.self) }
        let count = source.count
        var i = 0
        while i + 8 <= count {
            let v = source.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            out.storeBytes(of: v ^ word, toByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < count {
            out[i] = source[i] ^ key[i & 3]
            i += 1
        }
    }
}
