import Testing
import VoiceBridgePrompts

@Suite struct PromptBuildProgressTests {
    let events: [PromptBuildEvent] = [
        .planned(total: 2, toSynthesize: 2),
        .started(id: "welcome"),
        .started(id: "hours"),
        .finished(id: "welcome", .synthesized),
        .finished(id: "hours", .failed("ElevenLabs server error (500)")),
    ]

    @Test func plainLinesWhenNotATerminal() {
        let out = MutexBox<[String]>([])
        let progress = PromptBuildProgress(isTerminal: false) { text in out.mutate { $0.append(text) } }
        events.forEach(progress.handle)
        #expect(out.value == ["[1/2] welcome: synthesized\n", "[2/2] hours: FAILED: ElevenLabs server error (500)\n"])
    }

    @Test func aRedrawnBarOnATerminalWithFailuresKept() {
        let out = MutexBox<[String]>([])
        let progress = PromptBuildProgress(isTerminal: true, width: 10) { text in out.mutate { $0.append(text) } }
        events.forEach(progress.handle)
        let text = out.value.joined()
        #expect(text.contains("\r\u{1B}[K[----------] 0/2  welcome, hours"))
        #expect(text.contains("[#####-----] 1/2  hours"))
        #expect(text.contains("\r\u{1B}[K[2/2] hours: FAILED: ElevenLabs server error (500)\n"))
        #expect(text.hasSuffix("[##########] 2/2\n"))
        #expect(!text.contains("welcome: synthesized"))
    }
}
