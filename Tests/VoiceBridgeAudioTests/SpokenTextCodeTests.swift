import Foundation
import Testing
@testable import VoiceBridgeAudio

@Suite struct SpokenTextCodeTests {
    /// Words of random characters from the whole alphabet, so every symbol gets exercised.
    private static func randomText(_ rng: inout SplitMix64) -> String {
        let letters = Array("abcdefghijklmnopqrstuvwxyz0123456789'.,?!-:@+&")
        let words = Int.random(in: 1...6, using: &rng)
        return (0..<words).map { _ in
            String((0..<Int.random(in: 1...9, using: &rng)).map { _ in letters.randomElement(using: &rng)! })
        }.joined(separator: " ")
    }

    /// Feeds `pcm` in pieces whose sizes come from `sizes` (cycled), collecting every event.
    private static func decode(_ pcm: [Int16], pieces sizes: [Int], decoder: SpokenTextDecoder = SpokenTextDecoder()) -> [SpokenTextEvent] {
        var events: [SpokenTextEvent] = []
        pcm.withUnsafeBufferPointer { all in
            var start = 0
            var turn = 0
            while start < all.count {
                let end = min(all.count, start + sizes[turn % sizes.count])
                decoder.feed(UnsafeBufferPointer(rebasing: all[start..<end])) { events.append($0) }
                start = end
                turn += 1
            }
        }
        return events
    }

    private static func words(_ events: [SpokenTextEvent]) -> [String] {
        events.compactMap { if case .word(let word) = $0 { word.text } else { nil } }
    }

    private static func utterances(_ events: [SpokenTextEvent]) -> [SpokenUtterance] {
        events.compactMap { if case .utteranceEnded(let utterance) = $0 { utterance } else { nil } }
    }

    private static func scaled(_ pcm: [Int16], dB: Double) -> [Int16] {
        let gain = pow(10, dB / 20)
        return pcm.map { Int16(clamping: Int((Double($0) * gain).rounded())) }
    }

    // MARK: - The scheme

    @Test func canonicalTextIsWhatTheDecoderReturns() throws {
        #expect(try SpokenTextCode.canonicalText("  Pay  my\tBill\n") == "pay my bill")
        #expect(try SpokenTextCode.canonicalText("Café’s — Ünïcode") == "cafe's - unicode")
        #expect(try SpokenTextCode.canonicalText("Call +1 555-0100, ok?") == "call +1 555-0100, ok?")
        #expect(throws: SpokenTextCodeError.unsupportedCharacter("$", position: 6)) { try SpokenTextCode.canonicalText("price $5") }
        #expect(throws: SpokenTextCodeError.nothingToSay) { try SpokenTextCode.canonicalText(" \n ") }
        #expect(throws: SpokenTextCodeError.invalidLevel(3)) { try SpokenTextCode.encode("hi", levelDBm0: 3) }
        #expect(SpokenTextCodeError.unsupportedCharacter("$", position: 6).description.contains("'$' at position 6"))
    }

    @Test func everySymbolIsItsOwnTonePairInTheVoiceBandAndNoneIsNearADTMFColumn() {
        var pairs = Set<[Int]>()
        for symbol in 0..<SpokenTextCode.symbolCount {
            let (low, high) = SpokenTextCode.tones(ofSymbol: symbol)
            pairs.insert([low, high])
            #expect((300...1000).contains(low) && (300...1000).contains(high))
            for column in [1209, 1336, 1477, 1633] { #expect(column - high >= 200) }
        }
        #expect(pairs.count == 49)
        #expect(SpokenTextCode.characters.count == 47)
        #expect(SpokenTextCode.character(forSymbol: SpokenTextCode.startSymbol) == nil)
        #expect(SpokenTextCode.character(forSymbol: SpokenTextCode.endSymbol) == nil)
    }

    @Test func lengthAndLevelAreAsDocumented() throws {
        let pcm = try SpokenTextCode.encode("pay my bill")
        // Start marker, 11 characters, end marker: 13 symbols of 50 ms.
        #expect(pcm.count == 13 * 400)
        #expect(try SpokenTextCode.durationMs("pay my bill") == 650)
        // The middle of a tone is at the symbol's level; the gap after it is silent.
        let tone = Array(pcm[400 + 40 ..< 400 + 280])
        let rms = (tone.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(tone.count)).squareRoot()
        #expect(abs(Signals.dBm0(rms: rms) - SpokenTextCode.defaultLevelDBm0) < 0.3)
        #expect(pcm[400 + 320 ..< 800].allSatisfy { $0 == 0 })
    }

    // MARK: - Round trips

    @Test func theWholeAlphabetRoundTripsInOnePiece() throws {
        let text = "abcdefghij klmnopqrst uvwxyz 0123456789 it's 1.5, ok? yes! x-ray a:b me@x 1+1 r&d"
        let events = Self.decode(try SpokenTextCode.encode(text), pieces: [1 << 20])
        #expect(Self.words(events) == text.split(separator: " ").map(String.init))
        #expect(Self.utterances(events).map(\.text) == [text])
        #expect(Self.utterances(events).map(\.complete) == [true])
        #expect(events.first == .utteranceStarted(atSample: 0))
    }

    @Test func randomTextSurvivesG711LevelOffsetAndArbitraryChunking() throws {
        var rng = SplitMix64(seed: 0x5107)
        for round in 0..<120 {
            let text = Self.randomText(&rng)
            let level = Double.random(in: -6...6, using: &rng)
            let law: G711Law = round % 2 == 0 ? .ulaw : .alaw
            let offset = Int.random(in: 0..<120, using: &rng)  // up to 15 ms
            var pcm = [Int16](repeating: 0, count: offset) + (try SpokenTextCode.encode(text, levelDBm0: SpokenTextCode.defaultLevelDBm0 + level))
            pcm += [Int16](repeating: 0, count: 400)
            pcm = G711.decode(G711.encode(pcm, law: law), law: law)
            let sizes = (0..<7).map { _ in Int.random(in: 1...1200, using: &rng) }
            let events = Self.decode(pcm, pieces: sizes)
            let expected = text.split(separator: " ").map(String.init)
            #expect(Self.words(events) == expected, "round \(round): \(text) at \(level) dB, \(law), offset \(offset), pieces \(sizes)")
            #expect(Self.utterances(events) .map(\.text) == [text])
            #expect(Self.utterances(events).first?.complete == true)
            guard case .utteranceStarted(let start)? = events.first else {
                Issue.record("round \(round): no start first")
                continue
            }
            #expect(abs(start - offset) < SpokenTextDecoder.blockSamples)
        }
    }

    @Test(arguments: [160, 800])
    func telephonyFramesAndChunksDecodeWordByWordAsTheyArrive(pieceSamples: Int) throws {
        // 20 ms frames or 100 ms chunks, 7 ms off the symbol grid, through μ-law.
        let pcm = [Int16](repeating: 0, count: 56) + (try SpokenTextCode.encode("Pay my bill")) + [Int16](repeating: 0, count: 800)
        let coded = G711.decode(G711.encode(pcm, law: .ulaw), law: .ulaw)
        let decoder = SpokenTextDecoder()
        var arrivals: [(String, Int)] = []  // what was reported, and by how many samples fed
        coded.withUnsafeBufferPointer { all in
            for start in stride(from: 0, to: all.count, by: pieceSamples) {
                let end = min(all.count, start + pieceSamples)
                decoder.feed(UnsafeBufferPointer(rebasing: all[start..<end])) { event in
                    switch event {
                    case .utteranceStarted: arrivals.append(("<start>", end))
                    case .word(let word): arrivals.append((word.text, end))
                    case .utteranceEnded(let utterance): arrivals.append(("<end:\(utterance.text)>", end))
                    }
                }
            }
        }
        #expect(arrivals.map(\.0) == ["<start>", "pay", "my", "bill", "<end:pay my bill>"])
        // Each word is reported in the piece holding the space (or end marker) after it, 5–10 ms
        // after that symbol's tone ends: never waiting for the utterance.
        let spaceAfterPay = 56 + 4 * 400 + 320
        let spaceAfterMy = 56 + 7 * 400 + 320
        #expect(arrivals[1].1 >= spaceAfterPay && arrivals[1].1 <= spaceAfterPay + 80 + pieceSamples)
        #expect(arrivals[2].1 >= spaceAfterMy && arrivals[2].1 <= spaceAfterMy + 80 + pieceSamples)
    }

    @Test func wordTimesAreWhereTheWordsSound() throws {
        let lead = 8000  // one second of silence first
        let pcm = [Int16](repeating: 0, count: lead) + (try SpokenTextCode.encode("pay my bill"))
        let events = Self.decode(pcm, pieces: [333])
        let words = events.compactMap { if case .word(let word) = $0 { word } else { nil } }
        #expect(words.map(\.text) == ["pay", "my", "bill"])
        // "pay" is symbols 1–3, "my" 5–6, "bill" 8–11 (symbol 0 is the start marker).
        let spans = [(1, 3), (5, 6), (8, 11)]
        for (word, (first, last)) in zip(words, spans) {
            #expect(abs(word.startSample - (lead + first * 400)) < SpokenTextDecoder.blockSamples)
            #expect(abs(word.endSample - (lead + last * 400 + 320)) < SpokenTextDecoder.blockSamples)
            #expect(word.confidence > 0.99)
        }
    }

    @Test func survivesWidebandAndBack() throws {
        let pcm = (try SpokenTextCode.encode("see you at 10:30, bye")) + [Int16](repeating: 0, count: 800)
        let wide = try Resampler.resample(pcm, from: 8000, to: 16000)
        let narrow = try Resampler(inputRate: 16000, outputRate: 8000).process(wide + [Int16](repeating: 0, count: 400))
        #expect(Self.utterances(Self.decode(narrow, pieces: [320])).map(\.text) == ["see you at 10:30, bye"])
    }

    @Test func twoUtterancesInARowAndRepeatedLettersStaySeparate() throws {
        let pcm = (try SpokenTextCode.encode("all good")) + [Int16](repeating: 0, count: 4000) + (try SpokenTextCode.encode("oooo  1111"))
        let events = Self.decode(pcm, pieces: [160])
        #expect(Self.utterances(events).map(\.text) == ["all good", "oooo 1111"])
    }

    // MARK: - What is not the code

    @Test func noiseSpeechAndDTMFDecodeToNothing() throws {
        var rng = SplitMix64(seed: 9)
        let noise = Signals.whiteNoise(rms: Signals.rms(forDBm0: -20), count: 16000, rng: &rng)
        let speech = Signals.speechLike(durationMs: 2000, dBm0: -20)
        let keys = try ToneGenerator.dtmf("123456789*0#ABCD", toneMs: 40, gapMs: 10, levelDBm0: -10)
        let clicks = (0..<40).flatMap { _ in [Int16](repeating: 8000, count: 20) + [Int16](repeating: 0, count: 380) }
        for signal in [noise, speech, keys, clicks] {
            #expect(Self.decode(signal, pieces: [160]).isEmpty)
        }
    }

    @Test func anUtteranceThatStopsBreaksOffWithWhatWasHeard() throws {
        let pcm = try SpokenTextCode.encode("pay my bill")
        // Cut in the middle of "bill": start, p a y _ m y _ b i, then half of "l".
        let cut = Array(pcm[0 ..< 10 * 400 + 150])
        let paused = Self.decode(cut + [Int16](repeating: 0, count: 8 * SpokenTextDecoder.maxPauseMs + 80), pieces: [160])
        #expect(Self.words(paused) == ["pay", "my", "bi"])
        #expect(Self.utterances(paused).map(\.text) == ["pay my bi"])
        #expect(Self.utterances(paused).map(\.complete) == [false])

        // Without the pause, the utterance stays open until finish().
        let decoder = SpokenTextDecoder()
        let open = Self.decode(cut, pieces: [160], decoder: decoder)
        #expect(Self.words(open) == ["pay", "my"])
        #expect(decoder.isInUtterance)
        #expect(decoder.pendingWord?.text == "bi")
        #expect(decoder.pendingWord?.startSample == 8 * 400)
        #expect(decoder.heardText == "pay my")
        #expect(Self.utterances(decoder.finish()).map(\.text) == ["pay my bi"])
        #expect(!decoder.isInUtterance)
    }

    @Test func noiseInsideAnUtteranceBreaksItOff() throws {
        var rng = SplitMix64(seed: 3)
        let pcm = try SpokenTextCode.encode("pay my bill")
        let noise = Signals.whiteNoise(rms: Signals.rms(forDBm0: -20), count: 2400, rng: &rng)
        let events = Self.decode(Array(pcm[0 ..< 8 * 400]) + noise + [Int16](repeating: 0, count: 400), pieces: [160])
        // It ends where the last symbol heard (the space after "my") ended.
        #expect(Self.utterances(events) == [SpokenUtterance(text: "pay my", startSample: 0, endSample: 7 * 400 + 320, complete: false)])
    }

    // MARK: - What the bridge's detectors make of it

    @Test(arguments: [G711Law.ulaw, .alaw], [-23.0, -17.0, -11.0])
    func theBridgesSpeechDetectorHearsSpeech(law: G711Law, levelDBm0: Double) throws {
        let lead = 4000
        let code = try SpokenTextCode.encode("pay my bill", levelDBm0: levelDBm0)
        let pcm = G711.decode(G711.encode([Int16](repeating: 0, count: lead) + code + [Int16](repeating: 0, count: 8000), law: law), law: law)
        var events: [SpeechEvent] = []
        let detector = SpeechDetector(SpeechDetectorConfiguration())
        pcm.withUnsafeBufferPointer { all in
            for start in stride(from: 0, to: all.count, by: 160) {
                detector.process(UnsafeBufferPointer(rebasing: all[start ..< min(all.count, start + 160)])) { events.append($0) }
            }
        }
        guard events.count == 2, case .started(let onsetMs, let confirmedMs) = events[0], case .stopped(let stoppedMs) = events[1] else {
            Issue.record("expected one stretch of speech, got \(events)")
            return
        }
        #expect(abs(onsetMs - lead / 8) <= 5)
        #expect(confirmedMs <= lead / 8 + 250)
        // One stretch: the 10 ms gaps never end it; it stops a hangover after the last tone (plus
        // the meter's decay, longer for louder audio).
        let lastTone = (lead + code.count - 80) / 8
        let stopAfterLastTone = stoppedMs - lastTone - SpeechDetectorConfiguration().hangoverMs
        #expect(stopAfterLastTone >= 0 && stopAfterLastTone <= 60, "stopped \(stopAfterLastTone) ms after the hangover")
    }

    @Test func theBridgesDTMFDetectorStaysSilentOnEverySymbol() throws {
        // Every symbol, three times over, at the default level and 12 dB louder, through μ-law.
        let allSymbols = String(repeating: String(SpokenTextCode.characters), count: 3)
        for level in [SpokenTextCode.defaultLevelDBm0, -5] {
            let pcm = G711.decode(G711.encode(try SpokenTextCode.encode(allSymbols, levelDBm0: level), law: .ulaw), law: .ulaw)
            #expect(DTMFDetector().process(pcm).isEmpty, "at \(level) dBm0")
        }
        // The detector itself works on the same path.
        let key = G711.decode(G711.encode(try ToneGenerator.dtmf("5", levelDBm0: -17), law: .ulaw), law: .ulaw)
        #expect(DTMFDetector().process(key).map(\.digit) == ["5"])
    }
}
