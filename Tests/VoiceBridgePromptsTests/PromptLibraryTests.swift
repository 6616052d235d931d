import Foundation
import Testing
import VoiceBridgeAudio
import VoiceBridgeEmulators
import VoiceBridgePrompts

@Suite struct PromptLibraryTests {
    let voice = KnownVoice()

    @Test func loadsWhatTheBuildWroteAsTelephonyULaw() async throws {
        let catalog = try shippedCatalog()
        try await withEmulator(voice: voice) { _, port in
            try await withTemporaryDirectory { dir in
                _ = try await PromptBuilder(synthesizer: elevenLabs(port: port), options: .init(outputDirectory: dir)).build(catalog)
                let library = try PromptLibrary(directory: dir, catalog: catalog)
                #expect(library.ids == catalog.ids.sorted())
                #expect(library.builtIDs == catalog.ids.sorted())
                #expect(library.missingFiles.isEmpty)
                for prompt in catalog.prompts {
                    #expect(library.audio(for: prompt.id) == voice.audio(for: prompt.text))
                    #expect(library.text(for: prompt.id) == prompt.text)
                }
                #expect(library.audio(for: "nope") == nil)
                #expect(library.text(for: "nope") == nil)

                // Without the catalogue, the manifest's texts serve the fallback.
                let alone = try PromptLibrary(directory: dir)
                #expect(alone.text(for: "goodbye") == "Thank you for calling Acme. Goodbye.")
            }
        }
    }

    @Test(arguments: PromptFormat.allCases)
    func everyStoredFormatPlaysAsULaw8k(format: PromptFormat) async throws {
        let text = "Library check."
        try await withEmulator(voice: voice) { _, port in
            try await withTemporaryDirectory { dir in
                _ = try await PromptBuilder(synthesizer: elevenLabs(port: port), options: .init(outputDirectory: dir, format: format))
                    .build(catalog([("check", text)]))
                let audio = try #require(try PromptLibrary(directory: dir).audio(for: "check"))
                #expect(audio.count == 8 * 60 * text.count)
                if format.encoding == .ulaw { #expect(audio == voice.audio(for: text)) }
            }
        }
    }

    @Test func aMissingDirectoryIsAnEmptyLibrary() throws {
        let library = try PromptLibrary(directory: "/nonexistent/prompts")
        #expect(library.ids.isEmpty)
        // With a catalogue, every prompt is there as text for live speech.
        let withTexts = try PromptLibrary(directory: "/nonexistent/prompts", catalog: shippedCatalog())
        #expect(withTexts.ids.count == 10)
        #expect(withTexts.builtIDs.isEmpty)
        #expect(withTexts.audio(for: "welcome") == nil)
        #expect(withTexts.text(for: "welcome") == "Thank you for calling Acme support.")
    }

    @Test func aMissingFileFallsBackToText() async throws {
        try await withEmulator(voice: voice) { _, port in
            try await withTemporaryDirectory { dir in
                _ = try await PromptBuilder(synthesizer: elevenLabs(port: port), options: .init(outputDirectory: dir))
                    .build(catalog([("a", "First."), ("b", "Second.")]))
                try FileManager.default.removeItem(atPath: dir + "/b.wav")
                let library = try PromptLibrary(directory: dir)
                #expect(library.audio(for: "a") != nil)
                #expect(library.audio(for: "b") == nil)
                #expect(library.text(for: "b") == "Second.")
                #expect(library.missingFiles == ["b"])
            }
        }
    }

    @Test func aCorruptManifestOrAChangedFileIsAClearError() async throws {
        try await withTemporaryDirectory { dir in
            try Data("{\"version\": 1, \"prompts\": {\"a\": {\"file\": 3}}}".utf8).write(to: URL(fileURLWithPath: dir + "/manifest.json"))
            #expect(throws: PromptLibraryError.self) { try PromptLibrary(directory: dir) }
            do {
                _ = try PromptLibrary(directory: dir)
            } catch {
                #expect("\(error)".contains("corrupt prompt manifest"))
            }
            try Data("not json".utf8).write(to: URL(fileURLWithPath: dir + "/manifest.json"))
            #expect(throws: PromptLibraryError.self) { try PromptLibrary(directory: dir) }
        }
        try await withEmulator(voice: voice) { _, port in
            try await withTemporaryDirectory { dir in
                _ = try await PromptBuilder(synthesizer: elevenLabs(port: port), options: .init(outputDirectory: dir))
                    .build(catalog([("a", "First.")]))
                try Data("{\"detail\":{\"status\":\"oops\"}}".utf8).write(to: URL(fileURLWithPath: dir + "/a.wav"))
                #expect(throws: PromptLibraryError.fileChanged(path: dir + "/a.wav", id: "a")) { try PromptLibrary(directory: dir) }
            }
        }
    }
}
