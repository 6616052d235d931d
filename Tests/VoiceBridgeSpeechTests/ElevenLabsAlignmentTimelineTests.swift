import Testing
import VoiceBridgeCarriers
@testable import VoiceBridgeSpeech

/// The HTTP stream's character timings become whole ms per chunk; an absurd timing from the wire
/// is a 0, never a trap in the conversion.
@Suite struct ElevenLabsAlignmentTimelineTests {
    @Test func timingsBecomeMillisecondsRelativeToTheChunk() throws {
        var timeline = ElevenLabsAlignmentTimeline()
        let piece = ElevenLabsTimestampedAudio(
            audio: [UInt8](repeating: 0xFF, count: 1600),
            alignment: ElevenLabsAlignment(characters: ["H", "i"], startTimesSeconds: [0, 0.1], endTimesSeconds: [0.1, 0.25]))
        let alignment = try #require(timeline.chunk(for: piece, turnID: "t")?.alignment)
        #expect(alignment.charStartTimesMs == [0, 100])
        #expect(alignment.charDurationsMs == [100, 150])
    }

    @Test func absurdTimingsAreZeroNotATrap() throws {
        var timeline = ElevenLabsAlignmentTimeline()
        let piece = ElevenLabsTimestampedAudio(
            audio: [UInt8](repeating: 0xFF, count: 160),
            alignment: ElevenLabsAlignment(
                characters: ["a", "b", "c", "d"], startTimesSeconds: [0, 1e300, -1e300, 5], endTimesSeconds: [1e300, 1e300, 0, -1e308]))
        let alignment = try #require(timeline.chunk(for: piece, turnID: "t")?.alignment)
        #expect(alignment.charStartTimesMs == [0, 0, 0, 5000])
        #expect(alignment.charDurationsMs == [0, 0, 0, 0])
    }
}
