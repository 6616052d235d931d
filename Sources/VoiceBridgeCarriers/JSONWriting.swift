import NIOCore

/// The few JSON-writing primitives the encoders need; the encoders lay out the rest of each
/// message as fixed bytes so that field order and spelling are exactly what the carrier expects.
/// Every module that writes JSON by hand (relay codec, recordings, emulators) quotes with it.
public enum JSONWriting {
    /// `text` as a quoted JSON string; UTF-8 above ASCII is kept as is.
    public static func quoted(_ text: String) -> String {
        var output: [UInt8] = [UInt8(ascii: "\"")]
        output.reserveCapacity(text.utf8.count + 2)
        appendEscaped(text, to: &output)
        output.append(UInt8(ascii: "\""))
        return String(decoding: output, as: UTF8.self)
    }

    @inline(__always)
    static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    /// Appends `text` as JSON string content (without the quotes). UTF-8 above ASCII is kept
    /// as is, which JSON allows and which keeps names byte-identical on echo.
    static func appendEscaped(_ text: String, to output: inout [UInt8]) {
        for byte in text.utf8 {
            guard needsEscape(byte) else {
                output.append(byte)
                continue
            }
            output.append(UInt8(ascii: "\\"))
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): output.append(byte)
            case 0x08: output.append(UInt8(ascii: "b"))
            case 0x0C: output.append(UInt8(ascii: "f"))
            case 0x0A: output.append(UInt8(ascii: "n"))
            case 0x0D: output.append(UInt8(ascii: "r"))
            case 0x09: output.append(UInt8(ascii: "t"))
            default:
                let hex = Array("0123456789abcdef".utf8)
                output.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]])
            }
        }
    }

    static func escaped(_ text: String) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count)
        appendEscaped(text, to: &output)
        return output
    }

    /// Writes a quoted JSON string.
    public static func writeQuoted(_ text: String, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        writeEscapedContent(text, into: &buffer)
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    /// Writes JSON string content without the quotes; names that need no escape (all of ours)
    /// are copied as they are.
    static func writeEscapedContent(_ text: String, into buffer: inout ByteBuffer) {
        if text.utf8.contains(where: needsEscape) {
            buffer.writeBytes(escaped(text))
        } else {
            buffer.writeString(text)
        }
    }

    /// Writes a non-negative integer in decimal without going through `String`.
    public static func writeDecimal(_ value: Int, into buffer: inout ByteBuffer) {
        precondition(value >= 0, "counters are non-negative")
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: digits) { destination in
            var remaining = value
            for index in stride(from: digits - 1, through: 0, by: -1) {
                destination[index] = UInt8(ascii: "0") &+ UInt8(remaining % 10)
                remaining /= 10
            }
            return digits
        }
    }
}
