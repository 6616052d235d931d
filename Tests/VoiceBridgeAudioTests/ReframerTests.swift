import Testing
@testable import VoiceBridgeAudio

@Suite struct ReframerTests {
    /// Splits `bytes` into random chunks (including empty ones and ones longer than a frame).
    private func randomChunks(_ bytes: [UInt8], rng: inout SplitMix64, maxChunk: Int) -> [[UInt8]] {
        var chunks: [[UInt8]] = []
        var start = 0
        while start < bytes.count {
            let length = Int.random(in: 0...maxChunk, using: &rng)
            let end = min(bytes.count, start + length)
            chunks.append(Array(bytes[start ..< end]))
            start = end
        }
        return chunks
    }

    private func drain(_ reframer: inout Reframer) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        while let frame = reframer.nextFrame() { frames.append(frame) }
        return frames
    }

    @Test(arguments: [(160, G711Law.ulaw), (80, .ulaw), (320, .ulaw), (160, .alaw)])
    func randomSplitsReassembleExactly(frameSize: Int, law: G711Law) {
        for seed in 1...200 as ClosedRange<UInt64> {
            var rng = SplitMix64(seed: seed)
            let length = Int.random(in: 0...5000, using: &rng)
            let input = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            var reframer = Reframer(frameSize: frameSize, padding: law.silenceByte)
            var frames: [[UInt8]] = []
            // Interleave pulls with appends, as playout does while TTS chunks arrive.
            for chunk in randomChunks(input, rng: &rng, maxChunk: Int.random(in: 1...700, using: &rng)) {
                reframer.append(chunk)
                if Bool.random(using: &rng) { frames += drain(&reframer) }
                #expect(reframer.bufferedByteCount < frameSize || reframer.hasFrame)
            }
            frames += drain(&reframer)
            #expect(reframer.bufferedByteCount == length - frames.count * frameSize)
            #expect(!reframer.hasFrame)
            reframer.finish()
            #expect(reframer.isFinished)
            frames += drain(&reframer)
            #expect(reframer.bufferedByteCount == 0)

            #expect(frames.allSatisfy { $0.count == frameSize })
            let padded = input + [UInt8](repeating: law.silenceByte, count: (frameSize - length % frameSize) % frameSize)
            #expect(Array(frames.joined()) == padded, "seed \(seed)")
        }
    }

    @Test func resetAtRandomPointsDropsExactlyWhatWasPending() {
        for seed in 1...200 as ClosedRange<UInt64> {
            var rng = SplitMix64(seed: seed)
            let frameSize = [80, 160, 320].randomElement(using: &rng)!
            var reframer = Reframer(frameSize: frameSize)
            let before = (0..<Int.random(in: 0...2000, using: &rng)).map { _ in UInt8.random(in: 0...0x7F, using: &rng) }
            for chunk in randomChunks(before, rng: &rng, maxChunk: 500) { reframer.append(chunk) }
            _ = drain(&reframer).count
            if Bool.random(using: &rng) { reframer.finish() }
            reframer.reset()
            #expect(reframer.bufferedByteCount == 0 && !reframer.hasFrame && !reframer.isFinished)
            // Bytes from after the reset come out alone, starting a frame.
            let after = (0..<Int.random(in: 1...2000, using: &rng)).map { _ in UInt8.random(in: 0x80...0xFE, using: &rng) }
            for chunk in randomChunks(after, rng: &rng, maxChunk: 500) { reframer.append(chunk) }
            reframer.finish()
            let out = Array(drain(&reframer).joined())
            #expect(out == after + [UInt8](repeating: 0xFF, count: (frameSize - after.count % frameSize) % frameSize), "seed \(seed)")
        }
    }

    @Test func resetDropsTheRemainderAndClearsFinished() {
        var reframer = Reframer()
        reframer.append([UInt8](repeating: 1, count: 400))
        #expect(reframer.nextFrame() == [UInt8](repeating: 1, count: 160))
        reframer.finish()
        #expect(reframer.hasFrame)
        reframer.reset()
        #expect(!reframer.isFinished)
        #expect(!reframer.hasFrame)
        #expect(reframer.bufferedByteCount == 0)
        #expect(reframer.nextFrame() == nil)
        // After reset the next utterance starts on a fresh frame boundary.
        reframer.append([UInt8](repeating: 2, count: 100))
        reframer.append([UInt8](repeating: 3, count: 60))
        #expect(reframer.nextFrame() == [UInt8](repeating: 2, count: 100) + [UInt8](repeating: 3, count: 60))
    }

    @Test func finishPadsOnlyTheLastPartialFrameOfEachUtterance() {
        var reframer = Reframer(frameSize: 4, padding: 0xFF)
        reframer.append([1, 2, 3, 4, 5])
        reframer.finish()
        // The next utterance queued behind the padded one starts on its own frame.
        reframer.append([6, 7])
        #expect(!reframer.isFinished)
        reframer.finish()
        #expect(reframer.bufferedByteCount == 12)
        #expect(drain(&reframer) == [[1, 2, 3, 4], [5, 0xFF, 0xFF, 0xFF], [6, 7, 0xFF, 0xFF]])
        // finish() on a frame-aligned or empty queue adds nothing.
        reframer.append([8, 9, 10, 11])
        reframer.finish()
        reframer.finish()
        #expect(drain(&reframer) == [[8, 9, 10, 11]])
    }

    @Test func partialFrameIsHeldUntilFinish() {
        var reframer = Reframer()
        reframer.append([UInt8](repeating: 9, count: 159))
        #expect(!reframer.hasFrame)
        #expect(reframer.nextFrame() == nil)
        reframer.finish()
        #expect(reframer.hasFrame)
        #expect(reframer.nextFrame() == [UInt8](repeating: 9, count: 159) + [0xFF])
        #expect(reframer.nextFrame() == nil)
    }

    @Test func framesInsideOneChunkArePresentedFromTheChunkItself() {
        var reframer = Reframer()
        let chunk = [UInt8](repeating: 5, count: 480)
        reframer.append(chunk)
        let chunkBase = chunk.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
        for index in 0..<3 {
            let frameBase = reframer.withNextFrame { UInt(bitPattern: $0.baseAddress) }
            #expect(frameBase == chunkBase + UInt(index * 160))
        }
    }

    @Test func throwingBodyStillConsumesTheFrame() {
        struct Stop: Error {}
        var reframer = Reframer(frameSize: 2)
        reframer.append([1, 2, 3, 4])
        #expect(throws: Stop.self) { try reframer.withNextFrame { _ in throw Stop() } }
        #expect(reframer.nextFrame() == [3, 4])
    }

    @Test func longStreamsOfSmallChunksKeepWorking() {
        // Exercises queue compaction: thousands of chunks, drained as they come.
        var reframer = Reframer(frameSize: 160)
        var total = 0
        var frames = 0
        for i in 0..<10_000 {
            reframer.append([UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 7 + i % 50))
            total += 7 + i % 50
            while let frame = reframer.nextFrame() {
                #expect(frame.count == 160)
                frames += 1
            }
        }
        #expect(frames == total / 160)
        #expect(reframer.bufferedByteCount == total % 160)
    }
}
