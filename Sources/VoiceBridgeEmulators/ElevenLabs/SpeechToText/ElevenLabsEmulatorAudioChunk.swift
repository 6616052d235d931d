import VoiceBridgeCarriers

/// The client's only message, `input_audio_chunk` (shared/docs/elevenlabs-stt.md §2.1), read
/// without a JSON tree: a call streams ten of these a second, each about 1 KB of base64.
struct ElevenLabsEmulatorAudioChunk: Equatable {
    /// The audio, base64-decoded, in the session's `audio_format`.
    var audio: [UInt8]
    var commit: Bool
    var sampleRate: Int?
    /// nil when absent or null (the Python SDK sends null on every chunk).
    var previousText: String?

    /// Why a message is not a well-formed chunk: the text of the `input_error`. [EMULATOR]
    struct Problem: Error, Equatable {
        var message: String
    }

    static func parse(_ bytes: UnsafeRawBufferPointer) -> Result<Self, Problem> {
        var scanner = JSONScanner(bytes)
        var messageType: String?
        var audio: [UInt8]?
        var chunk = Self(audio: [], commit: false, sampleRate: nil, previousText: nil)
        do throws(CarrierProtocolError) {
            try scanner.beginObject()
            var first = true
            while let key = try scanner.nextKey(isFirst: &first) {
                let value = try scanner.scanValue()
                if scanner.content(key, equals: "message_type") {
                    guard case .string(let span) = value else { return .failure(wrongType("message_type", "a string")) }
                    messageType = try scanner.string(span, field: "message_type")
                } else if scanner.content(key, equals: "audio_base_64") {
                    guard case .string(let span) = value else { return .failure(wrongType("audio_base_64", "a string")) }
                    if span.hasEscapes {
                        // Some encoders write "/" as "\/".
                        audio = Base64Fast.decode(try scanner.string(span, field: "audio_base_64"))
                    } else {
                        audio = Self.decodeBase64(scanner.rawContent(span))
                    }
                    if audio == nil { return .failure(Problem(message: "audio_base_64 is not valid base64.")) }
                } else if scanner.content(key, equals: "commit") {
                    switch value {
                    case .bool(let commit): chunk.commit = commit
                    case .null: break
                    default: return .failure(wrongType("commit", "a boolean"))
                    }
                } else if scanner.content(key, equals: "sample_rate") {
                    switch value {
                    case .number: chunk.sampleRate = try scanner.integer(value, field: "sample_rate")
                    case .null: break
                    default: return .failure(wrongType("sample_rate", "an integer"))
                    }
                } else if scanner.content(key, equals: "previous_text") {
                    switch value {
                    case .string(let span): chunk.previousText = try scanner.string(span, field: "previous_text")
                    case .null: break
                    default: return .failure(wrongType("previous_text", "a string"))
                    }
                }
            }
            try scanner.expectEnd()
        } catch {
            return .failure(Problem(message: "Invalid message: \(error)."))
        }
        guard let messageType else { return .failure(Problem(message: "Invalid message: message_type is missing.")) }
        guard messageType == "input_audio_chunk" else {
            return .failure(Problem(message: "Unknown message_type \(messageType): the only client message is input_audio_chunk."))
        }
        guard let audio else { return .failure(Problem(message: "Invalid message: audio_base_64 is missing.")) }
        chunk.audio = audio
        return .success(chunk)
    }

    private static func wrongType(_ field: String, _ expected: String) -> Problem {
        Problem(message: "Invalid message: \(field) must be \(expected).")
    }

    private static func decodeBase64(_ text: UnsafeRawBufferPointer) -> [UInt8]? {
        guard !text.isEmpty else { return [] }
        let capacity = Base64Fast.maxDecodedLength(text.count)
        var failed = false
        let bytes = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            guard let written = Base64Fast.decode(text, into: UnsafeMutableRawBufferPointer(buffer)) else {
                failed = true
                count = 0
                return
            }
            count = written
        }
        return failed ? nil : bytes
    }
}
