import Foundation
import NIOCore
import NIOPosix
import Testing
import VoiceBridgeEmulators
import VoiceBridgeFlows
import VoiceBridgePrompts
import VoiceBridgeCarriers
import VoiceBridgeRecording
@testable import VoiceBridgeServer

/// `serve --record`: a served call, end to end on real sockets, leaves a recording that holds no
/// secret and replays.
@Suite struct RecordingServerTests {
    static let apiKey = "sk_test_0123456789abcdef0123"

    @Test func theRecordingDirectoryComesFromYAMLTheEnvironmentOrTheFlag() throws {
        var configuration = BridgeConfiguration()
        #expect(configuration.recordDirectory == nil)
        try configuration.apply(yaml: "recording:\n  directory: /var/rec\n")
        #expect(configuration.recordDirectory == "/var/rec")
        try configuration.apply(environment: ["VOICEBRIDGE_RECORD_DIR": "/tmp/rec"])
        #expect(configuration.recordDirectory == "/tmp/rec")
        try configuration.apply(yaml: "recording:\n  directory: \"\"\n")
        #expect(configuration.recordDirectory == nil)
        #expect(configuration.logSummary["recording"] == "off")
    }

    @Test(.timeLimit(.minutes(1)))
    func aServedCallIsRecordedWithoutSecretsAndReplays() async throws {
        let directory = NSTemporaryDirectory() + "voicebridge-served-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var signature = ""
        var streamToken = ""
        try await LiveServer.with(configure: { $0.recordDirectory = directory }, demoCalls: true, speech: ScriptedSpeech()) { server in
            // Secrets where a careless recorder would copy them: webhook fields and a custom
            // parameter of the stream.
            let path = try await server.streamPath(extra: [("ApiKey", Self.apiKey), ("Note", LiveServer.authToken)])
            streamToken = String(path.dropFirst("/media/".count))
            signature = server.sign("wss://voice.example.com" + path)
            let socket = try await MediaSocket.connect(port: server.port, path: path, headers: [("X-Twilio-Signature", signature)])
            try await socket.sendText(Twilio.connected())
            try await socket.sendText(Twilio.start(callSid: Twilio.callSid).replacingOccurrences(
                of: #""customParameters":{}"#, with: #""customParameters":{"token":"param-secret-value"}"#))
            let sender = socket.streamCallerSilence()
            defer { sender.cancel() }
            var seen: [FullCallTests.Outbound] = []
            try await FullCallTests.collect(socket, into: &seen) { $0.filter(\.isMedia).count >= 15 }
            try await socket.sendText(Twilio.dtmf(sequence: 10_000, digit: "1"))
            try await FullCallTests.collect(socket, into: &seen) { $0.contains(.clear) }
            sender.cancel()
            _ = try? await sender.value
            try await socket.sendText(Twilio.stop(sequence: 20_000, callSid: Twilio.callSid))
            _ = try await socket.closeFrame(timeout: .seconds(5))
            try await server.waitForActiveCalls(0)
        }
        // The writer thread finishes the files shortly after the socket closes.
        let file = directory + "/\(Twilio.callSid).jsonl"
        let deadline = ContinuousClock.now + .seconds(10)
        while !FileManager.default.fileExists(atPath: directory + "/\(Twilio.callSid).bridge.wav"), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .milliseconds(100))
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(FileManager.default.fileExists(atPath: directory + "/\(Twilio.callSid).caller.wav"))
        for secret in [LiveServer.authToken, LiveServer.tokenSecret, Self.apiKey, "param-secret-value", streamToken, signature] {
            #expect(!text.contains(secret), "a secret leaked into the recording: \(secret.prefix(12))…")
        }

        var recording = try RecordedCall(text: text)
        #expect(recording.header.flow == "demo")
        #expect(recording.expected.contains { $0.kind == .clear })
        #expect(recording.inputs.contains { if case let .message(m) = $0.input { m.contains(#""event":"dtmf""#) } else { false } })
        // Replayed through the current call: the same marks, clears and end. (Frames and their
        // exact times are held by the corpus in fixtures/calls, recorded on a quiet machine; a
        // test run in parallel with others can stall the live loop by more than a frame.)
        recording.expected.removeAll { $0.isMedia }
        recording.header.toleranceMs = 200
        let result = try ReplayEngine(flows: { _ in DemoCalls.makeDemoFlow() }).replay(recording)
        #expect(result.passed, "\(result.report)")
    }
}

/// A declarative flow with built prompts, recorded and replayed: the recording keeps the built
/// prompts' audio, so the replay plays exactly what the caller heard, whatever is built now.
@Suite struct RecordedBuiltPromptsTests {
    @Test(.timeLimit(.minutes(1)))
    func aSupportLineCallWithBuiltPromptsReplaysWithTheirRecordedAudio() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let catalog = try PromptCatalog.load(path: root + "/config/prompts.yaml")
        // "Built" prompts: each id its own byte, half a second long.
        var audio: [String: [UInt8]] = [:]
        for (i, prompt) in catalog.prompts.enumerated() { audio[prompt.id] = [UInt8](repeating: UInt8(0x20 + i), count: 4_000) }
        let prompts = PromptLibrary(audio: audio, texts: Dictionary(uniqueKeysWithValues: catalog.prompts.map { ($0.id, $0.text) }))
        let flows = ServedFlows(
            library: try FlowLibrary.load(directory: root + "/config/flows", knownPrompts: Set(catalog.ids)),
            environment: FlowEnvironment(prompts: prompts))
        let replayFlows = try ReplayFlows(flowsDirectory: root + "/config/flows", catalogPath: root + "/config/prompts.yaml")
        // A live recording on a loaded machine can stall before its first audio by more than the
        // tolerance, and then cannot replay as recorded: as scripts/record-fixtures does, it is
        // recorded again, up to three times. Replay itself is deterministic.
        var recording: RecordedCall!
        var recordedFrames: [[UInt8]] = []
        var result: ReplayResult!
        for attempt in 1...3 {
            let directory = NSTemporaryDirectory() + "voicebridge-built-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try await LiveServer.with(configure: { $0.publicURL = nil; $0.recordDirectory = directory }, flows: flows) { server in
                let simulator = try PhoneSimulator(configuration: .init(
                    webhookURL: "http://127.0.0.1:\(server.port)/twiml", authToken: LiveServer.authToken,
                    script: CallScript(dtmf: [.init(atMs: 800, digit: "2")], maxDurationMs: 10_000)))
                let call = await simulator.runCall(on: MultiThreadedEventLoopGroup.singleton.next(), recordHeard: false)
                #expect(call.timeline.twimlAfterStream == ["<Dial>+15551230002</Dial>"])
                try await server.waitForActiveCalls(0)
            }
            let deadline = ContinuousClock.now + .seconds(10)
            func files() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".jsonl") } }
            while (files().isEmpty || !((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).contains { $0.hasSuffix(".bridge.wav") }),
                ContinuousClock.now < deadline
            {
                try await Task.sleep(for: .milliseconds(20))
            }
            try await Task.sleep(for: .milliseconds(100))
            recording = try RecordedCall(contentsOf: directory + "/" + (files().first ?? "missing"))
            #expect(recording.header.flow == "support-line")
            #expect(recording.promptAudioByText[catalog["welcome"]!.text] == audio["welcome"])
            // Replayed with nothing built: the recorded audio stands in. Marks, clears and the end
            // must match; frames are held to their bytes below rather than to their exact times (a
            // live call in a parallel test run can stall a tick by more than a frame; the corpus in
            // fixtures/calls holds exact frame timing).
            recordedFrames = recording.expected.compactMap { if case let .media(bytes) = $0.kind { bytes } else { nil } }
            recording.expected.removeAll { $0.isMedia }
            recording.header.toleranceMs = 200
            result = try ReplayEngine(flowsForRecording: replayFlows.resolve(recording:)).replay(recording)
            if result.passed { break }
            print("live recording \(attempt) does not replay within tolerance (a stalled live call): \(result.report.prefix(300))")
        }
        #expect(result.passed, "\(result.report)")
        let replayedFrames = result.actual.compactMap { if case let .media(bytes) = $0.kind { bytes } else { nil } }
        #expect(replayedFrames.first == Array(audio["welcome"]!.prefix(160)))
        #expect(replayedFrames.prefix(10) == recordedFrames.prefix(10))
    }
}
