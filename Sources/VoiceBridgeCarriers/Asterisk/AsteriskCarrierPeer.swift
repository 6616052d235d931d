import NIOCore

/// Asterisk's end of a `chan_websocket` connection, for the phone simulator and tests: caller
/// audio as raw binary frames, control events in JSON or plain text, and a strict reader of what
/// the bridge sends: binary audio, and `MARK_MEDIA`/`FLUSH_MEDIA` in the connection's control
/// format, no longer than the 128 bytes Asterisk reads of a text message (it ignores longer ones).
///
/// Asterisk never echoes a flushed mark, sends nothing to acknowledge a flush, and hangs up by
/// closing the socket (no stop event).
public struct AsteriskCarrierPeer: CarrierPeerCodec, Sendable {
    /// Asterisk ignores text messages longer than this (`MAX_TEXT_MESSAGE_LEN`).
    public static let maxTextMessageBytes = 128

    /// `identity.streamID` is the connection id, `callID` the channel id.
    public let identity: CallIdentity
    public let controlFormat: AsteriskDialect.ControlFormat
    public let mediaFormat: MediaFormat
    public let channelVariables: [(String, String)]
    private var payload: ByteBuffer

    public init(
        identity: CallIdentity, controlFormat: AsteriskDialect.ControlFormat = .json, mediaFormat: MediaFormat = .mulaw8kMono,
        channelVariables: [(String, String)] = []
    ) {
        self.identity = identity
        self.controlFormat = controlFormat
        self.mediaFormat = mediaFormat
        self.channelVariables = channelVariables
        self.payload = ByteBufferAllocator().buffer(capacity: 640)
    }

    public var mediaFrameKind: CarrierFrameKind { .binary }
    public var echoesMarksOnClear: Bool { AsteriskDialect.rules.echoesMarksOnClear }

    public mutating func writeConnected(into buffer: inout ByteBuffer) -> Bool { false }

    /// `MEDIA_START` with the connection, channel, codec and its frame size.
    public mutating func writeStart(from: String, to: String, customParameters: [(String, String)], into buffer: inout ByteBuffer) {
        let format = AsteriskDialect.formatName(mediaFormat)
        let frameSize = mediaFormat.frameBytes
        switch controlFormat {
        case .json:
            buffer.writeString(#"{"event":"MEDIA_START","connection_id":"#)
            JSONWriting.writeQuoted(identity.streamID, into: &buffer)
            buffer.writeString(#","channel":"WebSocket/voicebridge-0000002a","channel_id":"#)
            JSONWriting.writeQuoted(identity.callID, into: &buffer)
            buffer.writeString(#","format":"#)
            JSONWriting.writeQuoted(format, into: &buffer)
            buffer.writeString(#","optimal_frame_size":\#(frameSize),"ptime":\#(AsteriskDialect.ptimeMs),"channel_variables":{"#)
            for (index, variable) in (channelVariables + customParameters).enumerated() {
                if index > 0 { buffer.writeString(",") }
                JSONWriting.writeQuoted(variable.0, into: &buffer)
                buffer.writeString(":")
                JSONWriting.writeQuoted(variable.1, into: &buffer)
            }
            buffer.writeString("}}")
        case .plainText:
            buffer.writeString(
                "MEDIA_START connection_id:\(identity.streamID) channel:WebSocket/voicebridge-0000002a channel_id:\(identity.callID) "
                    + "format:\(format) optimal_frame_size:\(frameSize) ptime:\(AsteriskDialect.ptimeMs)")
        }
    }

    public mutating func writeMedia(_ payload: UnsafeRawBufferPointer, timestampMs: Int, into buffer: inout ByteBuffer) {
        buffer.writeBytes(payload)
    }

    public mutating func writeDTMF(digit: Character, into buffer: inout ByteBuffer) {
        writeEvent("DTMF_END", key: "digit", value: String(digit), into: &buffer)
    }

    public mutating func writeMarkEcho(name: String, into buffer: inout ByteBuffer) {
        writeEvent("MEDIA_MARK_PROCESSED", key: "correlation_id", value: name, into: &buffer)
    }

    public mutating func writeClearAcknowledgement(into buffer: inout ByteBuffer) -> Bool { false }

    public mutating func writeStop(into buffer: inout ByteBuffer) -> Bool { false }

    private func writeEvent(_ name: String, key: String, value: String, into buffer: inout ByteBuffer) {
        switch controlFormat {
        case .json:
            buffer.writeString(#"{"event":"\#(name)","channel_id":"#)
            JSONWriting.writeQuoted(identity.callID, into: &buffer)
            buffer.writeString(#","\#(key)":"#)
            JSONWriting.writeQuoted(value, into: &buffer)
            buffer.writeString("}")
        case .plainText:
            buffer.writeString("\(name) \(key):\(value) channel_id:\(identity.callID)")
        }
    }

    public mutating func decode(_ frame: CarrierFrame) throws(CarrierProtocolError) -> PlayoutCommand {
        switch frame {
        case .binary(let audio): return try Self.binaryMedia(audio, into: &payload)
        case .text(let text): return try decode(text)
        }
    }

    /// A control command. Audio sent as text is refused (Asterisk would read it as a command).
    public mutating func decode(_ text: ByteBuffer) throws(CarrierProtocolError) -> PlayoutCommand {
        guard text.readableBytes <= Self.maxTextMessageBytes else {
            throw .messageTooLarge(size: text.readableBytes, limit: Self.maxTextMessageBytes)
        }
        let command: String
        let argument: String?
        switch controlFormat {
        case .json:
            (command, argument) = try text.withReadableJSON { raw throws(CarrierProtocolError) in try Self.jsonCommand(raw) }
        case .plainText:
            let line = String(buffer: text)
            guard !line.hasPrefix("{") else { throw .invalidValue(field: "command", reason: "JSON on a plain-text connection") }
            let parts = line.split(separator: " ", maxSplits: 1)
            command = parts.first.map(String.init) ?? ""
            argument = parts.count > 1 ? String(parts[1]) : nil
        }
        switch command {
        case "MARK_MEDIA":
            guard let argument, !argument.isEmpty else { throw .missingField("correlation_id") }
            return .mark(name: argument)
        case "FLUSH_MEDIA":
            guard argument == nil else { throw .unexpectedField("correlation_id") }
            return .clear
        default:
            throw .unknownEvent(command)
        }
    }

    /// `{"command":"MARK_MEDIA","correlation_id":"…"}` or `{"command":"FLUSH_MEDIA"}`: nothing else.
    private static func jsonCommand(_ raw: UnsafeRawBufferPointer) throws(CarrierProtocolError) -> (String, String?) {
        var scanner = JSONScanner(raw)
        try scanner.beginObject()
        var command: String?
        var correlation: String?
        var isFirst = true
        while let key = try scanner.nextKey(isFirst: &isFirst) {
            let name = try scanner.string(key, field: "key")
            guard case .string(let span) = try scanner.scanValue(depth: 1) else { throw .wrongType(field: name, expected: "string") }
            let value = try scanner.string(span, field: name)
            switch name {
            case "command":
                guard command == nil else { throw .duplicateField(name) }
                command = value
            case "correlation_id":
                guard correlation == nil else { throw .duplicateField(name) }
                correlation = value
            default:
                throw .unexpectedField(name)
            }
        }
        try scanner.expectEnd()
        guard let command else { throw .missingField("command") }
        return (command, correlation)
    }
}
