import NIOCore

/// Decodes what a server sends to Twilio (`media`, `mark`, `clear`) as strictly as Twilio
/// judges it: an unknown event, a missing or extra field, a wrong JSON type or another
/// stream's `streamSid` is an error (Twilio's 31951).
public struct TwilioCarrierDecoder: Sendable {
    public let streamSid: String
    private var reader: JSONPlayoutCommandReader

    public var maxMessageBytes: Int {
        get { reader.maxMessageBytes }
        set { reader.maxMessageBytes = newValue }
    }

    public init(streamSid: String, maxMessageBytes: Int = TwilioMediaStreamDecoder.defaultMaxMessageBytes) {
        self.streamSid = streamSid
        reader = JSONPlayoutCommandReader(streamBinding: (key: "streamSid", value: streamSid), maxMessageBytes: maxMessageBytes)
    }

    public mutating func decode(_ text: ByteBuffer) throws(CarrierProtocolError) -> PlayoutCommand {
        try reader.decode(text)
    }
}
