/// The voice webhook request Twilio sends when a call comes in (twilio-media-streams.md §3, §4.1).
public struct VoiceWebhookRequest: Sendable {
    public var url: String
    /// Form fields in the order they are sent.
    public var parameters: [(String, String)]
    /// `X-Twilio-Signature`, when an auth token was given.
    public var signature: String?

    public init(url: String, callSid: String, accountSid: String, from: String, to: String, authToken: String?) {
        self.url = url
        self.parameters = [
            ("AccountSid", accountSid),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", callSid),
            ("CallStatus", "ringing"),
            ("Called", to),
            ("Caller", from),
            ("Direction", "inbound"),
            ("From", from),
            ("To", to),
        ]
        self.signature = authToken.map { TwilioRequestSignature.compute(authToken: $0, url: url, parameters: parameters) }
    }

    /// `application/x-www-form-urlencoded` body.
    public var body: String {
        parameters.map { "\(FormEncoding.escape($0.0))=\(FormEncoding.escape($0.1))" }.joined(separator: "&")
    }
}

enum FormEncoding {
    static func escape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "*"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: " "): out += "+"
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out += "%"
                out.unicodeScalars.append(hex[Int(byte >> 4)])
                out.unicodeScalars.append(hex[Int(byte & 0xF)])
            }
        }
        return out
    }
}

/// `X-Twilio-Signature`: base64(HMAC-SHA1(authToken, url + sorted name+value pairs)) (§4.1).
/// Stand-in for VoiceBridgeCarriers' `TwilioSignature` until it lands.
public enum TwilioRequestSignature {
    public static func compute(authToken: String, url: String, parameters: [(String, String)]) -> String {
        var message = url
        let sorted = parameters.sorted { ($0.0.unicodeScalars.lexicographicallyPrecedes($1.0.unicodeScalars)) || ($0.0 == $1.0 && $0.1.unicodeScalars.lexicographicallyPrecedes($1.1.unicodeScalars)) }
        for (name, value) in sorted { message += name + value }
        return Base64.encode(SHA1.hmac(key: Array(authToken.utf8), message: Array(message.utf8)))
    }
}

enum SHA1 {
    static func hash(_ message: [UInt8]) -> [UInt8] {
        var h: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)
        var data = message
        data.append(0x80)
        while data.count % 64 != 56 { data.append(0) }
        let bitLength = UInt64(message.count) * 8
        for shift in stride(from: 56, through: 0, by: -8) { data.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        var w = [UInt32](repeating: 0, count: 80)
        for block in stride(from: 0, to: data.count, by: 64) {
            for t in 0..<16 {
                let i = block + t * 4
                w[t] = UInt32(data[i]) << 24 | UInt32(data[i + 1]) << 16 | UInt32(data[i + 2]) << 8 | UInt32(data[i + 3])
            }
            for t in 16..<80 {
                let x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]
                w[t] = x << 1 | x >> 31
            }
            var (a, b, c, d, e) = h
            for t in 0..<80 {
                let (f, k): (UInt32, UInt32) =
                    switch t {
                    case 0..<20: ((b & c) | (~b & d), 0x5A82_7999)
                    case 20..<40: (b ^ c ^ d, 0x6ED9_EBA1)
                    case 40..<60: ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
                    default: (b ^ c ^ d, 0xCA62_C1D6)
                    }
                let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[t]
                e = d
                d = c
                c = b << 30 | b >> 2
                b = a
                a = temp
            }
            h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e)
        }
        return [h.0, h.1, h.2, h.3, h.4].flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v >> UInt32(24 - 8 * $0)) } }
    }

    static func hmac(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var k = key.count > 64 ? hash(key) : key
        k += [UInt8](repeating: 0, count: 64 - k.count)
        let inner = hash(k.map { $0 ^ 0x36 } + message)
        return hash(k.map { $0 ^ 0x5C } + inner)
    }
}

/// Random Twilio-style identifiers: a two-letter prefix and 32 lowercase hex digits.
public enum TwilioSid {
    public static func make(_ prefix: String, using generator: inout some RandomNumberGenerator) -> String {
        let hex = Array("0123456789abcdef")
        var out = prefix
        for _ in 0..<32 { out.append(hex[Int(generator.next() & 0xF)]) }
        return out
    }

    public static func make(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        return make(prefix, using: &generator)
    }
}
