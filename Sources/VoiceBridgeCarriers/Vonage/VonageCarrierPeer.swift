import NIOCore

/// Vonage's end of a media socket, for the simulator: `websocket:connected` with the NCCO's
/// headers, binary audio, `websocket:dtmf`, the `websocket:notify` echo and `websocket:cleared`;
/// and a strict reader of what a server sends (binary audio, `notify`, `clear`, nothing else).
public struct VonageCarrierPeer: CarrierPeerCodec, Sendable {
    public let mediaFormat: MediaFormat
    private var payload: ByteBuffer

    public init(mediaFormat: MediaFormat = .l16LittleEndian(16000)) {
        self.mediaFormat = mediaFormat
        self.payload = ByteBufferAllocator().buffer(capacity: 640)
    }

    public var mediaFrameKind: CarrierFrameKind { .binary }
    public var echoesMarksOnClear: Bool { VonageDialect.rules.echoesMarksOnClear }

    /// Vonage's first message is `websocket:connected` itself: written as the start.
    public mutating func writeConnected(into buffer: inout ByteBuffer) -> Bool { false }

    /// `{"event":"websocket:connected","content-type":"audio/l16;rate=16000",<headers>}`.
    public mutating func writeStart(from: String, to: String, customParameters: [(String, String)], into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"event":"websocket:connected","content-type":"#)
        JSONWriting.writeQuoted(VonageDialect.contentType(mediaFormat), into: &buffer)
        for (key, value) in customParameters {
            buffer.writeString(",")
            JSONWriting.writeQuoted(key, into: &buffer)
            buffer.writeString(":")
            JSONWriting.writeQuoted(value, into: &buffer)
        }
        buffer.writeString("}")
    }

    public mutating func writeMedia(_ payload: UnsafeRawBufferPointer, timestampMs: Int, into buffer: inout ByteBuffer) {
        buffer.writeBytes(payload)
    }

    public mutating func writeDTMF(digit: Character, into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"event":"websocket:dtmf","digit":"#)
        JSONWriting.writeQuoted(String(digit), into: &buffer)
        buffer.writeString(#","duration":260}"#)
    }

    public mutating func writeMarkEcho(name: String, into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"event":"websocket:notify","payload":{"name":"#)
        JSONWriting.writeQuoted(name, into: &buffer)
        buffer.writeString("}}")
    }

    public mutating func writeClearAcknowledgement(into buffer: inout ByteBuffer) -> Bool {
        buffer.writeString(#"{"event":"websocket:cleared"}"#)
        return true
    }

    /// Vonage says nothing before it closes.
    public mutating func writeStop(into buffer: inout ByteBuffer) -> Bool { false }

    public mutating func decode(_ frame: CarrierFrame) throws(CarrierProtocolError) -> PlayoutCommand {
        switch frame {
        case .binary(let audio): return try Self.binaryMedia(audio, into: &payload)
        case .text(let text): return try decode(text)
        }
    }

    /// `{"action":"clear"}` or `{"action":"notify","payload":{…}}`, nothing more. The payload is
    /// the server's own; the bridge's carries `name`, which is what this side echoes.
    public mutating func decode(_ text: ByteBuffer) throws(CarrierProtocolError) -> PlayoutCommand {
        let message = try text.withReadableJSON(limit: 64 * 1024) { raw throws(CarrierProtocolError) in
            try JSONFields(json: raw, kindKey: "action")
        }
        switch message.kind {
        case "clear":
            if let extra = message.keys.first(where: { $0 != "action" }) { throw .unexpectedField(extra) }
            return .clear
        case "notify":
            if let extra = message.keys.first(where: { $0 != "action" && $0 != "payload" }) { throw .unexpectedField(extra) }
            guard message.keys.contains("payload") else { throw .missingField("payload") }
            let name = try message.requiredString("payload.name")
            return .mark(name: name)
        default:
            throw .unknownEvent(message.kind)
        }
    }
}
