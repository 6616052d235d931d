import Foundation
import NIOCore
import VoiceBridgeCarriers

/// Base64Fast, both alphabets, every API, with the properties a caller relies on:
///
/// - the pointer, ByteBuffer and String decoders agree (and a failed ByteBuffer decode leaves the
///   buffer's readable bytes as they were);
/// - whatever decodes re-encodes to the same length, identical except for the unused low bits
///   of the last data character (padded base64 does not require them to be zero), and that
///   re-encoding decodes to the same bytes;
/// - Foundation agrees wherever both accept;
/// - the URL-safe decoder accepts only canonical text (its own re-encoding);
/// - any bytes survive encode → decode in both alphabets.
enum Base64Fuzzer {
    static func run(_ source: UnsafeRawBufferPointer) {
        let input = Array(source)

        var pointerOutput = [UInt8](repeating: 0, count: Base64Fast.maxDecodedLength(input.count))
        let written = pointerOutput.withUnsafeMutableBytes { Base64Fast.decode(source, into: $0) }
        let decoded = written.map { Array(pointerOutput[..<$0]) }

        let prefix: [UInt8] = [0xAB, 0xCD]
        var buffer = ByteBuffer(bytes: prefix)
        let bufferAccepted = Base64Fast.decode(source, into: &buffer)
        require(bufferAccepted == (decoded != nil), "ByteBuffer decode disagrees with pointer decode on acceptance")
        require(Array(buffer.readableBytesView) == prefix + (decoded ?? []), "ByteBuffer decode wrote other bytes than pointer decode")

        if let text = String(validating: input, as: UTF8.self) {
            require(Base64Fast.decode(text) == decoded, "String decode disagrees with pointer decode")
        }

        if let decoded {
            require(decoded.count <= Base64Fast.maxDecodedLength(input.count), "decoded more than maxDecodedLength")
            let again = Array(Base64Fast.encode(decoded).utf8)
            require(again.count == input.count, "re-encoding changed the length")
            let padding = input.reversed().prefix { $0 == UInt8(ascii: "=") }.count
            // Only a padded final quad has spare bits, all in its last data character.
            let lastData = padding > 0 ? input.count - 1 - padding : -1
            for index in input.indices where index != lastData {
                require(again[index] == input[index], "re-encoding differs at byte \(index), which carries no spare bits")
            }
            require(Base64Fast.decode(String(decoding: again, as: UTF8.self)) == decoded, "re-encoding decodes differently")
            if let foundation = Data(base64Encoded: Data(input)) {
                require(Array(foundation) == decoded, "Foundation decodes the same text to other bytes")
            }
        }

        let text = source.lossyText
        if let urlDecoded = Base64Fast.decodeURLSafe(text) {
            require(Base64Fast.encodeURLSafe(urlDecoded) == text, "URL-safe decode accepted a non-canonical spelling")
        }

        require(Base64Fast.decode(Base64Fast.encode(input)) == input, "encode → decode lost bytes")
        require(Base64Fast.decodeURLSafe(Base64Fast.encodeURLSafe(input)) == input, "URL-safe encode → decode lost bytes")
        var encoded = ByteBuffer()
        Base64Fast.encode(source, into: &encoded)
        require(String(buffer: encoded) == Base64Fast.encode(input), "ByteBuffer encode disagrees with String encode")
    }
}
