import VoiceBridgeCarriers
/// Turns the with-timestamps alignment of one response into `SpeechChunk` alignment: integer
/// milliseconds relative to the start of the chunk each timing comes with.
///
/// The doc says WebSocket timings restart at every chunk but does not say how the HTTP stream
/// counts. Public clients (pipecat's HTTP service) treat them as counted from the start of the
/// response. Both are accepted: timings that carry on from where the previous alignment ended
/// (or from the audio already received, for the first alignment) are taken as counted from the
/// start of the response, and shifted by the audio before this chunk (8 μ-law bytes per ms);
/// timings that restart near zero are already relative to the chunk.
///
/// A line with alignment but no audio has nothing to carry its timings, so they wait for the
/// next audio chunk, which starts at the same instant.
struct ElevenLabsAlignmentTimeline {
    /// Audio before the current chunk, in milliseconds.
    private var audioMs: Double = 0
    /// Where the previous alignment ended, in its own (unshifted) seconds.
    private var previousEnd: Double?
    /// Timings waiting for audio to carry them, already relative to the next chunk.
    private var waiting: Alignment?

    /// Slack for rounding and for alignment that slightly overlaps the previous chunk.
    private static let toleranceSeconds = 0.02

    /// The chunk for one NDJSON line, or nil when the line has no audio (its timings wait).
    mutating func chunk(for piece: ElevenLabsTimestampedAudio, turnID: String, format: MediaFormat = .mulaw8kMono) -> SpeechChunk? {
        var alignment = waiting
        if let incoming = piece.alignment, !incoming.characters.isEmpty {
            let converted = convert(incoming)
            alignment = alignment.map { merged($0, converted) } ?? converted
        }
        guard !piece.audio.isEmpty else {
            waiting = alignment
            return nil
        }
        waiting = nil
        audioMs += Double(format.nanoseconds(ofBytes: piece.audio.count)) / 1_000_000
        return SpeechChunk(turnID: turnID, audio: piece.audio, alignment: alignment, format: format)
    }

    /// The service's seconds as whole ms, never negative; a time no call reaches (or not a
    /// number at all) counts as 0 rather than trapping in the conversion.
    static func milliseconds(_ ms: Double) -> Int {
        guard ms.isFinite, ms > 0, ms < 1e9 else { return 0 }
        return Int(ms.rounded())
    }

    private mutating func convert(_ alignment: ElevenLabsAlignment) -> Alignment {
        let first = alignment.startTimesSeconds.first ?? 0
        let reference = previousEnd ?? audioMs / 1000
        let countsFromResponseStart = reference > Self.toleranceSeconds && first >= reference - Self.toleranceSeconds
        previousEnd = alignment.endTimesSeconds.last ?? first
        let shiftMs = countsFromResponseStart ? audioMs : 0
        var starts: [Int] = []
        var durations: [Int] = []
        starts.reserveCapacity(alignment.characters.count)
        durations.reserveCapacity(alignment.characters.count)
        for (start, end) in zip(alignment.startTimesSeconds, alignment.endTimesSeconds) {
            starts.append(Self.milliseconds(start * 1000 - shiftMs))
            durations.append(Self.milliseconds((end - start) * 1000))
        }
        return Alignment(chars: alignment.characters, charStartTimesMs: starts, charDurationsMs: durations)
    }

    private func merged(_ a: Alignment, _ b: Alignment) -> Alignment {
        Alignment(chars: a.chars + b.chars, charStartTimesMs: a.charStartTimesMs + b.charStartTimesMs, charDurationsMs: a.charDurationsMs + b.charDurationsMs)
    }
}
