import Foundation
import Testing
import VoiceBridgeAudio
import VoiceBridgeEmulators
import VoiceBridgePrompts
import VoiceBridgeSpeech

/// `PromptBuilder` against the ElevenLabs emulator on loopback, with the known voice: 60 ms of
/// μ-law per character, so every byte and every duration is predictable.
@Suite struct PromptBuilderTests {
    let voice = KnownVoice()

    @Test func buildsValidTelephonyFilesFromTheRealAPIShape() async throws {
        let catalog = try shippedCatalog()
        try await withEmulator(voice: voice) { emulator, port in
            try await withTemporaryDirectory { dir in
                let report = try await PromptBuilder(synthesizer: elevenLabs(port: port), options: .init(outputDirectory: dir)).build(catalog)
                #expect(report.succeeded, "\(report.summary)")
                #expect(report.results.map(\.outcome) == Array(repeating: .synthesized, count: 10))
                #expect(report.billedCharacters == catalog.prompts.reduce(0) { $0 + $1.characters })

                let manifest = try readManifest(dir)
                #expect(manifest.prompts.count == 10)
                for prompt in catalog.prompts {
                    let bytes = try #require(readBytes(dir + "/\(prompt.id).wav"), "\(prompt.id)")
                    let wav = try WAVFile.decode(bytes)
                    #expect(wav.sampleRate == 8000)
                    #expect(wav.channels == 1)
                    #expect(wav.encoding == .ulaw)
                    // Byte for byte what the voice made, so exactly the expected duration.
                    #expect(wav.data == voice.audio(for: prompt.text))
                    #expect(Int(wav.durationMs) == 60 * prompt.text.count)
                    let entry = try #require(manifest.prompts[prompt.id])
                    #expect(entry.file == "\(prompt.id).wav")
                    #expect(entry.format == .ulawWAV)
                    #expect(entry.durationMs == 60 * prompt.text.count)
                    #expect(entry.characters == prompt.text.unicodeScalars.count)
                    #expect(entry.source == "elevenlabs")
                    #expect(entry.voice == "JBFqnCBsd6RMkjVDRZzb")
                    #expect(entry.model == "eleven_flash_v2_5")
                    #expect(entry.text == prompt.text)
                    #expect(entry.hash.count == 64)
                    #expect(entry.sha256.count == 64)
                    #expect(readBytes(dir + "/.cache/\(entry.hash).ulaw_8000") == voice.audio(for: prompt.text))
                }

                // The documented request: POST …/stream?output_format=ulaw_8000, xi-api-key, JSON body.
                let requests = speechRequests(emulator)
                #expect(requests.count == 10)
                for request in requests {
                    #expect(request.method == "POST")
                    #expect(request.path == "/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb/stream")
                    #expect(request.query == ["output_format": "ulaw_8000"])
                    #expect(request.headers["xi-api-key"] != nil)
                    #expect(request.headers["content-type"] == "application/json")
                    #expect(request.status == 200)
                    let body = try #require(request.body.flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
                    #expect(Set(body.keys) == ["text", "model_id", "voice_settings"])
                    #expect(body["model_id"] as? String == "eleven_flash_v2_5")
                    let settings = try #require(body["voice_settings"] as? [String: Double])
                    #expect(settings == ["stability": 0.5, "similarity_boost": 0.75])
                }
                #expect(Set(requests.compactMap(requestedText)) == Set(catalog.prompts.map(\.text)))
            }
        }
    }

    @Test func aSecondRunMakesZeroRequestsEvenWithTheFilesDeleted() async throws {
        let catalog = try shippedCatalog()
        try await withEmulator(voice: voice) { emulator, port in
            try await withTemporaryDirectory { dir in
                let builder = PromptBuilder(synthesizer: elevenLabs(port: port), options: .init(outputDirectory: dir))
                _ = try await builder.build(catalog)
                let firstManifest = readBytes(dir + "/manifest.json")
                #expect(speechRequests(emulator).count == 10)

                let second = try await builder.build(catalog)
                #expect(second.results.map(\.outcome) == Array(repeating: .cached, count: 10))
                #expect(second.billedCharacters == 0)
                #expect(speechRequests(emulator).count == 10)
                #expect(readBytes(dir + "/manifest.json") == firstManifest)

                for prompt in catalog.prompts { try FileManager.default.removeItem(atPath: dir + "/\(prompt.id).wav") }
                let third = try await builder.build(catalog)
                #expect(third.succeeded)
                #expect(speechRequests(emulator).count == 10)
                #expect(try WAVFile.decode(readBytes(dir + "/welcome.wav") ?? []).data == voice.audio(for: "Thank you for calling Acme support."))
            }
        }
    }

    @Test func changingOnePromptsTextRebuildsOnlyThatPrompt() async throws {
        var catalog = try shippedCatalog()
        try await withEmulator(voice: voice) { emulator, port in
            try await withTemporaryDirectory { dir in
                let builder = PromptBuilder(synthesizer: elevenLabs(port: port), options: .init(outputDirectory: dir))
                _ = try await builder.build(catalog)
                let before = try readManifest(dir)

                let changed = "Thanks for calling Acme support."
                catalog.prompts[0].text = changed
                let report = try await builder.build(catalog)
                #expect(report.results.filter { $0.outcome == .synthesized }.map(\.id) == ["welcome"])
                #expect(report.results.filter { $0.outcome == .cached }.count == 9)
                #expect(speechRequests(emulator).count == 11)
                #expect(speechRequests(emulator).last.flatMap(requestedText) == changed)

                let after = try readManifest(dir)
                #expect(after.prompts["welcome"]?.hash != before.prompts["welcome"]?.hash)
                #expect(after.prompts["welcome"]?.durationMs == 60 * changed.count)
                for id in catalog.ids where id != "welcome" { #expect(after.prompts[id] == before.prompts[id]) }
                #expect(try WAVFile.decode(readBytes(dir + "/welcome.wav") ?? []).data == voice.audio(for: changed))
            }
        }
    }

    @Test func aFailureHalfwayIsReportedAndARerunCompletesTheRest() async throws {
        let catalog = try shippedCatalog()
        try await withTemporaryDirectory { dir in
            // The hours prompt gets 500 however often it is retried.
            let failing = ElevenLabsEmulatorConfiguration(faults: .init(failTextContaining: "Monday"))
            let first = try await withEmulator(failing, voice: voice) { emulator, port in
                let report = try await PromptBuilder(synthesizer: elevenLabs(port: port), options: .init(outputDirectory: dir)).build(catalog)
                // Four attempts for hours (three retries), one for each of the others.
                #expect(speechRequests(emulator).count == 9 + 4)
                return report
            }
            #expect(!first.succeeded)
            #expect(first.failures.map(\.id) == ["hours"])
            guard case .failed(let reason) = first.failures.first?.outcome else { return }
            #expect(reason.contains("500"), "\(reason)")
            #expect(first.summary.contains("hours: "))
            #expect(first.results.filter { $0.outcome == .synthesized }.count == 9)
            // A refused request isn't charged.
            #expect(first.billedCharacters == catalog.prompts.filter { $0.id != "hours" }.reduce(0) { $0 + $1.characters })
            // The manifest lists what is built; the failed prompt has no file and no cache entry.
            let partial = try readManifest(dir)
            #expect(Set(partial.prompts.keys) == Set(catalog.ids).subtracting(["hours"]))
            #expect(readBytes(dir + "/hours.wav") == nil)

            try await withEmulator(voice: voice) { emulator, port in
                let report = try await PromptBuilder(synthesizer: elevenLabs(port: port), options: .init(outputDirectory: dir)).build(catalog)
                #expect(report.succeeded)
                #expect(speechRequests(emulator).compactMap(requestedText) == [catalog["hours"]?.text])
                #expect(try readManifest(dir).prompts.count == 10)
                #expect(try WAVFile.decode(readBytes(dir + "/hours.wav") ?? []).data == voice.audio(for: catalog["hours"]!.text))
            }
        }
    }

    @Test func retriesOn429And5xxWithBackoff() async throws {
        let faults = ElevenLabsEmulatorConfiguration(faults: .init(systemBusyCount: 1, http500Count: 2))
        try await withEmulator(faults, voice: voice) { emulator, port in
            try await withTemporaryDirectory { dir in
                let report = try await PromptBuilder(synthesizer: elevenLabs(port: port), options: .init(outputDirectory: dir))
                    .build(catalog([("welcome", "Thank you for calling Acme support.")]))
                #expect(report.succeeded, "\(report.summary)")
                #expect(speechRequests(emulator).map(\.status) == [429, 500, 500, 200])
                // Never an error body as audio: the file is exactly the voice.
                #expect(try WAVFile.decode(readBytes(dir + "/welcome.wav") ?? []).data == voice.audio(for: "Thank you for calling Acme support."))
            }
        }
    }

    @Test func refusalsAreReportedAndNeverStoredAsAudio() async throws {
        try await withEmulator(voice: voice) { emulator, port in
            try await withTemporaryDirectory { dir in
                // A wrong key: 401 with a JSON detail; not retried.
                let report = try await PromptBuilder(synthesizer: elevenLabs(port: port, apiKey: "wrong"), options: .init(outputDirectory: dir))
                    .build(catalog([("welcome", "Hello.")]))
                guard case .failed(let reason) = report.failures.first?.outcome else {
                    Issue.record("expected a failure")
                    return
                }
                #expect(reason.contains("invalid_api_key"), "\(reason)")
                #expect(speechRequests(emulator).count == 1)
                #expect(readBytes(dir + "/welcome.wav") == nil)
                let cache = try FileManager.default.contentsOfDirectory(atPath: dir + "/.cache")
                #expect(cache.isEmpty)
                #expect(try readManifest(dir).prompts.isEmpty)

                // A format the server refuses (422, detail an array): the reason says which field.
                var wideband = PromptDefinition(id: "wide", text: "Hello.", format: .pcm16WAV16k, synthesisFormat: .pcm(44100))
                wideband.line = 3
                let refused = try await PromptBuilder(synthesizer: elevenLabs(port: port), options: .init(outputDirectory: dir))
                    .build(PromptCatalog(prompts: [wideband]))
                guard case .failed(let why) = refused.failures.first?.outcome else {
                    Issue.record("expected a failure")
                    return
                }
                #expect(why.contains("output_format"), "\(why)")
                #expect(readBytes(dir + "/wide.wav") == nil)
            }
        }
    }

    @Test func aStreamThatBreaksMidwayIsRetriedFromTheStart() async throws {
        // Real-time pacing, and the first connection dropped 50 ms into its audio.
        let faults = ElevenLabsEmulatorConfiguration(chunkMs: 100, faults: .init(speed: 1, disconnectAfterMs: 50))
        try await withEmulator(faults, voice: voice) { emulator, port in
            try await withTemporaryDirectory { dir in
                let text = "Please hold the line."
                let report = try await PromptBuilder(synthesizer: elevenLabs(port: port), options: .init(outputDirectory: dir))
                    .build(catalog([("hold", text)]))
                #expect(report.succeeded, "\(report.summary)")
                #expect(speechRequests(emulator).count == 2)
                #expect(emulator.counters.injectedDisconnects == 1)
                #expect(try WAVFile.decode(readBytes(dir + "/hold.wav") ?? []).data == voice.audio(for: text))
            }
        }
    }

    @Test func dryRunCountsTheCharactersToBillAndRequestsNothing() async throws {
        let catalog = try shippedCatalog()
        try await withEmulator(voice: voice) { emulator, port in
            try await withTemporaryDirectory { dir in
                // Two prompts built, the rest not.
                let built = PromptCatalog(prompts: Array(catalog.prompts.prefix(2)))
                _ = try await PromptBuilder(synthesizer: elevenLabs(port: port), options: .init(outputDirectory: dir)).build(built)
                let before = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()

                let report = try await PromptBuilder(synthesizer: elevenLabs(port: port), options: .init(outputDirectory: dir, dryRun: true)).build(catalog)
                #expect(speechRequests(emulator).count == 2)
                #expect(report.dryRun)
                #expect(report.results.prefix(2).map(\.outcome) == [.wouldUseCache, .wouldUseCache])
                #expect(report.results.dropFirst(2).allSatisfy { $0.outcome == .wouldSynthesize })
                let expected = catalog.prompts.dropFirst(2).reduce(0) { $0 + $1.text.unicodeScalars.count }
                #expect(report.billedCharacters == expected)
                #expect(report.summary.contains("\(expected) characters would be billed"))
                #expect(report.summary.contains("main-menu"))
                #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == before)
            }
        }
        // A dry run into a directory that doesn't exist creates nothing.
        let nowhere = FileManager.default.temporaryDirectory.appendingPathComponent("prompts-dry-\(UUID().uuidString)").path
        let report = try await PromptBuilder(synthesizer: elevenLabs(port: 9), options: .init(outputDirectory: nowhere, dryRun: true)).build(catalog)
        #expect(report.billedCharacters == catalog.prompts.reduce(0) { $0 + $1.text.unicodeScalars.count })
        #expect(!FileManager.default.fileExists(atPath: nowhere))
    }

    @Test(arguments: [1, 2])
    func theConcurrencyLimitIsRespected(limit: Int) async throws {
        // Each request waits 300 ms for its first audio, so requests started together overlap.
        let slow = ElevenLabsEmulatorConfiguration(maxConcurrentRequests: 5, faults: .init(ttfbMs: 300))
        let prompts = catalog((1...6).map { ("p\($0)", "Prompt number \($0).") })
        try await withEmulator(slow, voice: voice) { emulator, port in
            try await withTemporaryDirectory { dir in
                let events = EventLog()
                let report = try await PromptBuilder(synthesizer: elevenLabs(port: port), options: .init(outputDirectory: dir, concurrency: limit))
                    .build(prompts) { events.record($0) }
                #expect(report.succeeded)
                #expect(emulator.counters.peakConcurrentHTTP == limit)
                // The builder's own account agrees: never more than `limit` started and unfinished.
                var running = 0
                var peak = 0
                for event in events.all {
                    if case .started = event { running += 1 }
                    if case .finished = event { running -= 1 }
                    peak = max(peak, running)
                }
                #expect(peak == limit)
            }
        }
    }

    @Test func identicalPromptsAreSynthesizedOnce() async throws {
        try await withEmulator(voice: voice) { emulator, port in
            try await withTemporaryDirectory { dir in
                let report = try await PromptBuilder(synthesizer: elevenLabs(port: port), options: .init(outputDirectory: dir))
                    .build(catalog([("a", "Same words."), ("b", "Same words.")]))
                #expect(report.succeeded)
                #expect(speechRequests(emulator).count == 1)
                #expect(readBytes(dir + "/a.wav") == readBytes(dir + "/b.wav"))
            }
        }
    }

    @Test func everyFormatFromTheEmulator() async throws {
        let text = "Format check."
        try await withEmulator(voice: voice) { emulator, port in
            try await withTemporaryDirectory { dir in
                for format in PromptFormat.allCases {
                    let out = dir + "/\(format.rawValue)"
                    let report = try await PromptBuilder(synthesizer: elevenLabs(port: port), options: .init(outputDirectory: out, format: format))
                        .build(catalog([("check", text)]))
                    #expect(report.succeeded, "\(format): \(report.summary)")
                    let bytes = try #require(readBytes(out + "/check.\(format.fileExtension)"))
                    #expect(try PromptAudio.durationMs(ofFile: bytes, format: format) == 60 * text.count, "\(format)")
                    if format.isWAV {
                        let wav = try WAVFile.decode(bytes)
                        #expect(wav.sampleRate == format.sampleRate)
                        #expect(wav.encoding == format.encoding)
                        #expect(wav.channels == 1)
                    }
                }
                // 16 kHz files ask for 16 kHz PCM; 8 kHz ones for μ-law (each directory has its own cache).
                let formats = speechRequests(emulator).compactMap { $0.query["output_format"] }.sorted()
                #expect(formats == ["pcm_16000", "pcm_16000", "ulaw_8000", "ulaw_8000", "ulaw_8000", "ulaw_8000"])
            }
        }
    }

    @Test func switchingBetween8kFormatsCostsNoRequest() async throws {
        let prompts = catalog([("welcome", "Thank you for calling Acme support.")])
        try await withEmulator(voice: voice) { emulator, port in
            try await withTemporaryDirectory { dir in
                _ = try await PromptBuilder(synthesizer: elevenLabs(port: port), options: .init(outputDirectory: dir)).build(prompts)
                let alaw = try await PromptBuilder(synthesizer: elevenLabs(port: port), options: .init(outputDirectory: dir, format: .alawWAV)).build(prompts)
                #expect(alaw.results.map(\.outcome) == [.cached])
                #expect(try WAVFile.decode(readBytes(dir + "/welcome.wav") ?? []).encoding == .alaw)
                let raw = try await PromptBuilder(synthesizer: elevenLabs(port: port), options: .init(outputDirectory: dir, format: .ulaw)).build(prompts)
                #expect(raw.results.map(\.outcome) == [.cached])
                #expect(readBytes(dir + "/welcome.ulaw") == voice.audio(for: "Thank you for calling Acme support."))
                #expect(readBytes(dir + "/welcome.wav") == nil)  // the previous format's file is gone
                #expect(speechRequests(emulator).count == 1)
            }
        }
    }

    @Test func removedPromptsLoseTheirFiles() async throws {
        try await withEmulator(voice: voice) { _, port in
            try await withTemporaryDirectory { dir in
                let builder = PromptBuilder(synthesizer: elevenLabs(port: port), options: .init(outputDirectory: dir))
                _ = try await builder.build(catalog([("keep", "Kept."), ("drop", "Dropped.")]))
                #expect(readBytes(dir + "/drop.wav") != nil)
                _ = try await builder.build(catalog([("keep", "Kept.")]))
                #expect(readBytes(dir + "/drop.wav") == nil)
                #expect(readBytes(dir + "/keep.wav") != nil)
                #expect(try readManifest(dir).prompts.keys.sorted() == ["keep"])
            }
        }
    }

    @Test func theOfflineVoiceBuildsWithoutAKeyAndNeverSharesTheCache() async throws {
        let prompts = catalog([("welcome", "Thank you for calling Acme support.")])
        try await withTemporaryDirectory { dir in
            let offline = try await PromptBuilder(synthesizer: OfflinePromptSynthesizer(), options: .init(outputDirectory: dir)).build(prompts)
            #expect(offline.succeeded, "\(offline.summary)")
            #expect(offline.source == "offline")
            #expect(offline.billedCharacters == 0)
            let entry = try #require(try readManifest(dir).prompts["welcome"])
            #expect(entry.source == "offline")
            #expect(entry.voice == "en-us")
            let wav = try WAVFile.decode(readBytes(dir + "/welcome.wav") ?? [])
            #expect(wav.sampleRate == 8000)
            #expect(wav.encoding == .ulaw)
            #expect((1000...5000).contains(Int(wav.durationMs)), "\(wav.durationMs) ms")

            // With a key, the same prompt is ElevenLabs' audio, not the offline entry.
            try await withEmulator(voice: voice) { emulator, port in
                let report = try await PromptBuilder(synthesizer: elevenLabs(port: port), options: .init(outputDirectory: dir)).build(prompts)
                #expect(report.results.map(\.outcome) == [.synthesized])
                #expect(speechRequests(emulator).count == 1)
                #expect(try readManifest(dir).prompts["welcome"]?.source == "elevenlabs")
            }
            // And back offline: its cache entry is still there, so no synthesis.
            let again = try await PromptBuilder(synthesizer: OfflinePromptSynthesizer(), options: .init(outputDirectory: dir)).build(prompts)
            #expect(again.results.map(\.outcome) == [.cached])
        }
    }
}
