import Foundation
import Testing
import VoiceBridgeAudio
import VoiceBridgeCalls
@testable import VoiceBridgeRecording

/// The timeline page: self-contained, every item findable by its data attributes, and every
/// text from a caller or an app escaped. The browser tests (Tests/browser) check it rendered.
@Suite struct TimelineHTMLTests {
    static func page(_ name: String) throws -> (CallTimeline, String) {
        let t = try CallTimelineTests.timeline(name)
        return (t, TimelineHTML.page(t))
    }

    @Test func itemsCarryTheirKindAndTimes() throws {
        let (t, html) = try Self.page("03-barge-in-dtmf.jsonl")
        #expect(html.contains(#"data-kind="clear" data-t-ms="\#(JSONLineFormat.ms(t.clears[0]))""#))
        #expect(html.contains(#"data-kind="dtmf" data-t-ms="\#(JSONLineFormat.ms(t.keys[0].t))" data-digit="1""#))
        let greeting = t.prompts[0]
        #expect(html.contains(#"data-kind="prompt" data-t-ms="\#(JSONLineFormat.ms(greeting.startMs))" data-start-ms="\#(JSONLineFormat.ms(greeting.startMs))" data-end-ms="\#(JSONLineFormat.ms(greeting.endMs))""#))
        #expect(html.contains(#"data-text="Welcome to VoiceBridge. Press 1"#))
        #expect(html.contains(#"data-kind="barge-in""#))
        #expect(html.contains(#"data-kind="tts-request""#) && html.contains("data-ttfb-ms="))
        #expect(html.contains(#"data-kind="word""#))
        #expect(!html.contains(#"data-kind="divergence""#))
        #expect(html.contains(#"data-verdict="passed""#))
    }

    @Test func bothDirectionsAreEmbeddedAsWAV() throws {
        let (t, html) = try Self.page("03-barge-in-dtmf.jsonl")
        for direction in ["caller", "bridge"] {
            let marker = #"id="audio-\#(direction)""#
            let start = try #require(html.range(of: marker))
            let prefix = "data:audio/wav;base64,"
            let uri = try #require(html.range(of: prefix, range: start.upperBound..<html.endIndex))
            let end = try #require(html[uri.upperBound...].firstIndex(of: "\""))
            let bytes = try #require(Data(base64Encoded: String(html[uri.upperBound..<end])))
            let wav = try WAVFile.decode([UInt8](bytes))
            #expect(wav.sampleRate == 8000 && wav.encoding == .pcm16)
            #expect(abs(wav.durationMs - t.durationMs) < 1)
        }
    }

    @Test func thePageFetchesNothing() throws {
        let (_, html) = try Self.page("02-barge-in-speech.jsonl")
        #expect(html.contains("Content-Security-Policy"))
        for needle in ["http://", "https://", "src=\"/", "href=\"http", "@import", "url("] {
            #expect(!html.contains(needle), "the page refers to \(needle)")
        }
    }

    @Test func callerAndAppTextIsEscaped() throws {
        let hostile = #"<img src=x onerror=alert(1)> & "quoted" 'single'"#
        let text = """
            {"recording":"voicebridge-call","version":1,"flow":"demo","carrier":"simulated","durationMs":4000}
            {"t":0,"start":{}}
            {"t":1000,"stt":"committed","text":\(try String(data: JSONSerialization.data(withJSONObject: [hostile], options: [.fragmentsAllowed]), encoding: .utf8)!.dropFirst().dropLast())}
            {"t":2000,"out":"clear"}
            """
        let result = try TestFlows.engine.replay(try RecordedCall(text: text), path: "<b>name</b>.jsonl")
        let html = TimelineHTML.page(CallTimeline(result))
        #expect(!html.contains("<img"))
        #expect(!html.contains("<b>name"))
        #expect(html.contains("&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quoted&quot; &#39;single&#39;"))
        #expect(TimelineHTML.escape(#"</script><script>"#) == "&lt;/script&gt;&lt;script&gt;")
    }

    @Test func aFailedReplayShowsItsDivergence() throws {
        let recording = try Fixtures.load("02-barge-in-speech.jsonl")
        let strict = TestFlows.engine { $0.bargeIn.minSpeechMs = 1_000 }
        let t = CallTimeline(try strict.replay(recording, path: "02-changed.jsonl"))
        let html = TimelineHTML.page(t)
        let d = try #require(t.divergence)
        #expect(html.contains(#"data-kind="divergence" data-t-ms="\#(JSONLineFormat.ms(d.t))""#))
        #expect(html.contains(#"data-expected="clear""#))
        #expect(html.contains(#"data-verdict="failed""#))
        #expect(html.contains("First divergence at outbound event #\(d.number)"))
    }

    @Test func aStreamedAnswersPacingTimerIsFoldedIntoOneItem() throws {
        let (t, html) = try Self.page("05-long-streamed-answer.jsonl")
        let timers = t.flowSteps.filter { $0.step == "setTimer" && $0.detail.contains("name=stream") }
        #expect(timers.count > 10)
        let runs = TimelineHTML.repeats(t.flowSteps).filter { $0.first.step == "setTimer" && $0.first.detail.contains("name=stream") }
        #expect(runs.count == 1)
        #expect(runs.first?.count == timers.count)
        #expect(html.contains(#"data-repeats="\#(timers.count)""#))
    }

    @Test func theServerCanRenderARecordingFileByPath() throws {
        let path = Fixtures.callsDirectory.appendingPathComponent("10-goodbye-waits-for-mark.jsonl").path
        let html = try TimelineHTML.page(recordingAt: path, engine: TestFlows.engine)
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("10-goodbye-waits-for-mark.jsonl"))
        #expect(html.contains(#"data-kind="mark""#))
    }
}

/// Times as the page writes them (the recording's own number format).
enum JSONLineFormat {
    static func ms(_ value: Double) -> String {
        let thousandths = (value * 1000).rounded()
        if thousandths.truncatingRemainder(dividingBy: 1000) == 0 { return String(Int64(thousandths / 1000)) }
        var s = String(format: "%.3f", thousandths / 1000)
        while s.hasSuffix("0") { s.removeLast() }
        return s
    }
}
