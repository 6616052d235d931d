import VoiceBridgeAudio

/// Pacing, barge-in and ending settings for one call. Defaults are what the README documents.
public struct CallConfiguration: Sendable, Equatable {
    /// Frame length on the wire: 20 ms, which is 160 bytes of G.711, 320 of L16 at 8 kHz and
    /// 640 at 16 kHz (the stream's format decides).
    public var frameMs: Int = 20
    /// How far ahead of the caller's ear the bridge keeps the carrier's buffer.
    public var leadMs: Int = 60
    public var bargeIn = BargeInPolicy()
    public var speechDetector = SpeechDetectorConfiguration()
    /// How long a hang-up waits for the goodbye's mark after the last frame went out.
    public var hangUpGraceMs: Int = 3_000
    /// What the caller hears when the server shuts down under a live call (`shutdown()`); nil
    /// hangs up without a word.
    public var drainGoodbye: String?
    /// Caller audio held while the flow finishes setting up (after `start`); older audio is dropped.
    public var setupBufferMs: Int = 5_000
    public var voice: String?
    public var model: String?
    public var language: String?

    public init() {}
}

/// The carrier socket as the call sees it. The server implements it by writing codec output to
/// the channel; tests and replays implement it by recording.
public protocol CarrierSink: AnyObject {
    func sendMedia(_ frame: UnsafeRawBufferPointer)
    func sendMark(_ name: String)
    func sendClear()
    /// Pushes what the send calls wrote to the socket; the call flushes once per tick or event,
    /// not once per message.
    func flush()
    /// False while the socket's send buffer is full: the call skips ticks instead of queueing.
    var isWritable: Bool { get }
    /// Closes the socket (hang-up, redirect or a protocol error). Called at most once.
    func close(_ reason: CallEndReason)
    /// Where the carrier should take the caller after this stream; called before the redirect
    /// that closes the socket.
    func transfer(to destination: CallTransfer)
    /// Whether the carrier echoes pending marks when it clears (Twilio, Telnyx) or drops them
    /// without a word (Plivo), in which case the call resolves them itself.
    var echoesMarksOnClear: Bool { get }
    /// The smallest media message the carrier plays well (Exotel: 3,200 bytes); 0 for any.
    var minimumMediaBytes: Int { get }
}

extension CarrierSink {
    public var minimumMediaBytes: Int { 0 }
}


/// Hooks for metrics. Every method has a no-op default.
public protocol CallObserver: AnyObject {
    func callStarted()
    func frameSent(gapNanos: Int64?)
    func firstAudio(latencyNanos: Int64)
    func bargeIn(latencyNanos: Int64, accepted: Bool, reason: String)
    func error(kind: String)
    func callEnded(_ reason: CallEndReason)
    /// What the call's speech cost, by voice, told once as it ends.
    func speechCost(_ cost: SpeechCost)
    /// The flow the call runs, by the name its recording gives it, told before it starts.
    func flowChosen(_ name: String)
}

/// A call's billed speech: characters sent to the service, those whose audio the caller heard
/// (a prompt's whole text once its mark came back; the heard part of an interrupted one), and the
/// rest, paid for and never heard. Cache hits and the offline voice send nothing.
public struct SpeechCharacters: Sendable, Equatable {
    public var sent = 0
    public var heard = 0
    public var wasted: Int { sent - heard }

    public init(sent: Int = 0, heard: Int = 0) {
        self.sent = sent
        self.heard = heard
    }

    static func += (lhs: inout SpeechCharacters, rhs: SpeechCharacters) {
        lhs.sent += rhs.sent
        lhs.heard += rhs.heard
    }
}

/// A call's billed speech by the voice that spoke it (`SpeechSource.voiceName(for:)`).
public struct SpeechCost: Sendable, Equatable {
    public var byVoice: [String: SpeechCharacters]

    public init(byVoice: [String: SpeechCharacters] = [:]) {
        self.byVoice = byVoice
    }

    public var total: SpeechCharacters {
        byVoice.values.reduce(into: SpeechCharacters()) { $0 += $1 }
    }
}

extension CallObserver {
    public func callStarted() {}
    public func frameSent(gapNanos: Int64?) {}
    public func firstAudio(latencyNanos: Int64) {}
    public func bargeIn(latencyNanos: Int64, accepted: Bool, reason: String) {}
    public func error(kind: String) {}
    public func callEnded(_ reason: CallEndReason) {}
    public func speechCost(_ cost: SpeechCost) {}
    public func flowChosen(_ name: String) {}
}
