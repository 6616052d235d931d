import Foundation
import Testing
import VoiceBridgeCalls
import VoiceBridgeCallTesting
import VoiceBridgeSpeech
@testable import VoiceBridgeFlows

/// "Say or press": menus whose choices accept phrases and gathers that keep what was said, with
/// speech-to-text as a test double on virtual time.
@Suite struct SpokenInputTests {
    static let menu = """
    start: menu
    blocks:
      menu:
        - menu:
            prompt: { say: "Say billing or press 1. Say support or press 2." }
            choices:
              "1": { goto: billing, say: ["billing", "pay my bill"] }
              "2": { goto: support, say: "tech support" }
              "3": hours
            timeout: 4s
            retries: 1
            nomatch: { say: "Sorry, I did not get that." }
      billing:
        - say: "Billing."
        - hangup
      support:
        - say: "Support."
        - hangup
      hours:
        - say: "Hours."
        - hangup
    """

    /// The caller talks, then falls silent: the call commits; the service answers with `words`.
    func answer(_ h: FlowHarness, _ stt: FakeTranscription, _ words: String) throws {
        h.talk(ms: 600)
        h.wait(ms: 800)
        let t = try #require(stt.current)
        #expect(!t.commits.isEmpty)
        t.emit(.committed(ScribeCommit(text: words)))
        h.wait(ms: 100)
    }

    @Test func aSpokenPhrasePicksItsChoiceAndTheMenuListensForItsPhrases() throws {
        let stt = FakeTranscription()
        let h = try FlowHarness(yaml: Self.menu, transcription: stt)
        h.start()
        let t = try #require(stt.current)
        #expect(t.request.keyterms == ["billing", "pay my bill", "tech support"])
        h.wait(ms: 3_000)
        try answer(h, stt, "I'd like to Pay my bill, please.")
        #expect(h.spoken.last == "Billing.")
        #expect(h.flow.variables["choice"] == "1" && h.flow.variables["speech"] == "I'd like to Pay my bill, please.")
        #expect(t.stopped, "nothing listens once the menu is answered")
    }

    /// The shipped support line (config/flows/main.yaml): "billing" spoken does what key 1 does.
    @Test func theSupportLineTakesBillingSpokenAsWellAsKeyOne() throws {
        let yaml = try String(contentsOfFile: FlowParserTests.repoRoot + "/config/flows/main.yaml", encoding: .utf8)
        let prompts = Array(FlowParserTests.examplePrompts)
        let stt = FakeTranscription()
        let spoken = try FlowHarness(yaml: yaml, prompts: prompts, transcription: stt)
        spoken.start()
        spoken.wait(ms: 2_000)
        #expect(spoken.spoken.last == "[main-menu]")
        try answer(spoken, stt, "Billing.")
        #expect(spoken.spoken.last == "[account-entry]")

        let keyed = try FlowHarness(yaml: yaml, prompts: prompts, transcription: FakeTranscription())
        keyed.start()
        keyed.wait(ms: 2_000)
        keyed.press("1")
        keyed.wait(ms: 100)
        #expect(keyed.spoken.last == "[account-entry]")
    }

    @Test func keysStillWorkAndTheKeySpokenPicksItToo() throws {
        let stt = FakeTranscription()
        let h = try FlowHarness(yaml: Self.menu, transcription: stt)
        h.start()
        h.press("2")
        #expect(h.spoken.last == "Support.")

        let stt2 = FakeTranscription()
        let g = try FlowHarness(yaml: Self.menu, transcription: stt2)
        g.start()
        g.wait(ms: 3_000)
        try answer(g, stt2, "Option three.")
        #expect(g.spoken.last == "Hours.")
    }

    @Test func wordsThatMatchNothingAreANoMatchAndTheMenuRetriesStillListening() throws {
        let stt = FakeTranscription()
        let h = try FlowHarness(yaml: Self.menu, transcription: stt)
        h.start()
        h.wait(ms: 3_000)
        try answer(h, stt, "What's the weather like?")
        #expect(h.spoken.contains("Sorry, I did not get that."))
        #expect(stt.made.count == 1 && !stt.made[0].stopped)
        h.wait(ms: 3_000)
        try answer(h, stt, "tech support please")
        #expect(h.spoken.last == "Support.")
    }

    @Test func anAnswerWhoseTranscriptNeverComesCountsAsNoInput() throws {
        let stt = FakeTranscription()
        let h = try FlowHarness(yaml: Self.menu, transcription: stt)
        h.start()
        h.wait(ms: 3_000)
        h.talk(ms: 600)
        h.wait(ms: 3_600)
        // The menu's retry: the prompt again (no noinput handler), not a choice.
        #expect(h.spoken.filter { $0.hasPrefix("Say billing") }.count == 2)
        #expect(h.flow.variables["choice"] == nil)
    }

    static let gather = """
    blocks:
      main:
        - gather:
            prompt: { say: "What is your account name?" }
            into: account
            max: 8
            finishOnKey: "#"
            timeout: 4s
            speech: true
            hints: ["Acme", "Globex"]
        - say: "Thanks, {{account}}."
        - hangup
    """

    @Test func aSpokenGatherKeepsTheWords() throws {
        let stt = FakeTranscription()
        let h = try FlowHarness(yaml: Self.gather, transcription: stt)
        h.start()
        let t = try #require(stt.current)
        #expect(t.request.keyterms == ["Acme", "Globex"])
        h.wait(ms: 2_000)
        h.talk(ms: 600)
        t.emit(.committed(ScribeCommit(text: "Acme")))  // a segment committed mid-answer
        h.wait(ms: 800)
        t.emit(.committed(ScribeCommit(text: "Corporation.")))
        h.wait(ms: 100)
        #expect(h.flow.variables["account"] == "Acme Corporation", "the final stop is dropped")
        #expect(h.spoken.last == "Thanks, Acme Corporation.")
        #expect(t.stopped)
    }

    @Test func withoutSpeechToTextAGatherStillTakesSpeechAsSpeech() throws {
        let h = try FlowHarness(yaml: Self.gather)
        h.start()
        h.wait(ms: 2_000)
        h.talk(ms: 600)
        h.wait(ms: 100)
        #expect(h.flow.variables["account"] == "speech")
    }

    @Test func matchingIgnoresCaseAndPunctuationAndPrefersTheLongestPhrase() {
        let phrases: [Character: [String]] = ["1": ["billing"], "2": ["billing address"], "3": ["one-time code"]]
        let keys: [Character] = ["1", "2", "3", "4"]
        #expect(MenuSpeechMatcher.choice(for: "BILLING!", keys: keys, phrases: phrases) == "1")
        #expect(MenuSpeechMatcher.choice(for: "change my billing address", keys: keys, phrases: phrases) == "2")
        #expect(MenuSpeechMatcher.choice(for: "I need a one time code", keys: keys, phrases: phrases) == "3")
        #expect(MenuSpeechMatcher.choice(for: "press four", keys: keys, phrases: phrases) == "4")
        #expect(MenuSpeechMatcher.choice(for: "4", keys: keys, phrases: phrases) == "4")
        #expect(MenuSpeechMatcher.choice(for: "I have four questions", keys: keys, phrases: phrases) == nil)
        #expect(MenuSpeechMatcher.choice(for: "bill", keys: keys, phrases: phrases) == nil)
        #expect(MenuSpeechMatcher.choice(for: "", keys: keys, phrases: phrases) == nil)
        #expect(MenuSpeechMatcher.normalized("I'd like Option  ONE.") == "id like option 1")
    }

    @Test func flowsCheckValidatesTheSpokenForms() {
        var parser = FlowParser(file: "f.yaml")
        _ = parser.parseDocument("""
        blocks:
          main:
            - menu:
                prompt: { say: "Hi" }
                choices:
                  "1": { goto: a, say: ["Billing"] }
                  "2": { goto: a, say: ["billing."] }
                  "3": { goto: a, say: ["!!"] }
            - gather: { into: x, max: 2, speech: true, hints: { a: b } }
          a:
            - hangup
        """)
        let messages = parser.diagnostics.map(\.message)
        #expect(messages.contains { $0.contains("the phrase \"billing.\" already chooses 1") })
        #expect(messages.contains { $0.contains("each phrase needs words") })
        #expect(messages.contains { $0.contains("`gather.hints` is a phrase or a list of phrases") })
    }
}
