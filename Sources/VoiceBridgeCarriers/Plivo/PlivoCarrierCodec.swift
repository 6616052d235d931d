import NIOCore

/// Writes what Plivo sends on an audio stream (carriers.md §2.2), for the phone simulator and
/// tests: camelCase, `sequenceNumber` and `media.chunk` as JSON numbers, `media.timestamp` as a
/// string of Unix epoch milliseconds, no `connected`, and (as the protocol pages say) no `stop`:
/// the socket just closes.
public struct PlivoCarrierEncoder: Sendable {
    public let identity: CallIdentity
    public let mediaFormat: MediaFormat
    /// Unix epoch milliseconds of the stream's first frame.
    public let epochBaseMs: Int
    public private(set) var nextSequenceNumber = 1
    public private(set) var nextChunk = 1

    public init(identity: CallIdentity, mediaFormat: MediaFormat = .mulaw8kMono, epochBaseMs: Int) {
        self.identity = identity
        self.mediaFormat = mediaFormat
        self.epochBaseMs = epochBaseMs
    }

    /// `{"event":"start","sequenceNumber":1,"start":{"callId":…,"streamId":…,"accountId":…,"tracks":["inbound"],"mediaFormat":{…}}}`
    public mutating func writeStart(extraHeaders: String? = nil, into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"event":"start","sequenceNumber":"#)
        writeSequenceNumber(into: &buffer)
        buffer.writeString(#","start":{"callId":"#)
        JSONWriting.writeQuoted(identity.callID, into: &buffer)
        buffer.writeString(#","streamId":"#)
        JSONWriting.writeQuoted(identity.streamID, into: &buffer)
        buffer.writeString(#","accountId":"#)
        JSONWriting.writeQuoted(identity.accountID, into: &buffer)
        buffer.writeString(#","tracks":["inbound"],"mediaFormat":{"encoding":"#)
        JSONWriting.writeQuoted(PlivoDialect.mimeType(mediaFormat.encoding), into: &buffer)
        buffer.writeString(#","sampleRate":"#)
        JSONWriting.writeDecimal(mediaFormat.sampleRate, into: &buffer)
        buffer.writeString("}}")
        if let extraHeaders {
            buffer.writeString(#","extra_headers":"#)
            JSONWriting.writeQuoted(extraHeaders, into: &buffer)
        }
        buffer.writeString("}")
    }

    /// `{"event":"media","sequenceNumber":N,"streamId":…,"media":{"track":"inbound","timestamp":"<epoch ms>","chunk":C,"payload":"…"}}`
    public mutating func writeMedia(_ payload: UnsafeRawBufferPointer, timestampMs: Int, into buffer: inout ByteBuffer) {
        buffer.reserveCapacity(minimumWritableBytes: 200 + Base64Fast.encodedLength(payload.count))
        buffer.writeString(#"{"event":"media","sequenceNumber":"#)
        writeSequenceNumber(into: &buffer)
        buffer.writeString(#","streamId":"#)
        JSONWriting.writeQuoted(identity.streamID, into: &buffer)
        buffer.writeString(#","media":{"track":"inbound","timestamp":""#)
        JSONWriting.writeDecimal(epochBaseMs + timestampMs, into: &buffer)
        buffer.writeString(#"","chunk":"#)
        JSONWriting.writeDecimal(nextChunk, into: &buffer)
        nextChunk += 1
        buffer.writeString(#","payload":""#)
        Base64Fast.encode(payload, into: &buffer)
        buffer.writeString(#""}}"#)
    }

    /// `{"event":"dtmf","sequenceNumber":N,"streamId":…,"dtmf":{"track":"inbound","digit":"5","timestamp":"…"}}`
    public mutating func writeDTMF(digit: Character, timestampMs: Int, into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"event":"dtmf","sequenceNumber":"#)
        writeSequenceNumber(into: &buffer)
        buffer.writeString(#","streamId":"#)
        JSONWriting.writeQuoted(identity.streamID, into: &buffer)
        buffer.writeString(#","dtmf":{"track":"inbound","digit":"#)
        JSONWriting.writeQuoted(String(digit), into: &buffer)
        buffer.writeString(#","timestamp":""#)
        JSONWriting.writeDecimal(epochBaseMs + timestampMs, into: &buffer)
        buffer.writeString(#""}}"#)
    }

    /// `{"event":"playedStream","sequenceNumber":N,"streamId":…,"name":…}`: a checkpoint played.
    public mutating func writePlayedStream(name: String, into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"event":"playedStream","sequenceNumber":"#)
        writeSequenceNumber(into: &buffer)
        buffer.writeString(#","streamId":"#)
        JSONWriting.writeQuoted(identity.streamID, into: &buffer)
        buffer.writeString(#","name":"#)
        JSONWriting.writeQuoted(name, into: &buffer)
        buffer.writeString("}")
    }

    /// `{"sequenceNumber":0,"event":"clearedAudio","streamId":…}`, exactly as documented
    /// (carriers.md §2.2: the example carries sequence number 0).
    public func writeClearedAudio(into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"sequenceNumber":0,"event":"clearedAudio","streamId":"#)
        JSONWriting.writeQuoted(identity.streamID, into: &buffer)
        buffer.writeString("}")
    }

    private mutating func writeSequenceNumber(into buffer: inout ByteBuffer) {
        JSONWriting.writeDecimal(nextSequenceNumber, into: &buffer)
        nextSequenceNumber += 1
    }
}

/// Reads what a server sends to Plivo as strictly as a strict peer should (carriers.md §2.3):
/// `playAudio` with exactly `contentType`, `sampleRate` and `payload`, in the stream's format;
/// `checkpoint` with `streamId` and `name`; `clearAudio` with `streamId`. Anything else, an extra
/// or missing field, a wrong type or another stream's id is refused.
public struct PlivoCarrierDecoder: Sendable {
    public let streamID: String
    public let mediaFormat: MediaFormat
    public var maxMessageBytes: Int
    private var payload: ByteBuffer
    private var scratch: [UInt8] = []

    public init(streamID: String, mediaFormat: MediaFormat = .mulaw8kMono, maxMessageBytes: Int = 1 << 22) {
        self.streamID = streamID
        self.mediaFormat = mediaFormat
        self.maxMessageBytes = maxMessageBytes
        self.payload = ByteBufferAllocator().buffer(capacity: 1024)
    }

    public mutating func decode(_ text: ByteBuffer) throws(CarrierProtocolError) -> PlayoutCommand {
        try text.withReadableJSON(limit: maxMessageBytes) { raw throws(CarrierProtocolError) in try self.decode(bytes: raw) }
    }

    private mutating func decode(bytes raw: UnsafeRawBufferPointer) throws(CarrierProtocolError) -> PlayoutCommand {
        var scanner = JSONScanner(raw)
        try scanner.beginObject()
        var members: [String: JSONValueSpan] = [:]
        var isFirst = true
        while let key = try scanner.nextKey(isFirst: &isFirst) {
            let name = try scanner.string(key, field: "key")
            let value = try scanner.scanValue(depth: 1)
            guard members.updateValue(value, forKey: name) == nil else { throw .duplicateField(name) }
        }
        try scanner.expectEnd()
        guard let eventValue = members["event"] else { throw .missingField("event") }
        guard case .string(let eventSpan) = eventValue else { throw .wrongType(field: "event", expected: "string") }
        let event = try scanner.string(eventSpan, field: "event")
        switch event {
        case "playAudio":
            try Self.expectKeys(members, ["event", "media"])
            return .media(try decodePlayAudio(members["media"]!, scanner))
        case "checkpoint":
            try Self.expectKeys(members, ["event", "streamId", "name"])
            try checkStream(members, scanner)
            guard case .string(let name) = members["name"]! else { throw .wrongType(field: "name", expected: "string") }
            return .mark(name: try scanner.string(name, field: "name"))
        case "clearAudio":
            try Self.expectKeys(members, ["event", "streamId"])
            try checkStream(members, scanner)
            return .clear
        default:
            throw .unknownEvent(event)
        }
    }

    private mutating func decodePlayAudio(_ media: JSONValueSpan, _ scanner: JSONScanner) throws(CarrierProtocolError) -> ByteBuffer {
        guard case .object(let start) = media else { throw .wrongType(field: "media", expected: "object") }
        var inner = JSONScanner(scanner.bytes, position: start)
        try inner.beginObject()
        var fields: [String: JSONValueSpan] = [:]
        var isFirst = true
        while let key = try inner.nextKey(isFirst: &isFirst) {
            let name = "media." + (try inner.string(key, field: "media key"))
            let value = try inner.scanValue(depth: 2)
            guard fields.updateValue(value, forKey: name) == nil else { throw .duplicateField(name) }
        }
        try Self.expectKeys(fields, ["media.contentType", "media.sampleRate", "media.payload"])
        guard case .string(let typeSpan) = fields["media.contentType"]! else {
            throw .wrongType(field: "media.contentType", expected: "string")
        }
        let contentType = try inner.string(typeSpan, field: "media.contentType")
        guard contentType == PlivoDialect.mimeType(mediaFormat.encoding) else {
            throw .invalidValue(field: "media.contentType", reason: "the stream is \(PlivoDialect.mimeType(mediaFormat.encoding)), got \"\(contentType)\"")
        }
        let rate = try inner.counter(fields["media.sampleRate"]!, spelling: .number, field: "media.sampleRate")
        guard rate == mediaFormat.sampleRate else {
            throw .invalidValue(field: "media.sampleRate", reason: "the stream is \(mediaFormat.sampleRate) Hz, got \(rate)")
        }
        guard case .string(let payloadSpan) = fields["media.payload"]! else {
            throw .wrongType(field: "media.payload", expected: "string")
        }
        try JSONMediaMessageReader.decodePayload(payloadSpan, in: inner, scratch: &scratch, into: &payload)
        guard payload.readableBytes > 0 else { throw .invalidValue(field: "media.payload", reason: "empty payload") }
        return payload
    }

    private func checkStream(_ members: [String: JSONValueSpan], _ scanner: JSONScanner) throws(CarrierProtocolError) {
        guard case .string(let span) = members["streamId"]! else { throw .wrongType(field: "streamId", expected: "string") }
        let got = try scanner.string(span, field: "streamId")
        guard got == streamID else { throw .wrongStreamSid(expected: streamID, got: got) }
    }

    private static func expectKeys(_ members: [String: JSONValueSpan], _ expected: Set<String>) throws(CarrierProtocolError) {
        for key in members.keys.sorted() where !expected.contains(key) { throw .unexpectedField(key) }
        for key in expected.sorted() where members[key] == nil { throw .missingField(key) }
    }
}

/// Plivo's end of an audio stream, for the simulator: its encoder, its strict reader, and its
/// acknowledgement rules (checkpoints dropped silently by a clear, which Plivo acknowledges with
/// `clearedAudio`).
public struct PlivoCarrierPeer: CarrierPeerCodec, Sendable {
    public private(set) var encoder: PlivoCarrierEncoder
    private var decoder: PlivoCarrierDecoder

    public init(identity: CallIdentity, mediaFormat: MediaFormat = .mulaw8kMono, epochBaseMs: Int, maxMessageBytes: Int = 1 << 22) {
        encoder = PlivoCarrierEncoder(identity: identity, mediaFormat: mediaFormat, epochBaseMs: epochBaseMs)
        // Plivo's limit for one WebSocket message (carriers.md §2.3).
        decoder = PlivoCarrierDecoder(streamID: identity.streamID, mediaFormat: mediaFormat, maxMessageBytes: min(maxMessageBytes, 64 * 1024))
    }

    public var echoesMarksOnClear: Bool { PlivoDialect.rules.echoesMarksOnClear }

    public mutating func writeConnected(into buffer: inout ByteBuffer) -> Bool { false }

    public mutating func writeStart(from: String, to: String, customParameters: [(String, String)], into buffer: inout ByteBuffer) {
        encoder.writeStart(into: &buffer)
    }

    public mutating func writeMedia(_ payload: UnsafeRawBufferPointer, timestampMs: Int, into buffer: inout ByteBuffer) {
        encoder.writeMedia(payload, timestampMs: timestampMs, into: &buffer)
    }

    public mutating func writeDTMF(digit: Character, into buffer: inout ByteBuffer) {
        encoder.writeDTMF(digit: digit, timestampMs: 20 * (encoder.nextChunk - 1), into: &buffer)
    }

    public mutating func writeMarkEcho(name: String, into buffer: inout ByteBuffer) {
        encoder.writePlayedStream(name: name, into: &buffer)
    }

    public mutating func writeClearAcknowledgement(into buffer: inout ByteBuffer) -> Bool {
        encoder.writeClearedAudio(into: &buffer)
        return true
    }

    public mutating func writeStop(into buffer: inout ByteBuffer) -> Bool { false }

    public mutating func decode(_ text: ByteBuffer) throws(CarrierProtocolError) -> PlayoutCommand {
        try decoder.decode(text)
    }
}
