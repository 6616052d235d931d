import Foundation

/// A word heard in `SpokenTextCode` audio. Sample positions count from the first sample fed to
/// the decoder (8 kHz), and are accurate to one 5 ms analysis block.
public struct SpokenWord: Sendable, Equatable {
    public var text: String
    /// Where the word's first symbol starts sounding.
    public var startSample: Int
    /// Where the word's last symbol stops sounding.
    public var endSample: Int
    /// How cleanly its weakest symbol came through: the share of that symbol's energy found in
    /// its two tones (1 for a perfect symbol, less with noise or distortion).
    public var confidence: Double

    public init(text: String, startSample: Int, endSample: Int, confidence: Double) {
        self.text = text
        self.startSample = startSample
        self.endSample = endSample
        self.confidence = confidence
    }
}

/// A whole utterance, from its start marker to its end marker (or to where it broke off).
public struct SpokenUtterance: Sendable, Equatable {
    /// The words, separated by single spaces.
    public var text: String
    public var startSample: Int
    public var endSample: Int
    /// True when the end marker was heard; false when the utterance broke off (a pause longer
    /// than `SpokenTextDecoder.maxPauseMs`, audio that is not the code, or `finish()`).
    public var complete: Bool

    public init(text: String, startSample: Int, endSample: Int, complete: Bool) {
        self.text = text
        self.startSample = startSample
        self.endSample = endSample
        self.complete = complete
    }
}

public enum SpokenTextEvent: Sendable, Equatable {
    /// The start marker: an utterance begins at this sample.
    case utteranceStarted(atSample: Int)
    /// A word is complete: a space followed it, or the utterance ended.
    case word(SpokenWord)
    /// The utterance is over; any last word was reported just before.
    case utteranceEnded(SpokenUtterance)
}

/// Hears `SpokenTextCode` audio incrementally: feed 8 kHz PCM in pieces of any size and get
/// words as they complete and the end of each utterance.
///
/// How it listens: the audio is cut into 5 ms blocks and their energy is measured. A run of loud
/// blocks between quiet ones is one symbol if it lasts 35–50 ms; its middle 20 ms go through 14
/// Goertzel filters, one per tone, and the symbol is accepted when one low and one high tone
/// hold at least 80 % of that energy and each clearly beats the rest of its group. Everything
/// is relative to the symbol's own level except the floor that starts a run (-40 dBm0), so level
/// changes, G.711 and small offsets don't matter. A symbol is decided 5–10 ms after it ends.
///
/// Anything else (speech, noise, DTMF, a run too short or too long) is not the code: outside an
/// utterance it is ignored, inside one it breaks the utterance off.
///
/// Keeps the last 1024 samples in a ring it owns; feeding allocates nothing except the strings of
/// completed words.
public final class SpokenTextDecoder {
    /// The analysis block: 5 ms. The 10 ms gap between symbols always holds one whole block.
    static let blockSamples = 40
    /// The Goertzel window: 20 ms, on whose bins every tone falls exactly.
    static let windowSamples = 160
    /// A symbol's loud run, in blocks: 40 ms is 8 whole blocks or 9 partial ones; 7 if both
    /// edges fall in blocks too faint to count, 10 after smearing by a resampler.
    static let runBlocks = 7...10
    /// Inside an utterance, quiet for this long breaks it off.
    public static let maxPauseMs = 200
    static let ringSize = 1024
    /// A run starts with a block above this level...
    static let floorDBm0 = -40.0
    /// ... and ends with a block this far below the run's loudest block (or below the floor).
    static let endDropDB = 20.0
    /// The two tones must hold this share of the window's energy ...
    static let minToneShare = 0.8
    /// ... each at least this share (the pair may be tilted by up to about 12 dB) ...
    static let minSingleToneShare = 0.05
    /// ... and each beat every other tone of its group by this factor in energy (9 dB).
    static let minDominance = 8.0

    private enum Run {
        case quiet
        case loud(startBlock: Int, peak: Int64)
        /// Too long to be a symbol; wait for the quiet.
        case overlong(peak: Int64)
    }

    private let ring: UnsafeMutablePointer<Int16>
    private var position = 0
    private var blockEnergy: Int64 = 0
    private var run = Run.quiet
    private var quietBlocks = 0
    private let floorEnergy: Int64
    private let endDrop: Int64
    private let maxPauseBlocks: Int
    private static let coefficients: [Double] = (SpokenTextCode.lowTonesHz + SpokenTextCode.highTonesHz).map {
        2 * cos(2 * Double.pi * Double($0) / Double(SpokenTextCode.sampleRate))
    }

    // The utterance in progress.
    private var inUtterance = false
    private var utteranceStart = 0
    private var lastSymbolEnd = 0
    private var utteranceText = ""
    private var word: [UInt8] = []
    private var wordStart = 0
    private var wordEnd = 0
    private var wordConfidence = 1.0

    public init() {
        ring = .allocate(capacity: Self.ringSize)
        ring.initialize(repeating: 0, count: Self.ringSize)
        floorEnergy = Int64(SpokenTextCode.meanSquare(dBm0: Self.floorDBm0) * Double(Self.blockSamples))
        endDrop = Int64(pow(10, Self.endDropDB / 10))
        maxPauseBlocks = Self.maxPauseMs * 8 / Self.blockSamples
        word.reserveCapacity(64)
    }

    deinit {
        ring.deallocate()
    }

    /// Samples fed since the start (or `reset()`).
    public var samplesFed: Int { position }

    /// Whether a start marker was heard and the utterance has not ended yet.
    public var isInUtterance: Bool { inUtterance }

    /// The word being heard, as far as it has come: not complete yet. nil between words.
    public var pendingWord: SpokenWord? {
        guard !word.isEmpty else { return nil }
        return SpokenWord(text: String(decoding: word, as: UTF8.self), startSample: wordStart, endSample: wordEnd, confidence: wordConfidence)
    }

    /// The completed words of the utterance in progress, separated by spaces.
    public var heardText: String { utteranceText }

    /// Feeds consecutive 8 kHz PCM and reports every event in order.
    public func feed(_ samples: UnsafeBufferPointer<Int16>, onEvent: (SpokenTextEvent) -> Void) {
        let mask = Self.ringSize - 1
        for sample in samples {
            ring[position & mask] = sample
            blockEnergy += Int64(sample) * Int64(sample)
            position += 1
            if position % Self.blockSamples == 0 {
                endOfBlock(onEvent)
            }
        }
    }

    public func feed(_ samples: [Int16]) -> [SpokenTextEvent] {
        var events: [SpokenTextEvent] = []
        samples.withUnsafeBufferPointer { feed($0) { events.append($0) } }
        return events
    }

    /// Ends an utterance in progress as broken off (the audio stopped): reports its last word
    /// and its end.
    public func finish(onEvent: (SpokenTextEvent) -> Void) {
        if inUtterance { breakOff(onEvent) }
    }

    public func finish() -> [SpokenTextEvent] {
        var events: [SpokenTextEvent] = []
        finish { events.append($0) }
        return events
    }

    /// Forgets everything, as a freshly made decoder.
    public func reset() {
        ring.update(repeating: 0, count: Self.ringSize)
        position = 0
        blockEnergy = 0
        run = .quiet
        quietBlocks = 0
        inUtterance = false
        utteranceText = ""
        word.removeAll(keepingCapacity: true)
    }

    // MARK: - Runs of loud blocks

    private func endOfBlock(_ onEvent: (SpokenTextEvent) -> Void) {
        let block = position / Self.blockSamples - 1
        let energy = blockEnergy
        blockEnergy = 0
        switch run {
        case .quiet:
            if energy > floorEnergy {
                run = .loud(startBlock: block, peak: energy)
            } else {
                quietBlocks += 1
                if inUtterance, quietBlocks >= maxPauseBlocks { breakOff(onEvent) }
            }
        case .loud(let startBlock, let peak):
            if isQuiet(energy, peak: peak) {
                run = .quiet
                quietBlocks = 1
                if Self.runBlocks.contains(block - startBlock) {
                    classify(firstBlock: startBlock, lastBlock: block - 1, onEvent)
                } else {
                    notTheCode(onEvent)
                }
            } else if block - startBlock + 1 > Self.runBlocks.upperBound {
                run = .overlong(peak: max(peak, energy))
            } else {
                run = .loud(startBlock: startBlock, peak: max(peak, energy))
            }
        case .overlong(let peak):
            if isQuiet(energy, peak: peak) {
                run = .quiet
                quietBlocks = 1
                notTheCode(onEvent)
            } else {
                run = .overlong(peak: max(peak, energy))
            }
        }
    }

    private func isQuiet(_ energy: Int64, peak: Int64) -> Bool {
        energy <= floorEnergy || energy * endDrop < peak
    }

    // MARK: - Symbols

    /// Goertzel over the 20 ms in the middle of the run.
    private func classify(firstBlock: Int, lastBlock: Int, _ onEvent: (SpokenTextEvent) -> Void) {
        let center = (firstBlock + lastBlock + 1) * Self.blockSamples / 2
        let from = center - Self.windowSamples / 2
        let mask = Self.ringSize - 1
        var total = 0.0
        for n in 0..<Self.windowSamples {
            let x = Double(ring[(from + n) & mask])
            total += x * x
        }
        guard total > 0 else { return notTheCode(onEvent) }
        let lowCount = SpokenTextCode.lowTonesHz.count
        let toneCount = Self.coefficients.count
        // The best and second-best share in each group, without an array.
        var best = (low: (index: -1, share: 0.0, second: 0.0), high: (index: -1, share: 0.0, second: 0.0))
        let normaliser = 2 / (Double(Self.windowSamples) * total)
        for k in 0..<toneCount {
            let c = Self.coefficients[k]
            var s1 = 0.0, s2 = 0.0
            for n in 0..<Self.windowSamples {
                let s = Double(ring[(from + n) & mask]) + c * s1 - s2
                s2 = s1
                s1 = s
            }
            let share = (s1 * s1 + s2 * s2 - c * s1 * s2) * normaliser
            if k < lowCount {
                Self.rank(&best.low, index: k, share: share)
            } else {
                Self.rank(&best.high, index: k - lowCount, share: share)
            }
        }
        let pair = best.low.share + best.high.share
        guard pair >= Self.minToneShare,
              best.low.share >= Self.minSingleToneShare, best.high.share >= Self.minSingleToneShare,
              best.low.share >= Self.minDominance * best.low.second,
              best.high.share >= Self.minDominance * best.high.second
        else { return notTheCode(onEvent) }
        let symbol = best.low.index * SpokenTextCode.highTonesHz.count + best.high.index
        heard(
            symbol: symbol, startSample: firstBlock * Self.blockSamples, endSample: (lastBlock + 1) * Self.blockSamples,
            confidence: min(1, pair), onEvent
        )
    }

    private static func rank(_ group: inout (index: Int, share: Double, second: Double), index: Int, share: Double) {
        if share > group.share {
            group.second = group.share
            group.share = share
            group.index = index
        } else if share > group.second {
            group.second = share
        }
    }

    // MARK: - Utterances

    private func heard(symbol: Int, startSample: Int, endSample: Int, confidence: Double, _ onEvent: (SpokenTextEvent) -> Void) {
        if symbol == SpokenTextCode.startSymbol {
            // A new start inside an utterance: the old one broke off where its last symbol ended.
            if inUtterance { breakOff(onEvent) }
            inUtterance = true
            utteranceStart = startSample
            lastSymbolEnd = endSample
            utteranceText = ""
            word.removeAll(keepingCapacity: true)
            onEvent(.utteranceStarted(atSample: startSample))
            return
        }
        guard inUtterance else { return }
        lastSymbolEnd = endSample
        if symbol == SpokenTextCode.endSymbol {
            end(complete: true, onEvent)
            return
        }
        guard let character = SpokenTextCode.character(forSymbol: symbol), let ascii = character.asciiValue else { return }
        if character == " " {
            finishWord(onEvent)
            return
        }
        if word.isEmpty {
            wordStart = startSample
            wordConfidence = confidence
        } else {
            wordConfidence = min(wordConfidence, confidence)
        }
        word.append(ascii)
        wordEnd = endSample
    }

    private func finishWord(_ onEvent: (SpokenTextEvent) -> Void) {
        guard !word.isEmpty else { return }
        let text = String(decoding: word, as: UTF8.self)
        word.removeAll(keepingCapacity: true)
        if !utteranceText.isEmpty { utteranceText += " " }
        utteranceText += text
        onEvent(.word(SpokenWord(text: text, startSample: wordStart, endSample: wordEnd, confidence: wordConfidence)))
    }

    private func notTheCode(_ onEvent: (SpokenTextEvent) -> Void) {
        if inUtterance { breakOff(onEvent) }
    }

    private func breakOff(_ onEvent: (SpokenTextEvent) -> Void) {
        end(complete: false, onEvent)
    }

    private func end(complete: Bool, _ onEvent: (SpokenTextEvent) -> Void) {
        finishWord(onEvent)
        inUtterance = false
        let utterance = SpokenUtterance(text: utteranceText, startSample: utteranceStart, endSample: lastSymbolEnd, complete: complete)
        utteranceText = ""
        onEvent(.utteranceEnded(utterance))
    }
}
