import NIOCore

/// Writes the messages Twilio sends on a Media Streams socket (twilio-media-streams.md §1), straight
/// into a `ByteBuffer`: no JSON DOM and, for `media`, no work beyond copying pre-encoded base64.
struct CarrierWire: Sendable {
    let streamSid: [UInt8]
    let accountSid: String
    let callSid: String

    init(streamSid: String, accountSid: String, callSid: String) {
        self.streamSid = Array(streamSid.utf8)
        self.accountSid = accountSid
        self.callSid = callSid
    }

    static func writeConnected(into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#)
    }

    func writeStart(customParameters: [(String, String)], into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"#)
        JSONText.writeString(accountSid, into: &buffer)
        buffer.writeStaticString(#","streamSid":"#)
        writeStreamSidString(into: &buffer)
        buffer.writeStaticString(#","callSid":"#)
        JSONText.writeString(callSid, into: &buffer)
        buffer.writeStaticString(
            #","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1},"customParameters":{"#
        )
        for (index, (name, value)) in customParameters.enumerated() {
            if index > 0 { buffer.writeStaticString(",") }
            JSONText.writeString(name, into: &buffer)
            buffer.writeStaticString(":")
            JSONText.writeString(value, into: &buffer)
        }
        buffer.writeStaticString(#"}},"streamSid":"#)
        writeStreamSidString(into: &buffer)
        buffer.writeStaticString("}")
    }

    /// A caller media frame; `payloadBase64` is the already-encoded 160-byte frame.
    func writeMedia(
        sequenceNumber: Int, chunk: Int, timestampMs: Int, payloadBase64: UnsafeRawBufferPointer,
        into buffer: inout ByteBuffer
    ) {
        buffer.writeStaticString(#"{"event":"media","sequenceNumber":""#)
        buffer.writeString(String(sequenceNumber))
        buffer.writeStaticString(#"","media":{"track":"inbound","chunk":""#)
        buffer.writeString(String(chunk))
        buffer.writeStaticString(#"","timestamp":""#)
        buffer.writeString(String(timestampMs))
        buffer.writeStaticString(#"","payload":""#)
        buffer.writeBytes(payloadBase64)
        buffer.writeStaticString(#""},"streamSid":"#)
        writeStreamSidString(into: &buffer)
        buffer.writeStaticString("}")
    }

    func writeDTMF(sequenceNumber: Int, digit: Character, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#"{"event":"dtmf","streamSid":"#)
        writeStreamSidString(into: &buffer)
        buffer.writeStaticString(#","sequenceNumber":""#)
        buffer.writeString(String(sequenceNumber))
        buffer.writeStaticString(#"","dtmf":{"track":"inbound_track","digit":"#)
        JSONText.writeString(String(digit), into: &buffer)
        buffer.writeStaticString("}}")
    }

    func writeMarkEcho(sequenceNumber: Int, name: String, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#"{"event":"mark","sequenceNumber":""#)
        buffer.writeString(String(sequenceNumber))
        buffer.writeStaticString(#"","streamSid":"#)
        writeStreamSidString(into: &buffer)
        buffer.writeStaticString(#","mark":{"name":"#)
        JSONText.writeString(name, into: &buffer)
        buffer.writeStaticString("}}")
    }

    func writeStop(sequenceNumber: Int, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#"{"event":"stop","sequenceNumber":""#)
        buffer.writeString(String(sequenceNumber))
        buffer.writeStaticString(#"","stop":{"accountSid":"#)
        JSONText.writeString(accountSid, into: &buffer)
        buffer.writeStaticString(#","callSid":"#)
        JSONText.writeString(callSid, into: &buffer)
        buffer.writeStaticString(#"},"streamSid":"#)
        writeStreamSidString(into: &buffer)
        buffer.writeStaticString("}")
    }

    private func writeStreamSidString(into buffer: inout ByteBuffer) {
        buffer.writeStaticString("\"")
        buffer.writeBytes(streamSid)
        buffer.writeStaticString("\"")
    }
}

enum JSONText {
    /// Writes `string` as a quoted JSON string.
    static func writeString(_ string: String, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("\"")
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.writeStaticString(#"\""#)
            case UInt8(ascii: "\\"): buffer.writeStaticString(#"\\"#)
            case 0x0A: buffer.writeStaticString(#"\n"#)
            case 0x0D: buffer.writeStaticString(#"\r"#)
            case 0x09: buffer.writeStaticString(#"\t"#)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                buffer.writeStaticString(#"\u00"#)
                buffer.writeInteger(hex[Int(byte >> 4)])
                buffer.writeInteger(hex[Int(byte & 0x0F)])
            default: buffer.writeInteger(byte)
            }
        }
        buffer.writeStaticString("\"")
    }
}

enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()

    static func encodedLength(_ count: Int) -> Int { (count + 2) / 3 * 4 }

    static func encode(_ bytes: some Collection<UInt8>, into out: inout [UInt8]) {
        var it = bytes.makeIterator()
        while let a = it.next() {
            let b = it.next(), c = it.next()
            let n = UInt32(a) << 16 | UInt32(b ?? 0) << 8 | UInt32(c ?? 0)
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(b == nil ? UInt8(ascii: "=") : alphabet[Int(n >> 6 & 63)])
            out.append(c == nil ? UInt8(ascii: "=") : alphabet[Int(n & 63)])
        }
    }

    static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        encode(bytes, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Strict standard base64 (padding required) into `out`, which is cleared first. False if malformed.
    static func decode(_ text: UnsafeRawBufferPointer, into out: inout [UInt8]) -> Bool {
        out.removeAll(keepingCapacity: true)
        guard text.count % 4 == 0 else { return false }
        var i = 0
        while i < text.count {
            let c0 = decodeTable[Int(text[i])], c1 = decodeTable[Int(text[i + 1])]
            let p2 = text[i + 2], p3 = text[i + 3]
            guard c0 != 0xFF, c1 != 0xFF else { return false }
            let last = i + 4 == text.count
            if p2 == UInt8(ascii: "=") {
                guard last, p3 == UInt8(ascii: "=") else { return false }
                out.append(c0 << 2 | c1 >> 4)
            } else if p3 == UInt8(ascii: "=") {
                let c2 = decodeTable[Int(p2)]
                guard last, c2 != 0xFF else { return false }
                out.append(c0 << 2 | c1 >> 4)
                out.append(c1 << 4 | c2 >> 2)
            } else {
                let c2 = decodeTable[Int(p2)], c3 = decodeTable[Int(p3)]
                guard c2 != 0xFF, c3 != 0xFF else { return false }
                out.append(c0 << 2 | c1 >> 4)
                out.append(c1 << 4 | c2 >> 2)
                out.append(c2 << 6 | c3)
            }
            i += 4
        }
        return true
    }
}
