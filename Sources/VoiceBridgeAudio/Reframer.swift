/// Turns arbitrary codec byte chunks (e.g. μ-law from a TTS stream) into exact fixed-size frames.
///
/// Chunks are kept by reference, so a frame that lies inside one chunk is presented straight from that
/// chunk's storage; only a frame straddling a chunk boundary (or ending in padding) is assembled, in a
/// scratch buffer allocated once at init. `withNextFrame` therefore never allocates.
///
/// `finish()` closes an utterance: it commits padding for the last partial frame right away, so bytes
/// appended afterwards (the next utterance) start on a fresh frame boundary. `bufferedByteCount` counts
/// that committed padding too, because it will be played like any other audio.
///
/// This is a byte reframer only: give it raw codec bytes, never a container (WAV/MP3) with its header,
/// or the header would be played as a click.
public struct Reframer: Sendable {
    private struct Chunk: Sendable {
        var bytes: [UInt8]
        /// Padding bytes that follow `bytes`, committed by `finish()`.
        var padding: Int
        var length: Int { bytes.count + padding }
    }

    public let frameSize: Int
    public let padding: UInt8

    private var chunks: [Chunk] = []
    /// Index of the first chunk not yet fully handed out; chunks before it are released placeholders.
    private var head = 0
    /// Bytes of `chunks[head]` (bytes, then padding) already handed out.
    private var offset = 0
    /// Bytes appended since the last frame boundary that `finish()` or a full frame closed.
    private var tailPhase = 0
    private var scratch: [UInt8]

    /// Bytes pending (not yet handed out), including padding committed by `finish()`.
    public private(set) var bufferedByteCount = 0
    /// True after `finish()` until the next `append` or `reset()`.
    public private(set) var isFinished = false

    public init(frameSize: Int = 160, padding: UInt8 = G711Law.ulaw.silenceByte) {
        precondition(frameSize > 0, "Reframer: frameSize must be positive, got \(frameSize)")
        self.frameSize = frameSize
        self.padding = padding
        self.scratch = [UInt8](repeating: padding, count: frameSize)
        chunks.reserveCapacity(16)
    }

    /// A whole frame is ready (after `finish()` this includes the padded final frame).
    public var hasFrame: Bool { bufferedByteCount >= frameSize }

    /// Queues `chunk` without copying its bytes. Appending after `finish()` starts a new utterance.
    public mutating func append(_ chunk: [UInt8]) {
        isFinished = false
        guard !chunk.isEmpty else { return }
        chunks.append(Chunk(bytes: chunk, padding: 0))
        bufferedByteCount += chunk.count
        tailPhase = (tailPhase + chunk.count) % frameSize
    }

    /// Ends the utterance: the final partial frame, if any, is completed with `padding`.
    public mutating func finish() {
        if tailPhase != 0 {
            let pad = frameSize - tailPhase
            chunks[chunks.count - 1].padding += pad
            bufferedByteCount += pad
            tailPhase = 0
        }
        isFinished = true
    }

    /// Drops everything pending (barge-in) and clears `isFinished`.
    public mutating func reset() {
        chunks.removeAll(keepingCapacity: true)
        head = 0
        offset = 0
        tailPhase = 0
        bufferedByteCount = 0
        isFinished = false
    }

    /// Hands the next complete frame (exactly `frameSize` bytes) to `body` without allocating; nil if none
    /// is ready. The frame counts as consumed even if `body` throws. The pointer is valid only inside `body`.
    public mutating func withNextFrame<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R? {
        guard hasFrame else { return nil }
        let chunk = chunks[head].bytes
        let start = offset
        if chunk.count - start >= frameSize {
            advanceWithinHead(by: frameSize)
            return try chunk.withUnsafeBytes { all in
                try body(UnsafeRawBufferPointer(rebasing: all[start ..< start + frameSize]))
            }
        }
        assembleStraddlingFrame()
        return try scratch.withUnsafeBytes(body)
    }

    /// Convenience for tests and non-hot callers; allocates the returned array.
    public mutating func nextFrame() -> [UInt8]? {
        withNextFrame { [UInt8]($0) }
    }

    private mutating func advanceWithinHead(by count: Int) {
        offset += count
        bufferedByteCount -= count
        if offset == chunks[head].length {
            releaseHead()
        }
    }

    private mutating func releaseHead() {
        // Drop the reference now so a long utterance's audio is freed as it plays.
        chunks[head] = Chunk(bytes: [], padding: 0)
        head += 1
        offset = 0
        if head == chunks.count {
            chunks.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 32, head * 2 >= chunks.count {
            chunks.removeSubrange(0 ..< head)
            head = 0
        }
    }

    private mutating func assembleStraddlingFrame() {
        // Move the scratch out so it is uniquely referenced while written (no copy-on-write) and so the
        // loop below can read `chunks` without overlapping access to `self`.
        var buffer = scratch
        scratch = []
        var filled = 0
        buffer.withUnsafeMutableBytes { dst in
            while filled < frameSize {
                let chunk = chunks[head]
                let take = min(frameSize - filled, chunk.length - offset)
                let fromBytes = max(0, min(take, chunk.bytes.count - offset))
                if fromBytes > 0 {
                    chunk.bytes.withUnsafeBytes { src in
                        (dst.baseAddress! + filled).copyMemory(from: src.baseAddress! + offset, byteCount: fromBytes)
                    }
                }
                let fromPadding = take - fromBytes
                if fromPadding > 0 {
                    (dst.baseAddress! + filled + fromBytes).initializeMemory(as: UInt8.self, repeating: padding, count: fromPadding)
                }
                filled += take
                advanceWithinHead(by: take)
            }
        }
        scratch = buffer
    }
}
