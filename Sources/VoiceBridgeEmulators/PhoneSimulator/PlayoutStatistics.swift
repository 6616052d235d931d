import Histogram
import VoiceBridgeCarriers

/// What the carrier observed about the server's outbound audio, fed by ``CarrierPlayout``.
///
/// Definitions (all times from the call's origin, the instant `start` was sent):
/// - **gap**: the time between two consecutive `media` arrivals, counted only when playback was
///   continuous in between: the FIFO never ran dry before the later arrival's sample and no `clear`
///   came in between. The first media of a call and the first media after a dry spell or a `clear`
///   open a new run and have no gap. Measures the server's send pacing while it is streaming.
/// - **segment**: what the server sends between two boundaries; a boundary is a `mark` or a `clear`
///   received. A server marks the end of each sentence/prompt, so a segment is one utterance.
/// - **underrun**: the FIFO ran dry while its segment was still open (no mark or clear received
///   since the media that ran out) and media of the same segment arrived later. Its length is from
///   the sample the FIFO ran dry to the sample the next media arrived. A server that never sends
///   marks therefore turns every pause into an underrun.
/// - **lead**: at each media arrival, the audio queued ahead of the playback position right after
///   that media was enqueued (it includes the arriving media).
/// - **heard segment**: a maximal interval during which the FIFO was playing audible received audio
///   (a media message is audible if any byte decodes to 32 or more in magnitude, about -60 dBFS);
///   it ends when the audio turns silent, the FIFO runs dry or a `clear` drops it.
public struct PlayoutStatistics: PlayoutObserving {
    public struct Interval: Sendable, Equatable {
        public var startSample: Int64
        public var endSample: Int64
    }

    public private(set) var mediaCount = 0
    public private(set) var firstMediaNanos: Int64?
    /// Inter-frame gaps in µs.
    public private(set) var gaps = Histogram<UInt32>.microseconds()
    /// Lead at each media arrival in µs.
    public private(set) var lead = Histogram<UInt32>.microseconds(upTo: 3_600_000_000)
    public private(set) var maxLeadSamples: Int64 = 0
    public private(set) var underrunCount = 0
    public private(set) var underrunSamples: Int64 = 0
    /// Underrun intervals, kept up to ``maxIntervalsKept``.
    public private(set) var underruns: [Interval] = []
    public private(set) var heardSegments: [Interval] = []
    public static let maxIntervalsKept = 10_000

    private var lastArrivalNanos: Int64?
    private var continuous = false
    private var segmentOpen = false
    private var drySample: Int64?
    private var heardStart: Int64?

    public init() {}

    public mutating func mediaArrived(atNanos nanos: Int64, sample: Int64, wasEmpty: Bool, leadSamples: Int64) {
        mediaCount += 1
        if firstMediaNanos == nil { firstMediaNanos = nanos }
        let ranDryBefore = drySample.map { $0 < sample } ?? false
        if let last = lastArrivalNanos, continuous, !ranDryBefore {
            gaps.record(UInt64(clamping: min((nanos - last) / 1000, 60_000_000)))
        }
        if wasEmpty, let dry = drySample, dry < sample, segmentOpen {
            underrunCount += 1
            underrunSamples += sample - dry
            if underruns.count < Self.maxIntervalsKept { underruns.append(Interval(startSample: dry, endSample: sample)) }
        }
        drySample = nil
        continuous = true
        segmentOpen = true
        lastArrivalNanos = nanos
        maxLeadSamples = max(maxLeadSamples, leadSamples)
        lead.record(UInt64(clamping: min(leadSamples * 125, 3_600_000_000)))
    }

    public mutating func markArrived() {
        segmentOpen = false
    }

    public mutating func playbackRanDry(atSample sample: Int64) {
        drySample = sample
    }

    public mutating func cleared(atSample sample: Int64, hadAudio: Bool) {
        continuous = false
        segmentOpen = false
        drySample = nil
    }

    public mutating func audibleStarted(atSample sample: Int64) {
        guard heardStart == nil else { return }
        // Audio that resumes the very sample it stopped (a frame arriving as the last one ends)
        // continues the same segment.
        if let last = heardSegments.last, last.endSample == sample {
            heardStart = heardSegments.removeLast().startSample
        } else {
            heardStart = sample
        }
    }

    public mutating func audibleEnded(atSample sample: Int64) {
        guard let start = heardStart else { return }
        heardStart = nil
        if heardSegments.count < Self.maxIntervalsKept {
            heardSegments.append(Interval(startSample: start, endSample: sample))
        }
    }
}

/// The carrier's playout as the phone simulator measures it.
public typealias CarrierPlayout = CarrierPlayoutModel<PlayoutStatistics>

extension CarrierPlayoutModel where Observer == PlayoutStatistics {
    public init(recordHeard: Bool, expectedDurationMs: Int = 0, echoesMarksOnClear: Bool = true, format: MediaFormat = .mulaw8kMono) {
        self.init(
            recordHeard: recordHeard, expectedDurationMs: expectedDurationMs, echoesMarksOnClear: echoesMarksOnClear,
            format: format, observer: PlayoutStatistics())
    }

    public var statistics: PlayoutStatistics { observer }
}
