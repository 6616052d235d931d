import VoiceBridgeSpeech

/// ElevenLabs WebSocket server messages, through the byte scanner the client uses on every frame
/// (raw bytes, so invalid UTF-8 reaches it as it would from the socket), and through the String
/// entry point, which must agree with it on valid UTF-8.
///
/// Not reached: the HTTP `/stream/with-timestamps` line decoder (`TimestampedLineDecoder`,
/// `ElevenLabsBodyDecoder`) is internal to VoiceBridgeSpeech.
enum ElevenLabsFuzzer {
    static func run(_ bytes: UnsafeRawBufferPointer) {
        let scanned = Result { () throws(ElevenLabsWebSocketError) in try ElevenLabsWebSocketServerMessage(scanning: bytes) }
        if let text = String(validating: bytes, as: UTF8.self) {
            let parsed = Result { () throws(ElevenLabsWebSocketError) in try ElevenLabsWebSocketServerMessage(parsing: text) }
            switch (scanned, parsed) {
            case (.success(let lhs), .success(let rhs)):
                require(lhs == rhs, "scanning and parsing the same frame disagree")
            case (.failure, .failure):
                break
            default:
                fail("scanning and parsing the same frame disagree on acceptance: \(scanned) vs \(parsed)")
            }
        }
        if case .success(let message) = scanned {
            _ = message.isError
        }
    }
}
