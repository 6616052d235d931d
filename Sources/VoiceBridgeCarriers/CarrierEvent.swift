import NIOCore

/// What a carrier tells the call, in a form that no longer depends on the carrier's dialect.
///
/// The Call sees only these events; each dialect's decoder maps its wire messages onto them.
public enum CarrierEvent: Sendable, Equatable {
    case connected(protocolName: String, version: String)
    case start(StreamStart)
    case media(InboundMedia)
    case dtmf(DTMFPress)
    case mark(MarkEcho)
    case stop(StreamStop)
}

/// What the call asks the carrier to do with its playback queue.
public enum PlayoutCommand: Sendable, Equatable {
    /// Raw μ-law bytes to append to the carrier's playback queue.
    case media(ByteBuffer)
    /// A checkpoint the carrier echoes once everything queued before it has played (or was cleared).
    case mark(name: String)
    /// Drop everything queued; pending marks are echoed.
    case clear
}

public struct MediaFormat: Sendable, Equatable {
    public var encoding: String
    public var sampleRate: Int
    public var channels: Int

    public init(encoding: String, sampleRate: Int, channels: Int) {
        self.encoding = encoding
        self.sampleRate = sampleRate
        self.channels = channels
    }

    /// The only format Twilio Media Streams uses, in both directions.
    public static let mulaw8kMono = MediaFormat(encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1)
}

public struct StreamStart: Sendable, Equatable {
    public var sequenceNumber: Int
    public var streamSid: String
    public var accountSid: String
    public var callSid: String
    public var tracks: [String]
    public var customParameters: [String: String]
    public var mediaFormat: MediaFormat

    public init(
        sequenceNumber: Int,
        streamSid: String,
        accountSid: String,
        callSid: String,
        tracks: [String],
        customParameters: [String: String],
        mediaFormat: MediaFormat
    ) {
        self.sequenceNumber = sequenceNumber
        self.streamSid = streamSid
        self.accountSid = accountSid
        self.callSid = callSid
        self.tracks = tracks
        self.customParameters = customParameters
        self.mediaFormat = mediaFormat
    }
}

public enum MediaTrack: String, Sendable, Equatable {
    case inbound
    case outbound
}

public struct InboundMedia: Sendable, Equatable {
    public var sequenceNumber: Int
    public var track: MediaTrack
    public var chunk: Int
    /// Milliseconds since the stream started; the carrier's audio clock.
    public var timestampMs: Int
    /// Decoded raw μ-law bytes. Owned by the decoder and reused: drop it before the next decode
    /// to keep decoding allocation-free.
    public var payload: ByteBuffer

    public init(sequenceNumber: Int, track: MediaTrack, chunk: Int, timestampMs: Int, payload: ByteBuffer) {
        self.sequenceNumber = sequenceNumber
        self.track = track
        self.chunk = chunk
        self.timestampMs = timestampMs
        self.payload = payload
    }
}

public struct DTMFPress: Sendable, Equatable {
    public var sequenceNumber: Int
    public var track: String
    public var digit: Character

    public init(sequenceNumber: Int, track: String, digit: Character) {
        self.sequenceNumber = sequenceNumber
        self.track = track
        self.digit = digit
    }
}

public struct MarkEcho: Sendable, Equatable {
    public var sequenceNumber: Int
    public var name: String

    public init(sequenceNumber: Int, name: String) {
        self.sequenceNumber = sequenceNumber
        self.name = name
    }
}

public struct StreamStop: Sendable, Equatable {
    public var sequenceNumber: Int
    public var accountSid: String
    public var callSid: String

    public init(sequenceNumber: Int, accountSid: String, callSid: String) {
        self.sequenceNumber = sequenceNumber
        self.accountSid = accountSid
        self.callSid = callSid
    }
}
