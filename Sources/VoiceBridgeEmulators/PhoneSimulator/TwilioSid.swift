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
