import Foundation
import Testing
import VoiceBridgeCalls
import VoiceBridgeRecording

@Suite struct HandWrittenReplayTests {
    @Test func aFileWithoutExpectationsDoesNotPass() throws {
        let result = try TestFlows.engine.replay(try RecordedCall(text: HandWritten.menu))
        #expect(!result.hasExpectations)
        #expect(!result.passed)
        #expect(result.report.contains("--update"))
        // The call itself ran: greeting, the answer to 1, the menu, the goodbye and the hang-up.
        #expect(result.actual.contains { $0.kind == .clear })
        #expect(result.actual.last?.kind == .end("hangUp"))
    }

    @Test func updateFillsInExpectationsThatLaterRunsHold() throws {
        let updated = try HandWritten.updated(HandWritten.menu)
        #expect(updated.hasExpectations)
        #expect(updated.checksMedia)
        let again = try TestFlows.engine.replay(updated)
        #expect(again.passed, "\(again.report)")
        // The inputs survive the rewrite unchanged.
        #expect(updated.inputs.map(\.input) == (try RecordedCall(text: HandWritten.menu)).inputs.map(\.input))
    }

    @Test func theGoodbyeWaitsForItsMarkBeforeTheHangUp() throws {
        let result = try TestFlows.engine.replay(try HandWritten.updated(HandWritten.menu))
        let events = result.actual
        guard let end = events.lastIndex(where: { $0.kind == .end("hangUp") }),
            let lastMark = events.lastIndex(where: { if case .mark = $0.kind { true } else { false } })
        else { Issue.record("no hang-up or no mark"); return }
        #expect(lastMark < end)
        // The carrier echoes the goodbye's mark once its audio has played: the hang-up comes
        // then, well after the last frame went out.
        let lastFrame = events.lastIndex(where: \.isMedia)!
        #expect(events[end].t - events[lastFrame].t >= 40)
    }

    @Test func marksOnlyExpectationsSkipFrames() throws {
        let full = try HandWritten.updated(HandWritten.speechBargeIn)
        // Keep only the non-media expectations, as a person writing a test by hand would.
        let text = full.headerLine + "\n" + full.lines.filter { $0.role == .input || $0.role == .expectation && !$0.text.contains("\"media\"") }.map(\.text).joined(separator: "\n")
        let slim = try RecordedCall(text: text)
        #expect(!slim.checksMedia)
        #expect(slim.expected.contains { $0.kind == .clear })
        let result = try TestFlows.engine.replay(slim)
        #expect(result.passed, "\(result.report)")
    }

    /// The short test in docs/recording-format.md: expectations written by hand, frames unchecked.
    @Test func theDocumentedShortTestPassesAndFailsWithoutItsMark() throws {
        let text = """
            {"recording":"voicebridge-call","version":1,"flow":"demo","carrier":"simulated","durationMs":6000}
            {"t":0,"start":{}}
            {"t":2000,"speech":{"ms":700}}
            {"t":2200,"out":"clear"}
            {"t":4980,"out":"mark","name":"2.1"}
            """
        let result = try TestFlows.engine.replay(try RecordedCall(text: text))
        #expect(result.passed, "\(result.report)")
        let withoutMark = try TestFlows.engine.replay(try RecordedCall(text: text.components(separatedBy: "\n").dropLast().joined(separator: "\n")))
        #expect(!withoutMark.passed)
        #expect(withoutMark.divergence?.reason == "the replay sent more than the recording")
        #expect(withoutMark.divergence?.actual?.kind == .mark("2.1"))
    }

    @Test func aMalformedMessageClosesWithTheServersCode() throws {
        let text = """
            {"recording":"voicebridge-call","version":1,"flow":"demo","carrier":"simulated","durationMs":3000}
            {"t":0,"start":{}}
            {"t":1000,"in":"{\\"event\\":\\"media\\",\\"media\\":{\\"payload\\":"}
            """
        let result = try TestFlows.engine.replay(try RecordedCall(text: text))
        guard case let .close(code, reason)? = result.actual.last?.kind else {
            Issue.record("no close: \(result.actual.suffix(2))"); return
        }
        #expect(code == 1007)
        #expect(reason.contains("malformed JSON"))
        #expect(result.actual.last!.t == 1000)
    }

    @Test func aBinaryFrameClosesWith1003() throws {
        let text = """
            {"recording":"voicebridge-call","version":1,"flow":"demo","carrier":"simulated","durationMs":3000}
            {"t":0,"start":{}}
            {"t":1000,"binary":"AAEC"}
            """
        let result = try TestFlows.engine.replay(try RecordedCall(text: text))
        guard case let .close(code, _)? = result.actual.last?.kind else { Issue.record("no close"); return }
        #expect(code == 1003)
    }

    @Test func errorsNameTheLine() throws {
        let text = """
            {"recording":"voicebridge-call","version":1,"flow":"demo","carrier":"simulated"}
            {"t":0,"start":{}}
            {"t":100,"dtmf":"12"}
            """
        #expect(throws: RecordingError.self) { try RecordedCall(text: text) }
        do {
            _ = try RecordedCall(text: text)
        } catch {
            #expect(error.line == 3)
        }
    }

    @Test func anUnknownFlowIsAnError() throws {
        let text = #"{"recording":"voicebridge-call","version":1,"flow":"nope","carrier":"simulated"}"#
        #expect(throws: UnknownFlowError.self) { try TestFlows.engine.replay(try RecordedCall(text: text)) }
    }
}

@Suite struct ReplayCanFailTests {
    /// Replays `recording` after `change` and returns the result, which must fail.
    private func failing(_ recording: RecordedCall, engine: ReplayEngine = TestFlows.engine) throws -> ReplayResult {
        let result = try engine.replay(recording)
        #expect(!result.passed)
        return result
    }

    @Test func oneChangedFrameByteFails() throws {
        var recording = try HandWritten.updated(HandWritten.menu)
        let index = recording.expected.indices.filter { recording.expected[$0].isMedia }[40]
        guard case var .media(bytes) = recording.expected[index].kind else { return }
        bytes[17] ^= 0x01
        recording.expected[index].kind = .media(bytes)
        let result = try failing(recording)
        #expect(result.divergence?.index == index)
        #expect(result.divergence?.reason.contains("byte 17") == true)
        #expect(result.report.contains("outbound event #\(index + 1)"))
        print(result.report)
    }

    /// The relay app's messages are their own stream: a divergence there is numbered among them
    /// and says so, once.
    @Test func aRelayDivergenceIsNumberedAmongTheAppsMessages() {
        let carrier = [OutboundEvent(t: 0, kind: .mark("1")), OutboundEvent(t: 10, kind: .clear)]
        let expected = carrier + [OutboundEvent(t: 5, kind: .relay(#"{"type":"setup"}"#)), OutboundEvent(t: 20, kind: .relay(#"{"type":"prompt"}"#))]
        let actual = carrier + [OutboundEvent(t: 5, kind: .relay(#"{"type":"setup"}"#)), OutboundEvent(t: 20, kind: .relay(#"{"type":"dtmf"}"#))]
        let d = ReplayComparison.firstDivergence(expected: expected, actual: actual, toleranceMs: 20)
        #expect(d?.index == 1)
        #expect(d?.inRelayStream == true)
        #expect(d?.reason == "messages to the relay app differ")
        let onlyCarrier = ReplayComparison.firstDivergence(expected: carrier, actual: [carrier[0]], toleranceMs: 20)
        #expect(onlyCarrier?.inRelayStream == false)
    }

    /// Fuzz-found (the replay target): a recording whose simulated carrier had no start to answer
    /// in woke the echo timer at the same instant forever, so the replay never ended. Its input is
    /// a regression seed; here it must finish.
    @Test(.timeLimit(.minutes(1))) func aCarrierWithNothingToAnswerInDoesNotSpinTheReplay() throws {
        let path = TestFlows.root + "/fixtures/fuzz/recording/regression-replay-echo-spin.jsonl"
        let result = try TestFlows.engine.replay(try RecordedCall(contentsOf: path))
        #expect(result.virtualMs < 20_000, "the recording ends at 6 s, then settles")
        #expect(!result.actual.isEmpty)
    }

    @Test func aFileThatIsNotUTF8IsOneClearError() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("not-utf8-\(UUID().uuidString).jsonl").path
        FileManager.default.createFile(atPath: path, contents: Data([0x7B, 0xFF, 0xFE, 0x7D]))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: RecordingError(line: 0, "not UTF-8 text, so not a recording (JSON Lines)")) { try RecordedCall(contentsOf: path) }
    }

    @Test func oneMarkBeyondToleranceFails() throws {
        var recording = try HandWritten.updated(HandWritten.menu)
        let tolerance = recording.header.effectiveToleranceMs
        let index = recording.expected.firstIndex { if case .mark = $0.kind { true } else { false } }!
        // Within the tolerance still passes ...
        recording.expected[index].t += tolerance
        #expect(try TestFlows.engine.replay(recording).passed)
        // ... just beyond it does not.
        recording.expected[index].t += 1
        let result = try failing(recording)
        #expect(result.divergence?.index == index)
        #expect(result.divergence?.expected?.kind == recording.expected[index].kind)
        #expect(result.report.contains("later than recorded") || result.report.contains("earlier than recorded"))
        print(result.report)
    }

    @Test func theBargeInMinimumSpeechSettingChangesTheOutcome() throws {
        let recording = try HandWritten.updated(HandWritten.speechBargeIn)
        #expect(try TestFlows.engine.replay(recording).passed)
        // 700 ms of speech no longer counts as a barge-in at 1 s: no clear, the greeting plays on.
        let strict = TestFlows.engine { $0.bargeIn.minSpeechMs = 1_000 }
        let result = try failing(recording, engine: strict)
        let clear = recording.expected.firstIndex { $0.kind == .clear }!
        #expect(result.divergence?.index == clear)
        #expect(result.divergence?.expected?.kind == .clear)
        print(result.report)
    }
}

/// Serialized: three hundred replays back to back would hold both of a 2-core machine's test
/// threads for seconds.
@Suite(.serialized) struct ReplayDeterminismTests {
    @Test(arguments: ["02-barge-in-speech.jsonl", "10-goodbye-waits-for-mark.jsonl"])
    func aRecordedFixtureReplaysIdenticallyAHundredTimes(_ name: String) async throws {
        let recording = try Fixtures.load(name)
        let first = try TestFlows.engine.replay(recording)
        #expect(first.passed, "\(first.report)")
        for _ in 0..<100 {
            // Replays are CPU-bound: give the shared test threads back between them, so the
            // suites that run on the wall clock meanwhile are not starved.
            await Task.yield()
            let again = try TestFlows.engine.replay(recording)
            #expect(again.actual == first.actual)
            #expect(again.information == first.information)
            #expect(again.divergence == first.divergence)
        }
    }

    @Test func theSameFileReplaysIdenticallyAHundredTimes() async throws {
        let recording = try HandWritten.updated(HandWritten.speechBargeIn)
        let first = try TestFlows.engine.replay(recording)
        #expect(first.passed)
        for _ in 0..<100 {
            // Replays are CPU-bound: give the shared test threads back between them, so the
            // suites that run on the wall clock meanwhile are not starved.
            await Task.yield()
            let again = try TestFlows.engine.replay(recording)
            #expect(again.actual == first.actual)
            #expect(again.information == first.information)
        }
    }

    @Test func aSixtySecondCallReplaysInWellUnderASecond() throws {
        let recording = try HandWritten.updated(HandWritten.sixtySeconds)
        let result = try TestFlows.engine.replay(recording)
        #expect(result.passed)
        #expect(result.virtualMs >= 60_000)
        print("replay of a \(Int(result.virtualMs / 1000)) s call: \(String(format: "%.3f", result.wallSeconds)) s wall, \(result.actual.count) outbound events")
        // The claim is the printed number; the bound is generous so a loaded machine does not flake.
        #expect(result.wallSeconds < 5)
    }
}

@Suite struct HandWrittenSpeechTests {
    /// A request written down with its text but no audio is spoken by the stand-in voice, and a
    /// `silence` line changes nothing.
    @Test func aRequestWithoutAudioAndSilenceLines() throws {
        let greeting = DemoMenuFlow.Script().greeting
        let plain = """
            {"recording":"voicebridge-call","version":1,"flow":"demo","carrier":"simulated","durationMs":3000}
            {"t":0,"start":{}}
            """
        let annotated = plain + "\n" + """
            {"t":0,"tts":"request","turn":"1","text":"\(greeting)"}
            {"t":500,"silence":{"ms":2000}}
            """
        let a = try TestFlows.engine.replay(try RecordedCall(text: plain))
        let b = try TestFlows.engine.replay(try RecordedCall(text: annotated))
        #expect(!a.actual.isEmpty)
        #expect(a.actual == b.actual)
    }
}
