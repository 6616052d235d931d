import Foundation
import Testing
import VoiceBridgeCalls
@testable import VoiceBridgeFlows

@Suite struct FlowParserTests {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let examplePrompts: Set<String> = [
        "welcome", "main-menu", "no-input", "no-match", "account-entry", "account-invalid", "billing-transfer", "tech-transfer", "hours", "goodbye",
    ]

    func diagnostics(_ yaml: String, prompts: Set<String>? = nil) -> [FlowDiagnostic] {
        var parser = FlowParser(file: "f.yaml")
        let definition = parser.parseDocument(yaml)
        return parser.diagnostics + (definition.map { FlowChecker(knownPrompts: prompts).check([$0]) } ?? [])
    }

    /// Fuzz-found: a webhook reply of 5,000 `[` overflowed the stack inside Yams. Now it is a
    /// diagnostic, for a reply and for a flow file alike.
    @Test func aReplyOrFlowNestedThousandsDeepIsADiagnosticNotACrash() {
        var parser = FlowParser(file: "reply")
        #expect(parser.parseSteps(String(repeating: "[", count: 5000)).isEmpty)
        #expect(parser.parseReplyVariables("{variables: " + String(repeating: "{a: ", count: 5000)).isEmpty)
        #expect(parser.diagnostics.map(\.message).contains { $0.contains("5000 levels deep") || $0.contains("levels deep") })
        #expect(diagnostics(String(repeating: "- ", count: 5000) + "x").contains { $0.message.contains("levels deep") })
    }

    /// Fuzz-found: Yams reads base-60 integers (`1:30`) with trapping arithmetic, so a `retries`
    /// of `99999999999999999:00` (or a dozen `:0` parts) stopped the process, from a flow file or
    /// a webhook reply alike. Counts are decimal; anything else is a diagnostic.
    @Test func anOutOfRangeBaseSixtyCountIsADiagnosticNotACrash() {
        for retries in ["99999999999999999:00", "1:0:0:0:0:0:0:0:0:0:0:0", "99999999999999999999", "1:30"] {
            let d = diagnostics("blocks:\n  main:\n    - menu: { choices: { \"1\": main }, retries: \(retries) }\n")
            #expect(d.contains { $0.message.contains("retries` must be a whole number from 0 to 100") }, "\(retries): \(d)")
            var parser = FlowParser(file: "reply")
            #expect(parser.parseSteps("- menu: { choices: { \"1\": hangup }, retries: \(retries) }").isEmpty || !parser.diagnostics.isEmpty)
            #expect(parser.diagnostics.contains { $0.message.contains("retries") }, "\(retries): \(parser.diagnostics)")
        }
        #expect(diagnostics("blocks:\n  main:\n    - menu: { choices: { \"1\": main }, retries: +2 }\n").isEmpty)
    }

    /// Tones are rendered whole before they play, so their length is bounded (a webhook reply
    /// asking for a day of beep would have held over a GB).
    @Test func aToneLongerThanAMinuteIsADiagnostic() {
        #expect(diagnostics("blocks:\n  main:\n    - tone: { sound: beep, duration: 1440m }\n").contains { $0.message.contains("at most 60s") })
        #expect(diagnostics("blocks:\n  main:\n    - tone: { dtmf: \"1\", duration: 5s }\n").contains { $0.message.contains("per digit: at most 2s") })
        #expect(diagnostics("blocks:\n  main:\n    - tone: { dtmf: \"\(String(repeating: "1", count: 65))\" }\n").contains { $0.message.contains("at most 64") })
        #expect(diagnostics("blocks:\n  main:\n    - tone: { sound: ringback, duration: 60s }\n    - tone: { dtmf: \"12#\", duration: 2s }\n").isEmpty)
    }

    @Test func theExampleSupportLineLoadsCleanly() throws {
        let library = try FlowLibrary.load(directory: Self.repoRoot + "/config/flows", knownPrompts: Self.examplePrompts)
        let flow = try #require(library.flow(forCalledNumber: "+1 (555) 123-0000"))
        #expect(flow.definition.name == "support-line")
        #expect(flow.definition.start == "welcome")
        #expect(library.warnings.isEmpty)
        // Any other number falls back to the default flow.
        #expect(library.flow(forCalledNumber: "+15559999999")?.definition.name == "support-line")
    }

    @Test func everyStepTypeParses() throws {
        let yaml = """
        blocks:
          main:
            - say: "Hello {{From}}"
            - say: { text: Hi, voice: v1, interruptible: dtmf }
            - play: welcome
            - play: { file: beep.wav, interruptible: false }
            - tone: beep
            - tone: { dtmf: "12w3", duration: 80ms }
            - pause: 1.5s
            - set: { a: "1", b: two }
            - gather: { into: pin, max: 4, timeout: 3s, speech: true }
            - menu: { choices: { "1": other }, noinput: { say: nothing }, exhausted: hangup }
            - webhook: { url: "http://localhost/x", timeout: 2s, on_error: [ { say: oops } ] }
            - relay: { url: "ws://localhost:9000/app", welcomeGreeting: Hi, events: [speaker-events, tokens-played] }
            - goto: other
          other:
            - redirect: { dial: "+15550001" }
        """
        var parser = FlowParser(file: "f.yaml")
        let parsed = parser.parseDocument(yaml)
        let flow = try #require(parsed)
        #expect(parser.diagnostics.isEmpty, "\(parser.diagnostics)")
        let names = flow.blocks[0].steps.map(\.name)
        #expect(names == ["say", "say", "play", "play", "tone", "tone", "pause", "set", "gather", "menu", "webhook", "relay", "goto"])
        #expect(flow.blocks[0].steps[6].kind == .pause(ms: 1500))
        guard case let .relay(relay) = flow.blocks[0].steps[11].kind else { Issue.record("not a relay"); return }
        #expect(relay.options["events"] == "speaker-events,tokens-played")
        guard case let .play(play) = flow.blocks[0].steps[3].kind else { return }
        #expect(play.source == .wav("beep.wav"))
        #expect(play.interruptible == .none)
    }

    @Test func anUnknownStepIsReportedWithItsLine() {
        let d = diagnostics("""
        blocks:
          main:
            - say: hi
            - dance: now
        """)
        #expect(d.map(\.description) == ["f.yaml:4: error: unknown step `dance` (steps: say, play, tone, pause, gather, menu, set, goto, webhook, redirect, relay, hangup)"])
    }

    @Test func badReferencesAreReportedWithTheirLines() {
        let d = diagnostics("""
        blocks:
          main:
            - menu:
                choices:
                  "1": nowhere
                  "2": other
            - goto: missing
          other:
            - play: no-such-prompt
        """, prompts: ["welcome"])
        let text = d.map(\.description)
        #expect(text.contains { $0.hasPrefix("f.yaml:5: error: no block named `nowhere`") })
        #expect(text.contains { $0.hasPrefix("f.yaml:7: error: no block named `missing`") })
        #expect(text.contains("f.yaml:9: error: unknown prompt `no-such-prompt`: not in the prompt catalogue"))
    }

    @Test func unreachableBlocksAndStepsAreReported() {
        let d = diagnostics("""
        start: main
        blocks:
          main:
            - say: hi
            - hangup
            - say: never
          orphan:
            - say: lonely
        """)
        let text = d.map(\.description)
        #expect(text.contains("f.yaml:6: error: this `say` never runs: the `hangup` before it leaves this list of steps"))
        #expect(text.contains { $0.hasPrefix("f.yaml:7: error: the block `orphan` is unreachable") })
    }

    @Test func badValuesAreReported() {
        let d = diagnostics("""
        start: nope
        blocks:
          main:
            - pause: soon
            - menu:
                choices: { "12": main }
            - gather: { min: 5, max: 2 }
            - say: { text: hi, volume: 11 }
            - tone: siren
        """)
        let text = d.map(\.description)
        #expect(text.contains { $0.hasPrefix("f.yaml:4: error: `pause`: `soon` is not a duration") })
        #expect(text.contains { $0.hasPrefix("f.yaml:6: error: a menu choice is one key") })
        #expect(text.contains { $0.hasPrefix("f.yaml:7: error: `min` (5) is more than `max` (2)") })
        #expect(text.contains { $0.hasPrefix("f.yaml:8: error: unknown option `volume` for `say`") })
        #expect(text.contains { $0.hasPrefix("f.yaml:9: error: unknown tone `siren`") })
        #expect(text.contains { $0.hasPrefix("f.yaml:1: error: `start` names the block `nope`") })
    }

    @Test func invalidYAMLNamesTheLine() {
        let d = diagnostics("blocks:\n  main:\n    - say: [unclosed\n")
        #expect(d.count == 1)
        #expect(d.first?.description.hasPrefix("f.yaml:") == true)
        #expect(d.first?.message.hasPrefix("not valid YAML") == true)
    }

    @Test func flowsAreSelectedByTheCalledNumber() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flows-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "name: sales\nnumbers: [\"+1 555 000 0001\"]\nblocks:\n  a:\n    - say: sales\n".write(toFile: dir + "/sales.yaml", atomically: true, encoding: .utf8)
        try "name: fallback\ndefault: true\nblocks:\n  a:\n    - say: hi\n".write(toFile: dir + "/other.yaml", atomically: true, encoding: .utf8)
        let library = try FlowLibrary.load(directory: dir)
        #expect(library.flow(forCalledNumber: "+15550000001")?.definition.name == "sales")
        #expect(library.flow(forCalledNumber: "+15550000002")?.definition.name == "fallback")
        #expect(library.flow(forCalledNumber: nil)?.definition.name == "fallback")
        #expect(library.flow(named: "sales") != nil)
    }

    @Test func twoDefaultsOrOneNumberTwiceAreErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flows-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "name: a\ndefault: true\nnumbers: [\"+1555\"]\nblocks:\n  x:\n    - hangup\n".write(toFile: dir + "/a.yaml", atomically: true, encoding: .utf8)
        try "name: b\ndefault: true\nnumbers: [\"+1555\"]\nblocks:\n  x:\n    - hangup\n".write(toFile: dir + "/b.yaml", atomically: true, encoding: .utf8)
        let (library, diagnostics) = FlowLibrary.inspect(directory: dir)
        #expect(library == nil)
        #expect(diagnostics.contains { $0.message.contains("more than one flow is `default: true`") })
        #expect(diagnostics.contains { $0.message.contains("the number +1555 is also claimed") })
    }

    @Test func templatesFillVariablesAndSpellDigits() {
        #expect(FlowTemplate.render("Hi {{name}}, account {{acct|digits}}.{{missing}}", ["name": "Ann", "acct": "1234"]) == "Hi Ann, account 1 2 3 4.")
        #expect(FlowTemplate.render("no {{close", [:]) == "no {{close")
        #expect(FlowTemplate.references(in: "{{a}} and {{ b | digits }}") == ["a", "b"])
    }
}
