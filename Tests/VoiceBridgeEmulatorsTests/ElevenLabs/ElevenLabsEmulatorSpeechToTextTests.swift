import Foundation
import NIOCore
import Testing
import VoiceBridgeAudio
import VoiceBridgeCarriers
import VoiceBridgeEmulators
import VoiceBridgeSpeech

/// The realtime speech-to-text socket over a real loopback socket, against
/// shared/docs/elevenlabs-stt.md: the caller's coded speech in 100 ms μ-law chunks, partials word
/// by word, commits, and the exact message shapes.
@Suite(.timeLimit(.minutes(1)))
struct ElevenLabsEmulatorSpeechToTextTests {
    @Test func payMyBillComesBackWordByWordThenCommitted() async throws {
        try await withEmulator(SpeechToText.configuration()) { emulator, port in
            let (socket, started) = try await SpeechToText.start(port: port)
            let sessionID = try #require(started["session_id"] as? String)
            #expect(sessionID.count == 32 && sessionID.allSatisfy(\.isHexDigit))
            let config = try #require(started["config"] as? [String: Any])
            #expect(config["audio_format"] as? String == "ulaw_8000")
            #expect(config["sample_rate"] as? Int == 8000)
            #expect(config["model_id"] as? String == "scribe_v2_realtime")
            #expect(config["commit_strategy"] as? String == "manual")
            #expect(config["language_code"] is NSNull && config["keepalive_interval_ms"] is NSNull)

            let audio = try SpeechToText.coded("pay my bill")
            let chunks = SpeechToText.chunks(audio)
            let completes = SpeechToText.wordChunks(chunks)
            #expect(completes.values.flatMap { $0 }.sorted() == ["bill", "my", "pay"])
            var partials: [String] = []
            for (index, chunk) in chunks.enumerated() {
                try await socket.send(SpeechToText.message(chunk, commit: index == chunks.count - 1))
                // The partial for a word comes after the chunk that completes it, before any more
                // audio is sent: word by word, not at the end.
                for _ in completes[index] ?? [] {
                    guard case .text(let text) = await socket.next() else { break }
                    #expect(SpeechToText.type(text) == "partial_transcript")
                    #expect(text == ElevenLabsEmulatorTranscriptionProtocol.partialTranscript(SpeechToText.fields(text)["text"] as? String ?? ""))
                    partials.append(SpeechToText.fields(text)["text"] as? String ?? "?")
                }
            }
            #expect(partials == ["pay", "pay my", "pay my bill"])
            let rest = await SpeechToText.messages(from: socket, through: "committed_transcript")
            #expect(rest == [#"{"message_type":"committed_transcript","text":"pay my bill"}"#])

            // What arrived, exactly.
            let record = try #require(emulator.transcriptions.first)
            #expect(record.sessionID == sessionID)
            #expect(record.audioFormat == "ulaw_8000")
            #expect(Bytes(record.audio) == Bytes(audio))
            #expect(record.chunks.map(\.audioBytes) == chunks.map(\.count))
            #expect(record.chunks.map(\.commit) == chunks.indices.map { $0 == chunks.count - 1 })
            #expect(record.chunks.allSatisfy { $0.sampleRate == 8000 && $0.previousText == nil })
            #expect(record.commits == [.init(trigger: .manual, text: "pay my bill", audioEndMs: audio.count / 8)])
            #expect(record.sent.count == 5)  // session_started, three partials, the commit
            #expect(emulator.requests.first?.headers["xi-api-key"] == "<redacted>")
            let counters = emulator.counters
            #expect(counters.transcriptionSessions == 1)
            #expect(abs(counters.transcriptionAudioSeconds - Double(audio.count) / 8000) < 1e-9)
            #expect(counters.partialTranscriptsSent == 3 && counters.committedTranscriptsSent == 1)
            try await socket.sendClose()
            #expect(await socket.collect(timeout: .seconds(5)).end == .close(code: 1000, reason: ""))
        }
    }

    /// The bridge's job in miniature: the phone simulator's caller says two things (`--say`), its
    /// 20 ms μ-law frames go up in 100 ms chunks, and server VAD commits each utterance.
    @Test func aSimulatedCallersSayCuesAreTranscribedOneCommitEach() async throws {
        let script = CallScript(maxDurationMs: 5000, say: [.init(atMs: 500, text: "pay my bill"), .init(atMs: 2500, text: "yes, please")])
        let caller = try CallerTrack.build(callerWAV: nil, script: script)
        try await withEmulator(SpeechToText.configuration()) { emulator, port in
            let (socket, _) = try await SpeechToText.start(port: port, query: "\(Self.ulaw)&commit_strategy=vad&vad_silence_threshold_secs=0.8")
            // The track ends with the last cue; a call goes on streaming silence after it.
            let audio = caller.ulaw + [UInt8](repeating: 0xFF, count: 8000)
            for chunk in SpeechToText.chunks(audio) { try await socket.send(SpeechToText.message(chunk)) }
            let first = await SpeechToText.messages(from: socket, through: "committed_transcript")
            let second = await SpeechToText.messages(from: socket, through: "committed_transcript")
            #expect(first.map { SpeechToText.fields($0)["text"] as? String ?? "?" } == ["pay", "pay my", "pay my bill", "pay my bill"])
            #expect(second.map { SpeechToText.fields($0)["text"] as? String ?? "?" } == ["yes,", "yes, please", "yes, please"])
            #expect(emulator.transcriptions.first?.commits.map(\.trigger) == [.vad, .vad])
        }
    }

    static let ulaw = "model_id=scribe_v2_realtime&audio_format=ulaw_8000"

    @Test func timestampsCountFromTheSessionsFirstAudio() async throws {
        try await withEmulator(SpeechToText.configuration()) { _, port in
            let query = "model_id=scribe_v2_realtime&audio_format=ulaw_8000&include_timestamps=true&include_language_detection=true&language_code=en"
            let (socket, _) = try await SpeechToText.start(port: port, query: query)
            for chunk in SpeechToText.chunks(try SpeechToText.coded("pay my bill", leadMs: 1000)) {
                try await socket.send(SpeechToText.message(chunk))
            }
            try await socket.send(SpeechToText.message([], commit: true))
            let messages = await SpeechToText.messages(from: socket, through: "committed_transcript_with_timestamps")
            #expect(messages.map { SpeechToText.type($0) ?? "?" } == [
                "partial_transcript", "partial_transcript", "partial_transcript", "committed_transcript", "committed_transcript_with_timestamps",
            ])
            let timed = SpeechToText.fields(messages.last ?? "")
            #expect(timed["text"] as? String == "pay my bill")
            #expect(timed["language_code"] as? String == "en")
            let words = try #require(timed["words"] as? [[String: Any]])
            #expect(words.map { $0["text"] as? String } == ["pay", " ", "my", " ", "bill"])
            #expect(words.map { $0["type"] as? String } == ["word", "spacing", "word", "spacing", "word"])
            // After 1 s of silence, the start marker (50 ms), then p-a-y: 1.05 s to 1.19 s.
            let starts = words.compactMap { $0["start"] as? Double }
            let ends = words.compactMap { $0["end"] as? Double }
            for (got, want) in zip(starts, [1.05, 1.19, 1.25, 1.34, 1.40]) { #expect(abs(got - want) <= 0.005, "start \(got), want \(want)") }
            for (got, want) in zip(ends, [1.19, 1.25, 1.34, 1.40, 1.59]) { #expect(abs(got - want) <= 0.005, "end \(got), want \(want)") }
            #expect(words.allSatisfy { ($0["logprob"] as? Double ?? -1) <= 0 && ($0["logprob"] as? Double ?? -1) > -0.05 })
            let first = try #require(messages.last?.split(separator: "[").dropFirst().first)
            #expect(first.hasPrefix(#"{"text":"pay","start":1.05,"end":1.19,"type":"word","logprob":"#))
        }
    }

    @Test func languageDetectionAloneSendsNullWordsFirst() async throws {
        try await withEmulator(SpeechToText.configuration()) { _, port in
            let (socket, _) = try await SpeechToText.start(port: port, query: "model_id=scribe_v2_realtime&audio_format=ulaw_8000&include_language_detection=true")
            for chunk in SpeechToText.chunks(try SpeechToText.coded("yes")) { try await socket.send(SpeechToText.message(chunk)) }
            try await socket.send(SpeechToText.message([], commit: true))
            let messages = await SpeechToText.messages(from: socket, through: "committed_transcript")
            #expect(Array(messages.suffix(2)) == [
                #"{"message_type":"committed_transcript_with_timestamps","text":"yes","language_code":"eng","words":null}"#,
                #"{"message_type":"committed_transcript","text":"yes"}"#,
            ])
        }
    }

    @Test func serverVADCommitsAfterTheSilenceThreshold() async throws {
        try await withEmulator(SpeechToText.configuration()) { emulator, port in
            let query = "model_id=scribe_v2_realtime&audio_format=ulaw_8000&commit_strategy=vad&vad_silence_threshold_secs=0.5"
            let (socket, started) = try await SpeechToText.start(port: port, query: query)
            #expect((started["config"] as? [String: Any])?["commit_strategy"] as? String == "vad")
            let audio = try SpeechToText.coded("pay my bill", tailMs: 1500)
            for chunk in SpeechToText.chunks(audio) { try await socket.send(SpeechToText.message(chunk)) }
            let messages = await SpeechToText.messages(from: socket, through: "committed_transcript")
            #expect(messages.last == #"{"message_type":"committed_transcript","text":"pay my bill"}"#)
            let commit = try #require(emulator.transcriptions.first?.commits.first)
            #expect(commit.trigger == .vad)
            // The speech ends at 200 + 650 - 10 ms; the commit comes with the chunk that holds
            // 0.5 s of silence after it.
            #expect(commit.audioEndMs >= 840 + 500 && commit.audioEndMs <= 840 + 500 + 100, "\(commit.audioEndMs)")
            // Silence after a commit commits nothing more.
            #expect(await socket.quietMessages(for: .milliseconds(300)).isEmpty)
            #expect(emulator.transcriptions.first?.commits.count == 1)
        }
    }

    @Test func aCommitWithUnderThreeTenthsOfASecondIsThrottledAndTheSocketStaysOpen() async throws {
        try await withEmulator(SpeechToText.configuration()) { emulator, port in
            let (socket, _) = try await SpeechToText.start(port: port)
            try await socket.send(SpeechToText.message([UInt8](repeating: 0xFF, count: 1600), commit: true))  // 0.2 s
            guard case .text(let throttled) = await socket.next() else { Issue.record("no answer"); return }
            #expect(throttled == #"{"message_type":"commit_throttled","error":"Commit ignored: 0.20s of uncommitted audio, at least 0.3s needed."}"#)
            try await socket.send(SpeechToText.message([UInt8](repeating: 0xFF, count: 800), commit: true))  // 0.3 s in all
            guard case .text(let committed) = await socket.next() else { Issue.record("no commit"); return }
            #expect(committed == #"{"message_type":"committed_transcript","text":""}"#)
            #expect(emulator.transcriptions.first?.throttledCommits == 1)
            #expect(emulator.counters.transcriptionErrorsSent == ["commit_throttled": 1])
        }
    }

    @Test func audioThatIsNotTheCodeCommitsEmpty() async throws {
        var espeak: [UInt8] = []
        for try await chunk in OfflineVoice().speak("Pay my bill.", options: TurnOptions(id: "espeak")).chunks { espeak += chunk.audio }
        #expect(espeak.count > 4000)
        for audio in [CallerSignal.noise(ms: 1000), CallerSignal.speech(ms: 1000), espeak] {
            try await withEmulator(SpeechToText.configuration()) { emulator, port in
                let (socket, _) = try await SpeechToText.start(port: port)
                let chunks = SpeechToText.chunks(audio)
                for (index, chunk) in chunks.enumerated() { try await socket.send(SpeechToText.message(chunk, commit: index == chunks.count - 1)) }
                let messages = await SpeechToText.messages(from: socket, through: "committed_transcript")
                #expect(messages == [#"{"message_type":"committed_transcript","text":""}"#])
                #expect(emulator.transcriptions.first?.commits.map(\.text) == [""])
            }
        }
    }

    @Test func widebandPCMIsHeardToo() async throws {
        try await withEmulator(SpeechToText.configuration()) { _, port in
            let (socket, _) = try await SpeechToText.start(port: port, query: "model_id=scribe_v2_realtime_turbo&audio_format=pcm_16000")
            let narrow = [Int16](repeating: 0, count: 1600) + (try SpokenTextCode.encode("pay my bill")) + [Int16](repeating: 0, count: 2400)
            let wide = try Resampler.resample(narrow, from: 8000, to: 16000)
            let bytes = wide.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }
            // 100 ms chunks, then an odd cut: a sample split between two chunks still lines up.
            var chunks = SpeechToText.chunks(bytes, ms: 100, bytesPerMs: 32)
            let last = chunks.removeLast()
            chunks += [Array(last.prefix(101)), Array(last.dropFirst(101))]
            for (index, chunk) in chunks.enumerated() {
                try await socket.send(SpeechToText.message(chunk, commit: index == chunks.count - 1, sampleRate: 16000))
            }
            let messages = await SpeechToText.messages(from: socket, through: "committed_transcript")
            #expect(messages.map { SpeechToText.fields($0)["text"] as? String ?? "?" } == ["pay", "pay my", "pay my bill", "pay my bill"])
        }
    }

    @Test func aCommitMidWordCommitsTheLettersSoFarAndTheRestOpensTheNextSegment() async throws {
        try await withEmulator(SpeechToText.configuration()) { emulator, port in
            let (socket, _) = try await SpeechToText.start(port: port)
            let audio = try SpeechToText.coded("pay my bill", leadMs: 0)
            // Up to the middle of "bill": start, p a y _ m y _ b i, and a little more.
            let cut = 10 * 400 + 100
            try await socket.send(SpeechToText.message(Array(audio[..<(cut - 800)])))
            try await socket.send(SpeechToText.message(Array(audio[(cut - 800)..<cut]), commit: true))
            let first = await SpeechToText.messages(from: socket, through: "committed_transcript")
            #expect(first.last == #"{"message_type":"committed_transcript","text":"pay my bi"}"#)
            let rest = Array(audio[cut...])
            for chunk in SpeechToText.chunks(rest) { try await socket.send(SpeechToText.message(chunk)) }
            try await socket.send(SpeechToText.message([], commit: true))
            let second = await SpeechToText.messages(from: socket, through: "committed_transcript")
            #expect(second == [#"{"message_type":"partial_transcript","text":"ll"}"#, #"{"message_type":"committed_transcript","text":"ll"}"#])
            #expect(emulator.transcriptions.first?.commits.map(\.text) == ["pay my bi", "ll"])
        }
    }

    @Test func messagesNeverOvertakeEachOtherWhateverTheLatencies() async throws {
        // Commits faster than partials: the commit still comes last.
        let configuration = SpeechToText.configuration { $0.partialLatencyMs = 300; $0.commitLatencyMs = 0 }
        try await withEmulator(configuration) { _, port in
            let (socket, _) = try await SpeechToText.start(port: port)
            let chunks = SpeechToText.chunks(try SpeechToText.coded("pay my bill"))
            for (index, chunk) in chunks.enumerated() { try await socket.send(SpeechToText.message(chunk, commit: index == chunks.count - 1)) }
            let messages = await SpeechToText.messages(from: socket, through: "committed_transcript")
            #expect(messages.map { SpeechToText.type($0) ?? "?" } == ["partial_transcript", "partial_transcript", "partial_transcript", "committed_transcript"])
        }
    }
}
