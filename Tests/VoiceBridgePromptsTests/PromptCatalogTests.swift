import Testing
import VoiceBridgePrompts
import VoiceBridgeSpeech

@Suite struct PromptCatalogTests {
    @Test func theShippedCatalogueHasTheSupportLinePrompts() throws {
        let catalog = try shippedCatalog()
        #expect(catalog.ids == [
            "welcome", "main-menu", "no-input", "no-match", "account-entry", "account-invalid",
            "billing-transfer", "tech-transfer", "hours", "goodbye",
        ])
        #expect(catalog["welcome"]?.text == "Thank you for calling Acme support.")
        #expect(catalog["no-input"]?.text == "Sorry, I didn't hear a selection.")
        #expect(catalog["main-menu"]?.text == "For billing, say billing or press 1. For technical support, say technical support or press 2. For our opening hours, say opening hours or press 3. To hear these options again, press star. To end this call, press 9.")
        #expect(catalog["hours"]?.text == "Our support line is open Monday to Friday, from eight in the morning until six in the evening.")
        for prompt in catalog.prompts {
            #expect(prompt.voice == "JBFqnCBsd6RMkjVDRZzb")
            #expect(prompt.model == "eleven_flash_v2_5")
            #expect(prompt.format == .ulawWAV)
            #expect(prompt.resolvedSynthesisFormat == .ulaw8000)
            #expect(prompt.settings == ElevenLabsVoiceSettings(stability: 0.5, similarityBoost: 0.75))
        }
    }

    @Test func promptsOverrideDefaultsAndSettingsMergeFieldByField() throws {
        let catalog = try PromptCatalog.parse("""
            version: 1
            defaults:
              voice: default-voice
              format: alaw_wav
              settings: { stability: 0.4, similarity_boost: 0.8 }
            prompts:
              - id: plain
                text: "  Hello.  "
              - id: special
                text: Wideband.
                voice: other-voice
                model: eleven_turbo_v2_5
                format: sln16
                settings: { stability: 0.9, speed: 1.1, use_speaker_boost: false }
                offline_voice: en-gb
              - id: pcm
                text: Resampled.
                synthesis_format: pcm_24000
            """)
        let plain = try #require(catalog["plain"])
        #expect(plain.text == "Hello.")
        #expect(plain.voice == "default-voice")
        #expect(plain.model == ElevenLabsSpeechRequest.defaultModelID)
        #expect(plain.format == .alawWAV)
        #expect(plain.resolvedSynthesisFormat == .ulaw8000)
        #expect(plain.line == 7)
        let special = try #require(catalog["special"])
        #expect(special.voice == "other-voice")
        #expect(special.model == "eleven_turbo_v2_5")
        #expect(special.format == .sln16)
        #expect(special.fileName == "special.sln16")
        #expect(special.resolvedSynthesisFormat == .pcm(16000))
        #expect(special.settings == ElevenLabsVoiceSettings(stability: 0.9, similarityBoost: 0.8, useSpeakerBoost: false, speed: 1.1))
        #expect(special.offlineVoice == "en-gb")
        #expect(catalog["pcm"]?.resolvedSynthesisFormat == .pcm(24000))
    }

    /// Each broken catalogue names the line at fault and what is wrong.
    @Test(arguments: [
        ("version: 1\nprompts:\n  - id: a\n    text: Hi\n    vioce: x\n", 5, "unknown key 'vioce'"),
        ("version: 1\nprompts:\n  - id: a\n    text: Hi\n  - id: a\n    text: Again\n", 5, "duplicate prompt id 'a' (first defined on line 3)"),
        ("version: 1\nprompts:\n  - id: a\n    text: Hi\n    format: mp3\n", 5, "unknown format 'mp3'"),
        ("version: 1\nprompts:\n  - id: a\n    text: Hi\n    synthesis_format: mp3_44100_128\n", 5, "unknown synthesis_format 'mp3_44100_128'"),
        ("version: 1\nprompts:\n  - id: a\n  - id: b\n    text: Hi\n", 3, "prompt 'a' has no `text`"),
        ("version: 1\nprompts:\n  - id: a\n    text: \"  \"\n", 4, "prompt 'a' has an empty text"),
        ("version: 1\nprompts:\n  - id: ../etc/passwd\n    text: Hi\n", 3, "can't be a file name"),
        ("version: 1\ndefaults:\n  settings: { stability: 3 }\nprompts: []\n", 3, "stability 3.0 is out of range 0.0...1.0"),
        ("version: 1\ndefaults:\n  settings:\n    use_speaker_boost: maybe\nprompts: []\n", 4, "use_speaker_boost must be true or false"),
        ("version: 2\nprompts: []\n", 1, "unsupported version 2"),
        // Base 60 would have reached Yams' trapping integer reader.
        ("version: 99999999999999999:00\nprompts: []\n", 1, "unsupported version 99999999999999999:00"),
        ("version: 1\nprompts:\n  - id: a\n    text: [unclosed\n", 5, "not valid YAML"),
        ("version: 1\nprompts:\n  id: a\n", 3, "`prompts` must be a list"),
    ])
    func errorsNameTheLine(yaml: String, line: Int, message: String) {
        do {
            _ = try PromptCatalog.parse(yaml, file: "config/prompts.yaml")
            Issue.record("parsed a broken catalogue")
        } catch {
            #expect(error.line == line, "\(error)")
            #expect(error.message.contains(message), "\(error)")
            #expect(error.description.hasPrefix("config/prompts.yaml:\(line): "))
        }
    }

    @Test func aMissingFileIsAClearError() {
        #expect(throws: PromptCatalogError.self) { try PromptCatalog.load(path: "/nonexistent/prompts.yaml") }
        do {
            _ = try PromptCatalog.load(path: "/nonexistent/prompts.yaml")
        } catch {
            #expect(error.description.hasPrefix("/nonexistent/prompts.yaml: can't read the catalogue"))
        }
    }

    @Test func theCacheKeyChangesWithEachPartAndOnlyThen() {
        let base = PromptCacheKey(source: "elevenlabs", text: "Hi.", voice: "v", model: "m", settings: ElevenLabsVoiceSettings(stability: 0.5), synthesisFormat: .ulaw8000)
        #expect(base.hash == base.hash)
        #expect(base.hash.count == 64)
        var variants: [PromptCacheKey] = []
        var changed = base
        changed.source = "offline"; variants.append(changed)
        changed = base; changed.text = "Hi!"; variants.append(changed)
        changed = base; changed.voice = "w"; variants.append(changed)
        changed = base; changed.model = "n"; variants.append(changed)
        changed = base; changed.settings.stability = 0.6; variants.append(changed)
        changed = base; changed.synthesisFormat = "pcm_16000"; variants.append(changed)
        let hashes = Set(variants.map(\.hash) + [base.hash])
        #expect(hashes.count == variants.count + 1)
    }
}
