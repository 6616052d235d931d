import Foundation

/// One text-to-speech request to ElevenLabs' HTTP stream endpoints.
///
/// Only what is set goes on the wire: the JSON body carries `text` and `model_id` plus any
/// optional field that is not nil, and the query carries `output_format` plus
/// `optimize_streaming_latency` when set.
public struct ElevenLabsSpeechRequest: Sendable, Equatable {
    /// A premade voice every account can use: the one in the official API reference's example
    /// for `POST /v1/text-to-speech/{voice_id}/stream` ("George"). docs/elevenlabs.md names none.
    public static let defaultVoiceID = "JBFqnCBsd6RMkjVDRZzb"
    /// The low-latency model for telephony (doc §5, §9.2). The service's own default for HTTP is
    /// `eleven_multilingual_v2`, so the model is always sent.
    public static let defaultModelID = "eleven_flash_v2_5"

    public var text: String
    public var voiceID: String
    public var modelID: String
    public var outputFormat: ElevenLabsOutputFormat
    /// 0...4 (deprecated upstream, still accepted). nil leaves it out of the query.
    public var optimizeStreamingLatency: Int?
    public var voiceSettings: ElevenLabsVoiceSettings?
    /// Text spoken just before and after this one, for continuous prosody across requests.
    public var previousText: String?
    public var nextText: String?
    /// 0...4294967295, best-effort determinism.
    public var seed: UInt32?
    /// ISO 639-1; honoured by the Flash and Turbo v2.5 models only.
    public var languageCode: String?

    public init(
        text: String,
        voiceID: String = Self.defaultVoiceID,
        modelID: String = Self.defaultModelID,
        outputFormat: ElevenLabsOutputFormat = .ulaw8000,
        optimizeStreamingLatency: Int? = nil,
        voiceSettings: ElevenLabsVoiceSettings? = nil,
        previousText: String? = nil,
        nextText: String? = nil,
        seed: UInt32? = nil,
        languageCode: String? = nil
    ) {
        self.text = text
        self.voiceID = voiceID
        self.modelID = modelID
        self.outputFormat = outputFormat
        self.optimizeStreamingLatency = optimizeStreamingLatency
        self.voiceSettings = voiceSettings
        self.previousText = previousText
        self.nextText = nextText
        self.seed = seed
        self.languageCode = languageCode
    }

    /// The JSON body, keys sorted so equal requests are equal bytes.
    public func jsonBody() -> [UInt8] {
        let body = Body(
            text: text, modelID: modelID, voiceSettings: voiceSettings, previousText: previousText,
            nextText: nextText, seed: seed, languageCode: languageCode
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings, numbers and bools only: encoding cannot fail.
        return Array((try? encoder.encode(body)) ?? Data("{}".utf8))
    }

    /// The path and query after the base URL, e.g.
    /// `/v1/text-to-speech/JBFq…/stream/with-timestamps?output_format=ulaw_8000`.
    func pathAndQuery(withTimestamps: Bool) -> String {
        var path = "/v1/text-to-speech/\(Self.percentEncoded(voiceID))/stream"
        if withTimestamps { path += "/with-timestamps" }
        var query = ["output_format=\(Self.percentEncoded(outputFormat.rawValue))"]
        if let latency = optimizeStreamingLatency { query.append("optimize_streaming_latency=\(latency)") }
        return path + "?" + query.joined(separator: "&")
    }

    /// Everything but RFC 3986's unreserved characters, so a voice id can't change the path.
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(hex[Int(byte >> 4)])
                out.unicodeScalars.append(hex[Int(byte & 0x0F)])
            }
        }
        return out
    }

    /// The wire shape. Synthesised `Encodable` skips nil optionals, which is the "only what is
    /// set" rule.
    private struct Body: Encodable {
        var text: String
        var modelID: String
        var voiceSettings: ElevenLabsVoiceSettings?
        var previousText: String?
        var nextText: String?
        var seed: UInt32?
        var languageCode: String?

        enum CodingKeys: String, CodingKey {
            case text
            case modelID = "model_id"
            case voiceSettings = "voice_settings"
            case previousText = "previous_text"
            case nextText = "next_text"
            case seed
            case languageCode = "language_code"
        }
    }
}
