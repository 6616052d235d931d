import NIOCore
import VoiceBridgeAudio

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
    /// Something the carrier reports that changes nothing in the call (Telnyx's `error` frames):
    /// logged and counted, never a reason to close.
    case notice(CarrierNotice)
}

public struct CarrierNotice: Sendable, Equatable {
    /// A bounded label for metrics: `error`, …
    public var kind: String
    /// The carrier's own words, for the log.
    public var detail: String

    public init(kind: String, detail: String) {
        self.kind = kind
        self.detail = detail
    }
}

/// What the call asks the carrier to do with its playback queue.
public enum PlayoutCommand: Sendable, Equatable {
    /// Raw audio in the stream's format to append to the carrier's playback queue.
    case media(ByteBuffer)
    /// A checkpoint the carrier echoes once everything queued before it has played (or was cleared).
    case mark(name: String)
    /// Drop everything queued; pending marks are echoed.
    case clear
}

/// How a carrier's audio is encoded on the wire. Neutral: every dialect maps its own spelling
/// (`audio/x-mulaw`, `PCMU`, `audio/l16;rate=16000`) onto one of these.
public enum AudioEncoding: Sendable, Hashable {
    /// G.711 μ-law, one byte per sample.
    case mulaw
    /// G.711 A-law, one byte per sample.
    case alaw
    /// 16-bit linear PCM in the given byte order.
    case l16(ByteOrder)

    public enum ByteOrder: Sendable, Hashable {
        case littleEndian, bigEndian
    }

    public var bytesPerSample: Int {
        switch self {
        case .mulaw, .alaw: 1
        case .l16: 2
        }
    }
}

/// The audio format of a stream, as its start event announces it. The call's frame size follows
/// from it: 160 B for 20 ms of μ-law or A-law, 320 B of L16 at 8 kHz, 640 B at 16 kHz.
public struct MediaFormat: Sendable, Hashable, CustomStringConvertible {
    public var encoding: AudioEncoding
    public var sampleRate: Int
    public var channels: Int

    public init(encoding: AudioEncoding, sampleRate: Int, channels: Int = 1) {
        self.encoding = encoding
        self.sampleRate = sampleRate
        self.channels = channels
    }

    /// Twilio's only format, in both directions, and the bridge's native one.
    public static let mulaw8kMono = MediaFormat(encoding: .mulaw, sampleRate: 8000)
    public static let alaw8kMono = MediaFormat(encoding: .alaw, sampleRate: 8000)
    /// Telnyx's wideband L16: network byte order.
    public static let l16BigEndian16k = MediaFormat(encoding: .l16(.bigEndian), sampleRate: 16000)

    /// Bytes of audio in `milliseconds` of this format.
    public func bytes(milliseconds: Int) -> Int {
        sampleRate * milliseconds / 1000 * encoding.bytesPerSample * channels
    }

    /// Bytes in one 20 ms frame.
    public var frameBytes: Int { bytes(milliseconds: 20) }

    /// Bytes in one second of audio.
    public var bytesPerSecond: Int { sampleRate * encoding.bytesPerSample * channels }

    /// How long `count` bytes play, in nanoseconds (exact for whole samples of every format here).
    public func nanoseconds(ofBytes count: Int) -> Int64 {
        Int64(count) * 1_000_000_000 / Int64(bytesPerSecond)
    }

    /// The byte that plays as silence, repeated: what pads the last partial frame of a prompt.
    /// (Zero for L16 in either byte order.)
    public var silenceByte: UInt8 { g711Law?.silenceByte ?? 0 }

    /// The G.711 law of a companded format; nil for linear PCM.
    public var g711Law: G711Law? {
        switch encoding {
        case .mulaw: .ulaw
        case .alaw: .alaw
        case .l16: nil
        }
    }

    /// How configuration names the format: `ulaw_8000`, `alaw_8000`, `l16_8000`, `l16_16000`.
    /// L16's byte order is the carrier's own, so the name leaves it out.
    public var settingName: String {
        let codec = switch encoding {
        case .mulaw: "ulaw"
        case .alaw: "alaw"
        case .l16: "l16"
        }
        return "\(codec)_\(sampleRate)"
    }

    /// The format a `settingName` spells, L16 in `l16ByteOrder`; nil for any other spelling.
    public init?(settingName: String, l16ByteOrder: AudioEncoding.ByteOrder = .littleEndian) {
        let parts = settingName.lowercased().split(separator: "_")
        guard parts.count == 2, let rate = Int(parts[1]), [8000, 16000].contains(rate) else { return nil }
        switch parts[0] {
        case "ulaw" where rate == 8000: self = .mulaw8kMono
        case "alaw" where rate == 8000: self = .alaw8kMono
        case "l16": self.init(encoding: .l16(l16ByteOrder), sampleRate: rate)
        default: return nil
        }
    }

    /// 16-bit little-endian PCM at `sampleRate`: what ElevenLabs' `pcm_*` formats and espeak-ng give.
    public static func l16LittleEndian(_ sampleRate: Int) -> MediaFormat {
        MediaFormat(encoding: .l16(.littleEndian), sampleRate: sampleRate)
    }

    public var description: String {
        let name: String
        switch encoding {
        case .mulaw: name = "mulaw"
        case .alaw: name = "alaw"
        case .l16(.littleEndian): name = "L16 (little-endian)"
        case .l16(.bigEndian): name = "L16 (big-endian)"
        }
        return "\(name) \(sampleRate) Hz" + (channels == 1 ? "" : " \(channels) channels")
    }
}

/// Who a stream belongs to, in the carrier's own ids but under neutral names: Twilio's CallSid,
/// StreamSid and AccountSid; Telnyx's call_control_id, stream_id and user_id; and so on.
public struct CallIdentity: Sendable, Hashable {
    public var callID: String
    public var streamID: String
    public var accountID: String

    public init(callID: String, streamID: String, accountID: String) {
        self.callID = callID
        self.streamID = streamID
        self.accountID = accountID
    }
}

public struct StreamStart: Sendable, Equatable {
    public var sequenceNumber: Int
    public var streamID: String
    public var accountID: String
    public var callID: String
    public var tracks: [String]
    public var customParameters: [String: String]
    public var mediaFormat: MediaFormat

    public init(
        sequenceNumber: Int,
        streamID: String,
        accountID: String,
        callID: String,
        tracks: [String],
        customParameters: [String: String],
        mediaFormat: MediaFormat
    ) {
        self.sequenceNumber = sequenceNumber
        self.streamID = streamID
        self.accountID = accountID
        self.callID = callID
        self.tracks = tracks
        self.customParameters = customParameters
        self.mediaFormat = mediaFormat
    }

    public var identity: CallIdentity { CallIdentity(callID: callID, streamID: streamID, accountID: accountID) }
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
    /// Decoded raw audio in the stream's format. Owned by the decoder and reused: drop it before the next decode
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
    public var accountID: String
    public var callID: String

    public init(sequenceNumber: Int, accountID: String, callID: String) {
        self.sequenceNumber = sequenceNumber
        self.accountID = accountID
        self.callID = callID
    }
}

extension InboundMedia {
    /// A binary frame of caller audio (Asterisk, Vonage), passed on without a copy: no envelope,
    /// so its sequence and media clock are the frame count.
    static func binaryFrame(
        _ audio: ByteBuffer, counting frames: inout Int, frameMs: Int, limit: Int
    ) throws(CarrierProtocolError) -> InboundMedia {
        guard audio.readableBytes <= limit else { throw .messageTooLarge(size: audio.readableBytes, limit: limit) }
        frames += 1
        return InboundMedia(sequenceNumber: frames, track: .inbound, chunk: frames, timestampMs: frames * frameMs, payload: audio)
    }
}
