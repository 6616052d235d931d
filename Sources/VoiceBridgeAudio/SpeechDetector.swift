import CSpanDSP

public struct SpeechDetectorConfiguration: Sendable, Equatable {
    /// Energy above this level counts as speech.
    public var thresholdDBm0: Double
    /// Energy must stay above threshold (allowing gaps up to `maxGapMs`) this long before `started`.
    public var minSpeechMs: Int
    /// Energy must stay below threshold this long before `stopped`.
    public var hangoverMs: Int
    /// Dips below threshold up to this long do not break a pending onset: speech has micro-pauses
    /// between syllables and at plosives. Longer dips discard the onset, so a click followed by
    /// silence never confirms.
    public var maxGapMs: Int
    /// Of the loud 10 ms blocks before confirmation, at least this fraction must be voiced (a
    /// zero-crossing rate under `maxVoicedCrossingRate`: vowels and voiced consonants, not
    /// hiss). Line noise, a rustle or a breath into the microphone is loud but never voiced, so
    /// it cannot confirm however long it lasts. 0 turns the check off.
    public var minVoicedFraction: Double
    /// Zero crossings per sample below which a block counts as voiced. White noise crosses at
    /// about 0.5; voiced speech at 8 kHz well under 0.3.
    public var maxVoicedCrossingRate: Double

    public init(
        thresholdDBm0: Double = -35, minSpeechMs: Int = 200, hangoverMs: Int = 400, maxGapMs: Int = 60,
        minVoicedFraction: Double = 0.3, maxVoicedCrossingRate: Double = 0.3
    ) {
        self.thresholdDBm0 = thresholdDBm0
        self.minSpeechMs = minSpeechMs
        self.hangoverMs = hangoverMs
        self.maxGapMs = maxGapMs
        self.minVoicedFraction = minVoicedFraction
        self.maxVoicedCrossingRate = maxVoicedCrossingRate
    }
}

public enum SpeechEvent: Sendable, Equatable {
    /// Speech began at `onsetMs` and was confirmed (lasted `minSpeechMs`) at `confirmedMs`.
    case started(onsetMs: Int, confirmedMs: Int)
    /// Declared at `atMs`, which is `hangoverMs` after energy last was above threshold.
    case stopped(atMs: Int)
}

/// Energy-based speech detector for 8 kHz PCM, using a SpanDSP power meter decided per sample.
///
/// The meter is a one-pole mean-square average with an 8 ms time constant (shift 6): long enough to
/// ride over the valleys of a voiced waveform, short enough that onset and offset times stay within
/// a few ms of the truth. All times are ms since the first sample fed (or since `reset()`).
public final class SpeechDetector {
    private enum Phase { case silence, pending, speaking }

    public let configuration: SpeechDetectorConfiguration
    private let meter: UnsafeMutablePointer<power_meter_t>
    private let thresholdReading: Int32
    private let minSpeechSamples: Int
    private var hangoverSamples: Int
    private let maxGapSamples: Int

    private var phase = Phase.silence
    private var position = 0
    private var onset = 0
    private var lastLoud = 0
    /// The current 10 ms block: its zero crossings and loud samples, and the previous sample.
    private var blockCrossings = 0
    private var blockLoud = 0
    private var previous: Int16 = 0
    /// Since the onset: loud blocks, and of them the voiced ones.
    private var loudBlocks = 0
    private var voicedBlocks = 0
    private let maxVoicedCrossings: Int
    static let blockSamples = 80

    public init(_ configuration: SpeechDetectorConfiguration = .init()) {
        self.configuration = configuration
        meter = .allocate(capacity: 1)
        power_meter_init(meter, 6)
        thresholdReading = power_meter_level_dbm0(Float(configuration.thresholdDBm0))
        minSpeechSamples = max(1, configuration.minSpeechMs * 8)
        hangoverSamples = max(1, configuration.hangoverMs * 8)
        maxGapSamples = max(0, configuration.maxGapMs * 8)
        maxVoicedCrossings = Int(configuration.maxVoicedCrossingRate * Double(Self.blockSamples))
    }

    /// The silence that ends speech, from now on (ConversationRelay's `speechTimeout` for a
    /// listening session); nil goes back to the configuration's.
    public func setHangover(ms: Int?) {
        hangoverSamples = max(1, (ms ?? configuration.hangoverMs) * 8)
    }

    /// Whether the onset so far sounds voiced enough to be speech.
    private var voiced: Bool {
        guard configuration.minVoicedFraction > 0 else { return true }
        return voicedBlocks > 0 && Double(voicedBlocks) >= configuration.minVoicedFraction * Double(loudBlocks)
    }

    deinit {
        meter.deallocate()
    }

    public var isSpeaking: Bool { phase == .speaking }

    /// While speaking: from the onset to the latest loud sample, in ms. A blip stops growing when
    /// its energy ends, even though `isSpeaking` holds through the hangover.
    public var voicedMs: Int? {
        phase == .speaking ? (lastLoud + 1 - onset) / 8 : nil
    }

    /// The meter's current level, for diagnostics and calibration.
    public var levelDBm0: Double { Double(power_meter_current_dbm0(meter)) }

    /// Feeds consecutive PCM and reports every event in order. Allocation-free.
    public func process(_ samples: UnsafeBufferPointer<Int16>, onEvent: (SpeechEvent) -> Void) {
        for sample in samples {
            let loud = power_meter_update(meter, sample) > thresholdReading
            let n = position
            position += 1
            if (sample < 0) != (previous < 0) { blockCrossings += 1 }
            previous = sample
            if loud { blockLoud += 1 }
            if position % Self.blockSamples == 0 {
                if phase == .pending, blockLoud * 2 >= Self.blockSamples {
                    loudBlocks += 1
                    if blockCrossings < maxVoicedCrossings { voicedBlocks += 1 }
                }
                blockCrossings = 0
                blockLoud = 0
            }
            switch phase {
            case .silence:
                if loud {
                    phase = .pending
                    onset = n
                    lastLoud = n
                    loudBlocks = 0
                    voicedBlocks = 0
                }
            case .pending:
                if loud {
                    lastLoud = n
                    if n + 1 - onset >= minSpeechSamples, voiced {
                        phase = .speaking
                        onEvent(.started(onsetMs: onset / 8, confirmedMs: (n + 1) / 8))
                    }
                } else if n - lastLoud > maxGapSamples {
                    phase = .silence
                }
            case .speaking:
                if loud {
                    lastLoud = n
                } else if n - lastLoud >= hangoverSamples {
                    phase = .silence
                    onEvent(.stopped(atMs: (n + 1) / 8))
                }
            }
        }
    }

    /// Feeds consecutive PCM (typically one 160-sample frame); returns the event that happened in it.
    /// If a block is long enough to hold two events, the later one is returned; use the `onEvent` form
    /// to see both.
    public func process(_ samples: UnsafeBufferPointer<Int16>) -> SpeechEvent? {
        var last: SpeechEvent?
        process(samples) { last = $0 }
        return last
    }

    public func process(_ samples: [Int16]) -> [SpeechEvent] {
        var events: [SpeechEvent] = []
        samples.withUnsafeBufferPointer { process($0) { events.append($0) } }
        return events
    }

    /// Back to silence with a cleared meter and time origin, as a freshly made detector.
    public func reset() {
        power_meter_init(meter, 6)
        phase = .silence
        position = 0
        onset = 0
        lastLoud = 0
        blockCrossings = 0
        blockLoud = 0
        previous = 0
        loudBlocks = 0
        voicedBlocks = 0
    }
}
