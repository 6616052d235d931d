import NIOCore

/// The carrier's end of a media socket, for the phone simulator and test peers: writes what the
/// carrier sends, and reads what a server sends as strictly as the carrier judges it.
public protocol CarrierPeerCodec {
    /// Writes the carrier's greeting, if it has one; false when the carrier sends none (Plivo).
    mutating func writeConnected(into buffer: inout ByteBuffer) -> Bool
    mutating func writeStart(from: String, to: String, customParameters: [(String, String)], into buffer: inout ByteBuffer)
    /// One caller frame; `timestampMs` is the carrier's media clock since the stream started.
    mutating func writeMedia(_ payload: UnsafeRawBufferPointer, timestampMs: Int, into buffer: inout ByteBuffer)
    mutating func writeDTMF(digit: Character, into buffer: inout ByteBuffer)
    /// The echo of a mark (checkpoint) the server sent.
    mutating func writeMarkEcho(name: String, into buffer: inout ByteBuffer)
    /// Whether a clear echoes every pending mark (Twilio, Telnyx) or drops them unheard (Plivo).
    var echoesMarksOnClear: Bool { get }
    /// Writes the carrier's acknowledgement of a clear, if it sends one (Plivo's `clearedAudio`).
    mutating func writeClearAcknowledgement(into buffer: inout ByteBuffer) -> Bool
    /// Writes the carrier's goodbye before it closes the socket; false when it just closes (Plivo).
    mutating func writeStop(into buffer: inout ByteBuffer) -> Bool
    /// A server message, refused if it is anything the carrier would not accept.
    mutating func decode(_ text: ByteBuffer) throws(CarrierProtocolError) -> PlayoutCommand
    /// A server message in either opcode: binary is media for Asterisk, an error for JSON dialects.
    mutating func decode(_ frame: CarrierFrame) throws(CarrierProtocolError) -> PlayoutCommand
    /// How caller audio goes out: text (JSON, base64) or binary (raw bytes).
    var mediaFrameKind: CarrierFrameKind { get }
    /// The size of every media message a server should send in `format`: one 20 ms frame, unless
    /// the carrier wants larger ones (Exotel).
    func expectedMediaBytes(for format: MediaFormat) -> Int
}

extension CarrierPeerCodec {
    /// JSON dialects: everything is text.
    public mutating func decode(_ frame: CarrierFrame) throws(CarrierProtocolError) -> PlayoutCommand {
        guard case .text(let text) = frame else { throw .binaryFrame }
        return try decode(text)
    }

    public var mediaFrameKind: CarrierFrameKind { .text }

    public func expectedMediaBytes(for format: MediaFormat) -> Int { format.frameBytes }

    /// Binary-media dialects (Asterisk, Vonage): a server's binary frame is audio, copied into
    /// the peer's own buffer; an empty one is a mistake.
    static func binaryMedia(_ audio: ByteBuffer, into payload: inout ByteBuffer) throws(CarrierProtocolError) -> PlayoutCommand {
        guard audio.readableBytes > 0 else { throw .invalidValue(field: "media", reason: "empty binary frame") }
        payload.clear()
        payload.writeImmutableBuffer(audio)
        return .media(payload)
    }
}

/// Twilio's end: its encoder for what it sends, its strict decoder for what it receives.
public struct TwilioCarrierPeer: CarrierPeerCodec, Sendable {
    public private(set) var encoder: TwilioCarrierEncoder
    public private(set) var decoder: TwilioCarrierDecoder

    public init(identity: CallIdentity, maxMessageBytes: Int = 1 << 22) {
        encoder = TwilioCarrierEncoder(streamSid: identity.streamID, accountSid: identity.accountID, callSid: identity.callID)
        // Twilio publishes no size limit for server messages.
        decoder = TwilioCarrierDecoder(streamSid: identity.streamID, maxMessageBytes: maxMessageBytes)
    }

    public mutating func writeConnected(into buffer: inout ByteBuffer) -> Bool {
        encoder.writeConnected(into: &buffer)
        return true
    }

    /// Twilio carries From and To in the `<Parameter>`s the TwiML asked for, not in `start`.
    public mutating func writeStart(from: String, to: String, customParameters: [(String, String)], into buffer: inout ByteBuffer) {
        encoder.writeStart(customParameters: customParameters.map { (name: $0.0, value: $0.1) }, into: &buffer)
    }

    public mutating func writeMedia(_ payload: UnsafeRawBufferPointer, timestampMs: Int, into buffer: inout ByteBuffer) {
        encoder.writeMedia(payload, timestampMs: timestampMs, into: &buffer)
    }

    public mutating func writeDTMF(digit: Character, into buffer: inout ByteBuffer) {
        encoder.writeDTMF(digit: digit, into: &buffer)
    }

    public mutating func writeMarkEcho(name: String, into buffer: inout ByteBuffer) {
        encoder.writeMark(name: name, into: &buffer)
    }

    public var echoesMarksOnClear: Bool { TwilioDialect.rules.echoesMarksOnClear }

    public mutating func writeClearAcknowledgement(into buffer: inout ByteBuffer) -> Bool { false }

    public mutating func writeStop(into buffer: inout ByteBuffer) -> Bool {
        encoder.writeStop(into: &buffer)
        return true
    }

    public mutating func decode(_ text: ByteBuffer) throws(CarrierProtocolError) -> PlayoutCommand {
        try decoder.decode(text)
    }
}
