import Foundation
import Testing
import VoiceBridgeAudio
import VoiceBridgeCalls
import VoiceBridgeRecording

/// The timeline model: where each thing a call did lands on its clock, checked against the
/// recordings' own lines (a replay that passes sends within one frame of them).
@Suite struct CallTimelineTests {
    static let frameMs = 20.0

    static func timeline(_ name: String) throws -> CallTimeline {
        let recording = try Fixtures.load(name)
        return CallTimeline(try TestFlows.engine.replay(recording, path: name))
    }

    /// The `t` of the first information line with this flow event, read from the file itself.
    static func recordedTime(_ name: String, containing needle: String) throws -> Double {
        let text = try String(contentsOf: Fixtures.callsDirectory.appendingPathComponent(name), encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.contains(needle) })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        return try #require(object["t"] as? Double)
    }

    @Test func aKeyBargeInShowsTheKeyTheClearAndBothPrompts() throws {
        let name = "03-barge-in-dtmf.jsonl"
        let t = try Self.timeline(name)
        #expect(t.verdict == .passed)
        #expect(t.name == name)

        let key = try #require(t.keys.first)
        #expect(t.keys.count == 1)
        #expect(key.digit == "1" && !key.inBand)
        #expect(key.t == (try Self.recordedTime(name, containing: #"\"digit\":\"1\""#)))

        #expect(t.clears.count == 1)
        #expect(abs(t.clears[0] - (try Self.recordedTime(name, containing: #""out":"clear""#))) <= Self.frameMs)

        let greeting = try #require(t.prompts.first { $0.id == "greeting" })
        #expect(greeting.outcome == .interrupted)
        #expect(abs(greeting.startMs - (try Self.recordedTime(name, containing: #""promptStarted","id":"greeting""#))) <= Self.frameMs)
        #expect(abs(greeting.endMs - (try Self.recordedTime(name, containing: #""promptInterrupted","id":"greeting""#))) <= Self.frameMs)
        #expect(greeting.heard?.hasPrefix("Welcome to VoiceBridge.") == true)
        #expect(greeting.turn == "1")
        let about = try #require(t.prompts.first { $0.id == "about" })
        #expect(abs(about.startMs - (try Self.recordedTime(name, containing: #""promptStarted","id":"about""#))) <= Self.frameMs)
        // The caller hung up during it.
        #expect(about.outcome == .unfinished)
        #expect(about.endMs == t.ends.first?.t)
        #expect(!t.prompts.contains { $0.id == "menu" }, "the menu was queued but never started")

        #expect(t.bargeIns.count == 1)
        #expect(t.bargeIns.first?.accepted == true)
        #expect(t.ends.map(\.reason) == ["carrierStop"])
        #expect(t.flowSteps.contains { $0.step == "event:digit" && $0.detail.contains("digit=1") })
    }

    @Test func speechRequestsCarryTheirTimeToFirstChunk() throws {
        let name = "03-barge-in-dtmf.jsonl"
        let t = try Self.timeline(name)
        let recording = try Fixtures.load(name)
        #expect(t.requests.map(\.turn) == ["1", "2", "3"])
        for (request, turn) in zip(t.requests, recording.turns) {
            let first = try #require(turn.events.first?.offsetMs)
            #expect(request.ttfbMs == first)
            #expect(request.source == "offline")
            #expect(request.doneMs != nil)
        }
        // The greeting was cancelled by the key.
        #expect(t.requests[0].cancelledMs.map { abs($0 - t.clears[0]) < 1 } == true)
    }

    @Test func bothDirectionsAreAudioOnTheSharedClock() throws {
        let t = try Self.timeline("03-barge-in-dtmf.jsonl")
        let count = Int(t.durationMs) * TimelineAudio.samplesPerMs
        #expect(t.caller.samples.count == count)
        #expect(t.bridge.samples.count == count)
        func loudest(_ audio: TimelineAudio, _ from: Double, _ to: Double) -> Int {
            audio.samples[Int(from * 8)..<Int(to * 8)].map { abs(Int($0)) }.max() ?? 0
        }
        // The greeting is talking a second in, and silent between the clear and the next prompt.
        #expect(loudest(t.bridge, 500, 2500) > 1000)
        let clear = t.clears[0]
        let next = try #require(t.prompts.first { $0.id == "about" }).startMs
        #expect(loudest(t.bridge, clear + 1, next) == 0)
        // Nothing plays after the call ended.
        #expect(loudest(t.bridge, t.ends[0].t + 1, t.durationMs) == 0)

        let wav = try WAVFile.decode(t.caller.wav)
        #expect(wav.sampleRate == 8000 && wav.encoding == .pcm16 && wav.channels == 1)
        #expect(wav.frameCount == count)
    }

    @Test func wordsFollowTheAlignmentAndStopWhereThePromptWasCut() throws {
        let t = try Self.timeline("03-barge-in-dtmf.jsonl")
        let greeting = try #require(t.prompts.first { $0.id == "greeting" })
        let words = greeting.words
        #expect(words.first?.text == "Welcome")
        #expect(words.first.map { $0.startMs >= greeting.startMs && $0.startMs < greeting.startMs + 200 } == true)
        #expect(zip(words, words.dropFirst()).allSatisfy { $0.startMs <= $1.startMs })
        #expect(words.allSatisfy { $0.startMs < greeting.endMs && $0.endMs <= greeting.endMs })
        // Heard "… Press 1 to hear how this br": the words up to the cut, about.
        let heard = words.map(\.text).joined(separator: " ")
        #expect(heard.hasPrefix("Welcome to VoiceBridge. Press 1 to hear how this"))
        #expect(!heard.contains("test tone"))
    }

    /// A streamed answer runs dry while it waits for text; its words follow the frames that
    /// actually played, not the clock from its first one.
    @Test func aStreamedAnswersWordsFollowItsFrames() throws {
        let t = try Self.timeline("05-long-streamed-answer.jsonl")
        let streamed = try #require(t.prompts.first { $0.streamed })
        #expect(streamed.text.hasPrefix("Here is a long answer"))
        #expect(streamed.outcome == .finished)
        let words = streamed.words
        #expect(words.first?.text == "Here")
        #expect(words.count > 20)
        #expect(zip(words, words.dropFirst()).allSatisfy { $0.startMs <= $1.startMs })
        #expect(words.allSatisfy { $0.startMs >= streamed.startMs && $0.endMs <= streamed.endMs })
        // Every word starts where the bridge was sounding, give or take a syllable.
        let loud = words.filter { word in
            let from = Int(word.startMs * 8)
            return t.bridge.samples[from..<min(t.bridge.samples.count, from + 1600)].contains { abs($0) > 500 }
        }
        #expect(loud.count >= words.count * 9 / 10)
    }

    /// Also: lines at t = 0 count (JSON's 0 is not false).
    @Test func aHandWrittenCallShowsTheCallersSpeechAndTheStandInVoicesWords() throws {
        let recording = try HandWritten.updated(HandWritten.speechBargeIn)
        let t = CallTimeline(try TestFlows.engine.replay(recording))
        #expect(t.carrier == "simulated")
        #expect(t.callerSpans.contains { $0.kind == "speech" && $0.startMs == 2000 && $0.endMs == 2700 })
        #expect(t.callerSpans.contains { $0.kind == "speech-detected" })
        #expect(t.caller.samples[2100 * 8..<2200 * 8].contains { abs($0) > 500 })
        #expect(!t.caller.samples[1000 * 8..<1900 * 8].contains { $0 != 0 })
        #expect(abs(t.clears[0] - 2200) <= Self.frameMs)
        let greeting = try #require(t.prompts.first)
        #expect(greeting.outcome == .interrupted)
        // The stand-in voice: 60 ms a character, from the first frame.
        #expect(greeting.words.first?.text == "Welcome")
        #expect(greeting.words.first.map { abs($0.endMs - $0.startMs - 7 * 60) < 1 } == true)
        #expect(t.bargeIns.first?.accepted == true)
    }

    @Test func marksArePlayedOrClearedAsTheCarrierWouldEchoThem() throws {
        let recording = try HandWritten.updated(HandWritten.menu)
        let t = CallTimeline(try TestFlows.engine.replay(recording))
        #expect(!t.marks.isEmpty)
        for mark in t.marks {
            switch mark.echo {
            case let .played(at), let .cleared(at): #expect(at >= mark.sentMs)
            case .none: Issue.record("mark \(mark.name) never came back")
            }
        }
        // The goodbye's mark comes back, then the call hangs up.
        let last = try #require(t.marks.last)
        if case let .played(at) = last.echo { #expect(abs(at - t.ends[0].t) <= Self.frameMs * 3) }
    }

    @Test func aFailedReplayMarksItsFirstDivergence() throws {
        let recording = try Fixtures.load("02-barge-in-speech.jsonl")
        let strict = TestFlows.engine { $0.bargeIn.minSpeechMs = 1_000 }
        let result = try strict.replay(recording, path: "02-changed.jsonl")
        let t = CallTimeline(result)
        #expect(t.verdict == .failed)
        let d = try #require(t.divergence)
        #expect(d.number == result.divergence!.index + 1)
        #expect(d.expected == "clear")
        #expect(abs(d.t - (try Self.recordedTime("02-barge-in-speech.jsonl", containing: #""out":"clear""#))) < 0.001)
        #expect(d.actual?.hasPrefix("media") == true)
        #expect(t.report.hasPrefix("FAIL 02-changed.jsonl"))
    }

    @Test(arguments: ["23-plivo-l16-16k-barge-in-dtmf-inband.jsonl", "24-telnyx-pcma-barge-in-speech.jsonl", "25-asterisk-slin16-barge-in-dtmf.jsonl"])
    func otherFormatsDecodeToAudibleTracks(_ name: String) throws {
        let t = try Self.timeline(name)
        #expect(t.verdict == .passed)
        #expect(t.bridge.samples.contains { abs($0) > 1000 })
        // A carrier's key is a message, not sound: only speech and in-band keys are heard.
        if name.contains("speech") || name.contains("inband") { #expect(t.caller.samples.contains { abs($0) > 300 }) }
        #expect(t.prompts.first?.id == "greeting")
    }

    @Test func transcriptsComeFromTheRecording() throws {
        let t = try Self.timeline("31-spoken-menu-choice-and-gather.jsonl")
        #expect(t.transcripts.map(\.text).contains("I'd like to pay my bill."))
        #expect(t.transcripts.first { $0.kind == "committed" }?.t == 8600)
        #expect(t.ends.first?.reason == "redirect")
        #expect(t.durationMs < 22_000, "a hand-written call's timeline ends with the call, not 10 s later")
    }

    /// A backchannel ("uh-huh") and speech still waiting for words are rejected, each with its
    /// reason, before the words that do interrupt.
    /// A relay call's lane: the app's messages as recorded, the bridge's as the replay sent them.
    @Test func aRelayCallShowsWhatTheAppSaidAndWhatItWasSent() throws {
        let t = try Self.timeline("33-relay-conversation-spoken-turns.jsonl")
        let toApp = t.relayMessages.filter(\.toApp)
        let fromApp = t.relayMessages.filter { !$0.toApp }
        #expect(toApp.first?.type == "setup")
        #expect(toApp.filter { $0.type == "prompt" }.map(\.t) == [5000, 10_000])
        let interrupt = try #require(toApp.first { $0.type == "interrupt" })
        #expect(interrupt.t == 8800 && interrupt.text.contains("Sure. Your balance is forty two dollars."))
        #expect(fromApp.map(\.type) == ["text", "text", "text", "end"])
        #expect(t.relayMessages.map(\.t) == t.relayMessages.map(\.t).sorted())
        // The talk cycles' words are the app's tokens (no speech was recorded for them).
        #expect(t.prompts.first { $0.id == "relay.2" }?.text == "Sure. Your balance is forty two dollars. Would you like to pay it now, or set up a reminder for later this week?")
        #expect(t.prompts.first { $0.id == "relay.2" }?.outcome == .interrupted)
    }

    @Test func rejectedBargeInsKeepTheirReasons() throws {
        let name = "32-backchannel-then-barge-in-by-words.jsonl"
        let t = try Self.timeline(name)
        let rejected = t.bargeIns.filter { !$0.accepted }
        #expect(rejected.map(\.reason).contains("an acknowledgement, not an interruption"))
        #expect(rejected.map(\.reason).contains("speech waits for words"))
        let first = try #require(rejected.first)
        #expect(abs(first.t - (try Self.recordedTime(name, containing: #""bargeIn":"rejected""#))) <= Self.frameMs)
        let accepted = try #require(t.bargeIns.first { $0.accepted })
        #expect(t.clears.contains { abs($0 - accepted.t) <= Self.frameMs })
        #expect(t.transcripts.contains { $0.kind == "committed" })
    }

    /// A message the server refused ends the timeline with the close code and reason.
    @Test func aRefusedMessageShowsTheClose() throws {
        let t = try Self.timeline("12-malformed-message.jsonl")
        let end = try #require(t.ends.first)
        #expect(end.closeCode == 1007)
        #expect(end.reason.hasPrefix("malformed JSON"))
        // The caller's audio stops where the socket closed.
        let after = Int(end.t * 8) + 8
        #expect(!t.caller.samples[after...].contains { $0 != 0 })
    }

    @Test func everyFixtureBuildsATimeline() throws {
        for file in Fixtures.callFiles {
            let recording = try RecordedCall(contentsOf: file.path)
            let t = CallTimeline(try TestFlows.engine.replay(recording))
            #expect(t.durationMs > 0, "\(file.lastPathComponent)")
            #expect(!t.prompts.isEmpty || !t.ends.isEmpty, "\(file.lastPathComponent)")
            for p in t.prompts { #expect(p.endMs >= p.startMs, "\(file.lastPathComponent) \(p.id)") }
        }
    }
}
