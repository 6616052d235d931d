import NIOCore

/// Twilio Media Streams: JSON text frames, μ-law 8 kHz both ways, `mark` echoed on clear.
public enum TwilioDialect: CarrierDialect {
    public static let name = "twilio"
    public static let rules = CarrierSessionRules(echoesMarksOnClear: true, supportedFormats: [.mulaw8kMono])

    public static func makeDecoder(maxMessageBytes: Int) -> TwilioMediaStreamDecoder {
        TwilioMediaStreamDecoder(maxMessageBytes: maxMessageBytes)
    }

    public static func makeEncoder(for start: StreamStart, decoder: TwilioMediaStreamDecoder) -> TwilioMediaStreamEncoder {
        TwilioMediaStreamEncoder(streamSid: start.streamID)
    }

    /// Twilio's spelling of a format in `start.mediaFormat.encoding`.
    public static func encodingName(_ encoding: AudioEncoding) -> String {
        switch encoding {
        case .mulaw: "audio/x-mulaw"
        case .alaw: "audio/x-alaw"
        case .l16: "audio/x-l16"
        }
    }

    /// The format a `start.mediaFormat` names; nil for an encoding Twilio does not define.
    public static func format(encoding: String, sampleRate: Int, channels: Int) -> MediaFormat? {
        let parsed: AudioEncoding
        switch encoding.lowercased() {
        case "audio/x-mulaw": parsed = .mulaw
        case "audio/x-alaw": parsed = .alaw
        case "audio/x-l16": parsed = .l16(.littleEndian)
        default: return nil
        }
        return MediaFormat(encoding: parsed, sampleRate: sampleRate, channels: channels)
    }
}

extension TwilioMediaStreamDecoder: CarrierInboundDecoder {
    public mutating func decode(_ frame: CarrierFrame) throws(CarrierProtocolError) -> CarrierEvent? {
        switch frame {
        case .text(let text): return try decode(text)
        case .binary: throw .binaryFrame
        }
    }
}

extension TwilioMediaStreamEncoder: CarrierOutboundEncoder {
    public var mediaFrameKind: CarrierFrameKind { .text }
}
