import VoiceBridgeRelay

/// ConversationRelay app → bridge messages (`text`, `play`, `sendDigits`, `language`, `end`), as
/// the relay client decodes every text frame the app sends.
enum RelayFuzzer {
    static func run(_ bytes: UnsafeRawBufferPointer) {
        _ = try? RelayCodec.decode(bytes.lossyText)
    }
}
