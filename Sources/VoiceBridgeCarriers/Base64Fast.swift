import NIOCore

/// Standard (RFC 4648 §4, padded) base64 over raw buffers, written straight into a `ByteBuffer`.
///
/// Every media message in both directions carries base64; Foundation's codec works on `Data`
/// and `String`, which would cost an allocation and a copy per 20 ms frame per call.
public enum Base64Fast {
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// 0xFF marks bytes outside the alphabet (including '='), so one OR over a quad detects them.
    static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() {
            table[Int(byte)] = UInt8(index)
        }
        return table
    }()

    public static func encodedLength(_ byteCount: Int) -> Int {
        (byteCount + 2) / 3 * 4
    }

    /// An upper bound; the exact length depends on the padding.
    public static func maxDecodedLength(_ characterCount: Int) -> Int {
        characterCount / 4 * 3
    }

    /// Encodes `source` into `destination`, which must hold `encodedLength(source.count)` bytes.
    /// Returns the number of bytes written.
    @discardableResult
    public static func encode(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int {
        let length = encodedLength(source.count)
        precondition(destination.count >= length, "base64 destination too small")
        return alphabet.withUnsafeBufferPointer { table in
            let count = source.count
            var input = 0
            var output = 0
            while input + 3 <= count {
                let b0 = Int(source[input]), b1 = Int(source[input + 1]), b2 = Int(source[input + 2])
                destination[output] = table[b0 >> 2]
                destination[output + 1] = table[(b0 & 0x03) << 4 | b1 >> 4]
                destination[output + 2] = table[(b1 & 0x0F) << 2 | b2 >> 6]
                destination[output + 3] = table[b2 & 0x3F]
                input += 3
                output += 4
            }
            switch count - input {
            case 1:
                let b0 = Int(source[input])
                destination[output] = table[b0 >> 2]
                destination[output + 1] = table[(b0 & 0x03) << 4]
                destination[output + 2] = UInt8(ascii: "=")
                destination[output + 3] = UInt8(ascii: "=")
                output += 4
            case 2:
                let b0 = Int(source[input]), b1 = Int(source[input + 1])
                destination[output] = table[b0 >> 2]
                destination[output + 1] = table[(b0 & 0x03) << 4 | b1 >> 4]
                destination[output + 2] = table[(b1 & 0x0F) << 2]
                destination[output + 3] = UInt8(ascii: "=")
                output += 4
            default:
                break
            }
            return output
        }
    }

    /// Appends the encoding of `source` to `buffer`, growing it at most once.
    public static func encode(_ source: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) {
        let length = encodedLength(source.count)
        guard length > 0 else { return }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { destination in
            encode(source, into: destination)
        }
    }

    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let source = Array(bytes)
        return String(unsafeUninitializedCapacity: encodedLength(source.count)) { destination in
            source.withUnsafeBytes { encode($0, into: UnsafeMutableRawBufferPointer(destination)) }
        }
    }

    /// Decodes padded base64 into `destination` (at least `maxDecodedLength(source.count)` bytes).
    /// Returns the number of bytes written, or nil if `source` is not valid base64. Whitespace
    /// and missing padding are invalid: Twilio sends neither.
    public static func decode(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int? {
        let count = source.count
        guard count % 4 == 0 else { return nil }
        guard count > 0 else { return 0 }
        precondition(destination.count >= maxDecodedLength(count), "base64 destination too small")
        var padding = 0
        if source[count - 1] == UInt8(ascii: "=") {
            padding = source[count - 2] == UInt8(ascii: "=") ? 2 : 1
        }
        return decodeTable.withUnsafeBufferPointer { table -> Int? in
            let fullQuadsEnd = padding == 0 ? count : count - 4
            var input = 0
            var output = 0
            while input < fullQuadsEnd {
                let a = table[Int(source[input])], b = table[Int(source[input + 1])]
                let c = table[Int(source[input + 2])], d = table[Int(source[input + 3])]
                guard (a | b | c | d) & 0x80 == 0 else { return nil }
                destination[output] = a << 2 | b >> 4
                destination[output + 1] = b << 4 | c >> 2
                destination[output + 2] = c << 6 | d
                input += 4
                output += 3
            }
            if padding > 0 {
                let a = table[Int(source[input])], b = table[Int(source[input + 1])]
                guard (a | b) & 0x80 == 0 else { return nil }
                destination[output] = a << 2 | b >> 4
                output += 1
                if padding == 1 {
                    let c = table[Int(source[input + 2])]
                    guard c & 0x80 == 0 else { return nil }
                    destination[output] = b << 4 | c >> 2
                    output += 1
                }
            }
            return output
        }
    }

    /// Appends the decoding of `source` to `buffer`. Returns false (leaving the buffer's readable
    /// bytes unchanged) if `source` is not valid base64.
    public static func decode(_ source: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) -> Bool {
        let maximum = maxDecodedLength(source.count)
        guard maximum > 0 else { return source.isEmpty }
        var valid = true
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: maximum) { destination in
            guard let written = decode(source, into: destination) else {
                valid = false
                return 0
            }
            return written
        }
        return valid
    }

    public static func decode(_ string: String) -> [UInt8]? {
        let utf8 = Array(string.utf8)
        return utf8.withUnsafeBytes { source -> [UInt8]? in
            var output = [UInt8](repeating: 0, count: maxDecodedLength(source.count))
            let written = output.withUnsafeMutableBytes { decode(source, into: $0) }
            guard let written else { return nil }
            output.removeLast(output.count - written)
            return output
        }
    }

    // MARK: base64url (RFC 4648 §5, unpadded) for tokens that travel in URL paths

    public static func encodeURLSafe(_ bytes: some Sequence<UInt8>) -> String {
        var text = Array(encode(bytes).utf8)
        while text.last == UInt8(ascii: "=") { text.removeLast() }
        for index in text.indices {
            switch text[index] {
            case UInt8(ascii: "+"): text[index] = UInt8(ascii: "-")
            case UInt8(ascii: "/"): text[index] = UInt8(ascii: "_")
            default: break
            }
        }
        return String(decoding: text, as: UTF8.self)
    }

    public static func decodeURLSafe(_ string: String) -> [UInt8]? {
        var text: [UInt8] = []
        text.reserveCapacity(string.utf8.count + 2)
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "-"): text.append(UInt8(ascii: "+"))
            case UInt8(ascii: "_"): text.append(UInt8(ascii: "/"))
            case UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "="): return nil
            default: text.append(byte)
            }
        }
        switch text.count % 4 {
        case 0: break
        case 2: text.append(contentsOf: [UInt8(ascii: "="), UInt8(ascii: "=")])
        case 3: text.append(UInt8(ascii: "="))
        default: return nil
        }
        guard let decoded = decode(String(decoding: text, as: UTF8.self)) else { return nil }
        // Only the canonical spelling (unused trailing bits zero) is accepted, so one byte
        // string has exactly one encoding.
        guard encodeURLSafe(decoded) == string else { return nil }
        return decoded
    }
}
