import NIOCore
import VoiceBridgeCarriers
import VoiceBridgeAudio

/// The carrier's side of a hand-written replay, as Twilio behaves: after `start` the caller's
/// audio arrives as one 20 ms `media` message every 20 ms (silence unless speech, noise or an
/// in-band key is playing), and the bridge's audio is played by `CarrierPlayoutModel` (the phone
/// simulator's model): in order at real time, each mark echoed once the audio sent before it has
/// played, and every pending mark echoed at once on `clear`.
final class SimulatedCarrier {
    static let defaultCallSid = "CA00000000000000000000000000000001"
    static let defaultStreamSid = "MZ00000000000000000000000000000001"
    static let defaultAccountSid = "AC00000000000000000000000000000001"

    private let frameMs: Int
    private var encoder: TwilioCarrierEncoder?
    /// Absolute time of the next caller frame (it carries the audio of the 20 ms before it).
    private var nextFrameAt: Double?
    private var hungUp = false
    private var startedAt: Double?
    /// Caller audio to mix in, by absolute start time in ms.
    private var segments: [(startMs: Double, audio: [UInt8])] = []
    /// What the carrier plays and echoes; its time origin is the replay's zero.
    private var playout = CarrierPlayoutModel(recordHeard: false, observer: UnobservedPlayout())

    init(frameMs: Int) {
        self.frameMs = frameMs
    }

    private func text(_ write: (inout ByteBuffer) -> Void) -> String {
        var buffer = ByteBufferAllocator().buffer(capacity: 512)
        write(&buffer)
        return String(buffer: buffer)
    }

    /// `connected` and `start`; caller audio follows from here on.
    func start(callSid: String?, streamSid: String?, accountSid: String?, parameters: [String: String], atMs t: Double) -> [String] {
        guard encoder == nil else { return [] }
        var encoder = TwilioCarrierEncoder(
            streamSid: streamSid ?? Self.defaultStreamSid, accountSid: accountSid ?? Self.defaultAccountSid,
            callSid: callSid ?? Self.defaultCallSid)
        let connected = text { encoder.writeConnected(into: &$0) }
        let params = parameters.keys.sorted().map { (name: $0, value: parameters[$0]!) }
        let start = text { encoder.writeStart(customParameters: params, into: &$0) }
        self.encoder = encoder
        startedAt = t
        nextFrameAt = t + Double(frameMs)
        return [connected, start]
    }

    func nextFrameMs(callActive: Bool) -> Double? {
        guard callActive, !hungUp, encoder != nil else { return nil }
        return nextFrameAt
    }

    /// The caller frame due now, covering the `frameMs` before it.
    func takeFrame() -> String? {
        guard var encoder, let end = nextFrameAt else { return nil }
        let samples = frameMs * 8
        let first = Int((end * 8).rounded()) - samples
        var frame = [UInt8](repeating: 0xFF, count: samples)
        for segment in segments {
            let segmentStart = Int((segment.startMs * 8).rounded())
            let from = max(first, segmentStart)
            let to = min(first + samples, segmentStart + segment.audio.count)
            guard from < to else { continue }
            for i in from..<to { frame[i - first] = segment.audio[i - segmentStart] }
        }
        segments.removeAll { Int(($0.startMs * 8).rounded()) + $0.audio.count <= first + samples }
        let timestamp = Int(end) - frameMs - Int(startedAt ?? 0)
        let message = text { buffer in frame.withUnsafeBytes { encoder.writeMedia($0, timestampMs: max(0, timestamp), into: &buffer) } }
        self.encoder = encoder
        nextFrameAt = end + Double(frameMs)
        return message
    }

    func mix(_ audio: [UInt8], atMs t: Double) {
        segments.append((t, audio))
    }

    /// A key: a `dtmf` message, or (in band) its tones mixed into the caller's audio.
    func dtmf(_ digit: Character, inBand: Bool, atMs t: Double) -> String? {
        guard var encoder else { return nil }
        if inBand {
            mix(CallerSignal.dtmf(digit), atMs: t)
            return nil
        }
        let message = text { encoder.writeDTMF(digit: digit, into: &$0) }
        self.encoder = encoder
        return message
    }

    func stop() -> String {
        hungUp = true
        guard var encoder else { return #"{"event":"stop"}"# }
        let message = text { encoder.writeStop(into: &$0) }
        self.encoder = encoder
        return message
    }

    /// Plays what the bridge sent, on the carrier playout model the phone simulator uses.
    func played(_ event: OutboundEvent) {
        let nanos = Self.nanos(atMs: event.t)
        switch event.kind {
        case let .media(bytes):
            bytes.withUnsafeBytes { playout.receiveMedia($0, at: nanos) }
        case let .mark(name):
            playout.receiveMark(name: name, at: nanos)
        case .clear:
            playout.receiveClear(at: nanos)
        case .end, .close, .relay:
            break
        }
    }

    /// When the next mark falls due, if any is waiting for its audio.
    var nextEchoDueMs: Double? {
        playout.nextMarkDueNanos.map { Double($0) / 1_000_000 }
    }

    /// Plays up to `t` and returns the echoes the carrier sends by then, oldest first.
    func echoes(atMs t: Double) -> [String] {
        // Plays on even with nothing to answer in (no start yet): the marks that fall due go, so
        // `nextEchoDueMs` moves past `t` and the replay's wake-up does not spin on them.
        playout.advance(to: Self.nanos(atMs: t))
        guard var encoder else {
            playout.removeEchoes()
            return []
        }
        var messages: [String] = []
        for echo in playout.echoes where echo.acknowledged {
            messages.append(text { encoder.writeMark(name: echo.name, into: &$0) })
        }
        playout.removeEchoes()
        self.encoder = encoder
        return messages
    }

    private static func nanos(atMs t: Double) -> Int64 { Int64((t * 1_000_000).rounded()) }
}
