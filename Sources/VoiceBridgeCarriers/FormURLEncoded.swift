/// `application/x-www-form-urlencoded`, the body Twilio's webhooks use.
///
/// Parsing follows the WHATWG URL standard: `+` is a space, `%XX` is a byte, and a `%` not
/// followed by two hex digits is kept literally. Order and duplicates are preserved because
/// the request signature covers every pair Twilio sent.
public enum FormURLEncoded {
    public static func parse(_ body: String) -> [(String, String)] {
        var pairs: [(String, String)] = []
        for piece in body.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            if let equals = piece.firstIndex(of: UInt8(ascii: "=")) {
                pairs.append((decode(piece[piece.startIndex..<equals]), decode(piece[piece.index(after: equals)...])))
            } else {
                pairs.append((decode(piece), ""))
            }
        }
        return pairs
    }

    /// Serializes pairs the way browsers do: `A-Za-z0-9*-._` unchanged, space as `+`, every
    /// other byte of the UTF-8 as `%XX`.
    public static func encode(_ pairs: [(String, String)]) -> String {
        var output: [UInt8] = []
        for (index, pair) in pairs.enumerated() {
            if index > 0 { output.append(UInt8(ascii: "&")) }
            appendEncoded(pair.0, to: &output)
            output.append(UInt8(ascii: "="))
            appendEncoded(pair.1, to: &output)
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The first value of query parameter `name` in `url`, decoded; nil if absent.
    public static func queryValue(named name: String, in url: String) -> String? {
        let bytes = Array(url.utf8)
        guard let question = bytes.firstIndex(of: UInt8(ascii: "?")) else { return nil }
        let end = bytes[question...].firstIndex(of: UInt8(ascii: "#")) ?? bytes.endIndex
        let query = String(decoding: bytes[(question + 1)..<end], as: UTF8.self)
        return parse(query).first { $0.0 == name }?.1
    }

    static func decode(_ text: some Sequence<UInt8>) -> String {
        let component = Array(text)
        var output: [UInt8] = []
        output.reserveCapacity(component.count)
        var index = 0
        while index < component.count {
            let byte = component[index]
            if byte == UInt8(ascii: "+") {
                output.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), index + 2 < component.count,
                let high = JSONScanner.hexValue(component[index + 1]),
                let low = JSONScanner.hexValue(component[index + 2])
            {
                output.append(UInt8(high << 4 | low))
                index += 2
            } else {
                output.append(byte)
            }
            index += 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static func appendEncoded(_ text: String, to output: inout [UInt8]) {
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "*"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"):
                output.append(byte)
            case UInt8(ascii: " "):
                output.append(UInt8(ascii: "+"))
            default:
                output.append(contentsOf: [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]])
            }
        }
    }
}
