import Foundation
import NIOCore
import Testing
import VoiceBridgeCalls
import VoiceBridgeCarriers
import VoiceBridgeEmulators
import VoiceBridgeSpeech
@testable import VoiceBridgeRecording

/// A clock the test moves by hand.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var nanos: UInt64 = 7_000_000_000
    var now: UInt64 { lock.withLock { nanos } }
    func advance(ms: Double) { lock.withLock { nanos += UInt64(ms * 1_000_000) } }
}

private func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "voicebridge-recording-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite struct RecordingFormatTests {
    /// A key that arrives after a tick's deadline, while that tick has yet to run (a busy loop),
    /// is handled first live; it is recorded just before the tick, so a replay (ticks on time)
    /// handles them in the same order.
    @Test func inputThatBeatAnOverdueTickIsRecordedJustBeforeIt() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let writer = RecordingWriter()
        let clock = TestClock()
        let recorder = CallRecorder(basePath: directory + "/call", writer: writer, redactor: SecretRedactor(), clock: { clock.now })
        recorder.begin(RecordingHeader(flow: "demo", carrier: .recorded, callSid: "CA1", accountSid: "AC1", parameters: [:], configuration: CallConfiguration()))
        let tick = Int64(clock.now) + 20_000_000  // due 20 ms in
        clock.advance(ms: 20.2)
        recorder.inbound(#"{"event":"dtmf","sequenceNumber":"5","dtmf":{"track":"inbound_track","digit":"1"}}"#, beforeTick: tick)
        clock.advance(ms: 5)
        recorder.inbound(#"{"event":"stop"}"#, beforeTick: nil)
        recorder.finish()
        writer.waitUntilWritten()
        let lines = try String(contentsOfFile: recorder.jsonlPath, encoding: .utf8).split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix(#"{"t":19.999,"in":"{\"event\":\"dtmf\""#) }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix(#"{"t":25.2,"in":"{\"event\":\"stop\""#) }, "\(lines)")
    }

    /// Every kind of line the recorder writes reads back as what was recorded.
    @Test func schemaRoundTrip() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let writer = RecordingWriter()
        let clock = TestClock()
        let recorder = CallRecorder(basePath: directory + "/call", writer: writer, redactor: SecretRedactor(), clock: { clock.now })
        var configuration = CallConfiguration()
        configuration.leadMs = 80
        configuration.bargeIn.minSpeechMs = 250
        recorder.begin(RecordingHeader(
            flow: "demo", carrier: .recorded, callSid: "CA1", accountSid: "AC1", parameters: ["From": "+1555"],
            configuration: configuration))
        let sink = RecordingCarrierSink(NullSink(), recorder: recorder)
        let frame = (0..<160).map { UInt8($0) }

        clock.advance(ms: 1.5)
        recorder.inbound(#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#)
        clock.advance(ms: 10)
        recorder.speech { line in
            line.string("tts", "request")
            line.string("turn", "1")
            line.string("text", "Hi \"there\"\n")
        }
        clock.advance(ms: 2.25)
        recorder.speech { line in
            line.string("tts", "chunk")
            line.string("turn", "1")
            line.string("audio", Base64Fast.encode(frame))
            var a = JSONLine()
            a.strings("chars", ["H", "i"])
            a.ints("startsMs", [0, 60])
            a.ints("durationsMs", [60, 60])
            line.raw("alignment", a.json)
        }
        clock.advance(ms: 1)
        frame.withUnsafeBytes { sink.sendMedia($0) }
        sink.sendMark("1.1")
        clock.advance(ms: 20)
        sink.sendClear()
        recorder.bargeIn(latencyNanos: 1_500_000, accepted: true, reason: "accepted")
        RecordingCallObserver(nil, recorder: recorder).speechCost(SpeechCost(byVoice: ["voice1": SpeechCharacters(sent: 40, heard: 25)]))
        sink.close(.hangUp)
        recorder.refused(code: 1007, reason: "malformed JSON")
        recorder.socketClosed()
        recorder.finish()
        writer.waitUntilWritten()

        let text = try String(contentsOfFile: recorder.jsonlPath, encoding: .utf8)
        let call = try RecordedCall(text: text)
        #expect(text.contains(#""cost":{"sent":40,"heard":25,"wasted":15},"voices":[{"voice":"voice1","sent":40,"heard":25,"wasted":15}]"#))
        #expect(call.header.flow == "demo")
        #expect(call.header.carrier == .recorded)
        #expect(call.header.callSid == "CA1")
        #expect(call.header.accountSid == "AC1")
        #expect(call.header.parameters == ["From": "+1555"])
        #expect(call.header.configuration == configuration)
        #expect(call.inputs.map(\.input) == [.message(#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#), .socketClosed])
        #expect(call.inputs.first?.t == 1.5)
        #expect(call.turns.count == 1)
        #expect(call.turns[0].text == "Hi \"there\"\n")
        #expect(call.turns[0].t == 11.5)
        guard case let .chunk(audio, alignment, _)? = call.turns[0].events.first?.kind else {
            Issue.record("no chunk"); return
        }
        #expect(audio == frame)
        #expect(alignment == Alignment(chars: ["H", "i"], charStartTimesMs: [0, 60], charDurationsMs: [60, 60]))
        #expect(call.turns[0].events.first?.offsetMs == 2.25)
        #expect(call.expected.map(\.kind) == [.media(frame), .mark("1.1"), .clear, .end("hangUp"), .close(code: 1007, reason: "malformed JSON")])
        #expect(call.expected.map(\.t) == [14.75, 14.75, 34.75, 34.75, 34.75])
        #expect(call.lines.contains { $0.role == .information && $0.text.contains("\"bargeIn\":\"accepted\"") })
        // Both directions as WAVs next to it.
        #expect(FileManager.default.fileExists(atPath: recorder.callerWAVPath))
        #expect(FileManager.default.fileExists(atPath: recorder.bridgeWAVPath))
    }

    /// `--update` writes a file that reads back to the same inputs and the replay's events.
    @Test func updatedTextRoundTrips() throws {
        let first = try TestFlows.engine.replay(try RecordedCall(text: HandWritten.speechBargeIn))
        let reread = try RecordedCall(text: first.updatedText)
        #expect(reread.expected == first.actual)
        #expect(reread.inputs.map(\.input) == (try RecordedCall(text: HandWritten.speechBargeIn)).inputs.map(\.input))
        // Rewriting an up-to-date file changes nothing.
        let second = try TestFlows.engine.replay(reread)
        #expect(second.updatedText == first.updatedText)
    }

    /// A recording that cannot be written is reported, and the recorder carries on.
    @Test func aWriteFailureIsReported() throws {
        let errors = NSLock()
        nonisolated(unsafe) var reported: [String] = []
        let writer = RecordingWriter(onError: { message in errors.withLock { reported.append(message) } })
        let recorder = CallRecorder(basePath: "/nonexistent-\(UUID().uuidString)/call", writer: writer, redactor: SecretRedactor())
        recorder.begin(RecordingHeader(flow: "demo", carrier: .recorded))
        recorder.inbound(#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#)
        recorder.socketClosed()
        recorder.finish()
        writer.waitUntilWritten()
        #expect(errors.withLock { reported.count } == 3)  // the .jsonl and both WAVs
    }

    @Test func theStandInVoiceIsTheEmulatorsKnownVoice() {
        let text = "Welcome, caller."
        #expect(StandInVoice.audio(for: text) == KnownVoice().audio(for: text))
    }

    @Test func aRecordedFileRefusesShorthands() {
        let text = """
            {"recording":"voicebridge-call","version":1,"flow":"demo","carrier":"recorded"}
            {"t":0,"start":{}}
            """
        #expect(throws: RecordingError.self) { try RecordedCall(text: text) }
    }

    /// A time or setting that would overflow a conversion during the replay (to samples or
    /// nanoseconds) is refused with its line; `voicebridge replay` trapped on `"t":1e300`.
    @Test(arguments: [
        (#"{"t":1e300,"dtmf":"1"}"#, 3, #"line: "t" must be a number within ±1e9"#),
        (#"{"t":86400001,"dtmf":"1"}"#, 3, #""t" must be within 0...86400000"#),
        (#"{"t":5,"speech":{"ms":700,"levelDBm0":1e12}}"#, 3, "levelDBm0"),
        (#"{"t":5,"flow":"start","gridMs":-1}"#, 3, "gridMs"),
    ])
    func outOfRangeNumbersAreRefusedWithTheirLine(line: String, number: Int, message: String) {
        let text = "{\"recording\":\"voicebridge-call\",\"version\":1,\"flow\":\"demo\",\"carrier\":\"simulated\"}\n{\"t\":0,\"start\":{}}\n" + line
        do {
            _ = try RecordedCall(text: text)
            Issue.record("accepted \(line)")
        } catch {
            #expect(error.line == number)
            #expect(error.message.contains(message), "\(error)")
        }
    }

    @Test(arguments: [#""frameMs":0"#, #""leadMs":1e14"#, #""hangUpGraceMs":-5"#, #""bargeIn":{"minWords":0}"#, #""speechDetector":{"thresholdDBm0":400}"#])
    func outOfRangeHeaderSettingsAreRefused(setting: String) {
        let text = #"{"recording":"voicebridge-call","version":1,"flow":"demo","carrier":"simulated","config":{"# + setting + "}}\n" + #"{"t":0,"start":{}}"#
        #expect(throws: RecordingError.self) { try RecordedCall(text: text) }
    }

    @Test func aNewerVersionIsRefused() {
        #expect(throws: RecordingError.self) { try RecordedCall(text: #"{"recording":"voicebridge-call","version":99}"#) }
    }
}

@Suite struct RedactionTests {
    static let authToken = "auth-token-0123456789abcdef"
    static let apiKey = "sk_0123456789abcdef0123"

    @Test func redactsKnownSecretsTokensAndSecretNamedMembers() {
        let redactor = SecretRedactor(secrets: [Self.authToken, Self.apiKey, nil, "x"])
        #expect(redactor.redact("key \(Self.apiKey) and \(Self.authToken)") == "key [redacted] and [redacted]")
        #expect(redactor.redact("wss://h/media/abc.DEF-123?x=1") == "wss://h/media/[redacted]?x=1")
        let start = #"{"customParameters":{"token":"t0k3n","X-Twilio-Signature":"c2ln","apiKey":"k","name":"Ann"}}"#
        #expect(redactor.redact(start) == #"{"customParameters":{"token":"[redacted]","X-Twilio-Signature":"[redacted]","apiKey":"[redacted]","name":"Ann"}}"#)
        #expect(redactor.redact(["AuthToken": "a", "From": "+1"]) == ["AuthToken": "[redacted]", "From": "+1"])
        // A relay app's `token` is the text it speaks; a known secret in it still goes.
        let text = #"{"type":"text","token":"Your balance is 42. \#(Self.apiKey)","last":true}"#
        #expect(redactor.redact(text, keepingMembers: ["token"]) == #"{"type":"text","token":"Your balance is 42. [redacted]","last":true}"#)
    }

    /// Secrets given to the recorder, or named as secrets, never reach the file, wherever they
    /// show up: inbound messages, webhook parameters, prompt text, speech errors, close reasons.
    @Test func aRecordingHoldsNoSecret() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let recordings = try CallRecordings(directory: directory, secrets: [Self.authToken, Self.apiKey])
        let recorder = recordings.recorder(callSid: "CA42")
        recorder.begin(RecordingHeader(
            flow: "demo", carrier: .recorded, callSid: "CA42",
            parameters: ["From": "+1555", "Signature": "abc", "Note": "key=\(Self.apiKey)"]))
        recorder.inbound(#"{"event":"start","start":{"customParameters":{"token":"s3cr3t-stream","who":"\#(Self.authToken)"}}}"#)
        recorder.speech { line in
            line.string("tts", "request")
            line.string("turn", "1")
            line.string("text", recorder.redact("Your code is \(Self.apiKey)"))
        }
        recorder.speech { line in
            line.string("tts", "error")
            line.string("turn", "1")
            line.string("error", recorder.redact("401 for xi-api-key \(Self.apiKey) at wss://api/media/tok123"))
        }
        recorder.refused(code: 1008, reason: "bad token \(Self.authToken)")
        recorder.socketClosed()
        recorder.finish()
        recordings.writer.waitUntilWritten()
        let text = try String(contentsOfFile: recorder.jsonlPath, encoding: .utf8)
        for secret in [Self.authToken, Self.apiKey, "s3cr3t-stream", "abc\"", "tok123"] {
            #expect(!text.contains(secret), "\(secret) leaked")
        }
        #expect(text.contains("[redacted]"))
        #expect(text.contains("+1555"))
        // Still a valid recording.
        #expect(throws: Never.self) { try RecordedCall(text: text) }
    }
}

/// A sink that drops everything.
final class NullSink: CarrierSink {
    func sendMedia(_ frame: UnsafeRawBufferPointer) {}
    func sendMark(_ name: String) {}
    func sendClear() {}
    func flush() {}
    var isWritable: Bool { true }
    var echoesMarksOnClear: Bool { true }
    func close(_ reason: CallEndReason) {}
    func transfer(to destination: CallTransfer) {}
}
