import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing
import VoiceBridgeAudio
import VoiceBridgeCarriers
import VoiceBridgeEmulators
import VoiceBridgeRecording
import VoiceBridgeRelay
import VoiceBridgeSpeech
@testable import VoiceBridgeServer

/// The relay end to end on loopback: the real server with `relay.url` set, the ElevenLabs
/// emulator speaking, the relay-app emulator as the app (its own strict checks of every message),
/// and the phone simulator (or a raw media socket) as the carrier.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct RelayCallTests {
    static let relaySecret = "relay-signing-secret-0123456789"
    static let controlToken = "control-token-0123456789abcdef"
    static let msPerCharacter = 20

    struct Rig {
        let server: LiveServer
        let app: RelayAppEmulator
        let voice: ElevenLabsCallTests.EmulatorVoice
        let relayURL: String
        let elevenLabs: ElevenLabsEmulator

        /// One call through the phone simulator, the carrier side of a real call.
        func simulate(_ script: CallScript) async -> PhoneSimulator.CallResult {
            let simulator = try! PhoneSimulator(
                configuration: .init(webhookURL: "http://127.0.0.1:\(server.port)/twiml", script: script),
                logger: Self.quiet("test.simulator"))
            return await simulator.runCall(on: MultiThreadedEventLoopGroup.singleton.next(), recordHeard: true)
        }

        static func quiet(_ label: String) -> Logger {
            var logger = Logger(label: label)
            logger.logLevel = .critical
            return logger
        }

        func control(_ method: String, _ path: String, token: String? = RelayCallTests.controlToken, body: String = "") async throws -> RawHTTPResponse {
            try await server.http(method, path, headers: token.map { [("Authorization", "Bearer \($0)")] } ?? [], body: body)
        }
    }

    /// The app, the ElevenLabs emulator and a server that runs the relay for every call.
    static func withRig(
        app appConfiguration: RelayAppConfiguration,
        elevenLabs: ElevenLabsEmulatorConfiguration = .init(),
        simulator: Bool = true,
        configure: @escaping (inout BridgeConfiguration) -> Void = { _ in },
        _ body: (Rig) async throws -> Void
    ) async throws {
        var appConfiguration = appConfiguration
        let voice = ElevenLabsCallTests.EmulatorVoice(msPerCharacter: msPerCharacter)
        try await ElevenLabsCallTests.withEmulator(elevenLabs, voice: voice) { emulator, elevenLabsPort in
            // The app checks the signature over its own URL, whose port it learns when it binds.
            appConfiguration.authToken = relaySecret
            appConfiguration.signedURL = "ws://127.0.0.1:{port}/relay"
            let app = RelayAppEmulator(configuration: appConfiguration, logger: Rig.quiet("test.app"))
            let appPort = try await app.start()
            let relayURL = "ws://127.0.0.1:\(appPort)/relay"
            do {
                try await LiveServer.with(
                    configure: { c in
                        ElevenLabsCallTests.configure(port: elevenLabsPort)(&c)
                        c.relayURL = relayURL
                        c.relayAuthToken = relaySecret
                        c.relayEvents = "speaker-events tokens-played x-voicebridge-turns"
                        c.controlToken = controlToken
                        if simulator {
                            // The simulator reaches the server where it listens and signs nothing.
                            c.publicURL = nil
                            c.twilioAuthToken = nil
                        }
                        configure(&c)
                    },
                    demoCalls: true, speech: ScriptedSpeech()
                ) { server in
                    try await body(Rig(server: server, app: app, voice: voice, relayURL: relayURL, elevenLabs: emulator))
                }
            } catch {
                try? await app.stop()
                throw error
            }
            try await app.stop()
            #expect(app.violations.isEmpty, "the app saw protocol violations: \(app.violations)")
            #expect(app.signature(session: 1) != nil, "the connection was signed")
        }
    }

    static func messages(_ app: RelayAppEmulator, type: String) -> [String] {
        app.received.filter { $0.hasPrefix(#"{"type":"\#(type)""#) }
    }

    /// The value of a string field in a flat JSON message (test-side, for reading the app's log).
    static func field(_ name: String, in json: String) -> String? {
        guard let data = json.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        if let s = object[name] as? String { return s }
        return (object[name] as? NSNumber).map { "\($0)" }
    }

    @Test func tokensReachTheCarrierAsAudioWithinTheTTFBPlusChunkerBudget() async throws {
        var app = RelayAppConfiguration()
        // An LLM-like reply: a short first clause, complete once the next token (60 ms) shows its end.
        app.greeting = .reply("Hello there. This reply arrives one token every thirty milliseconds, as a language model would send it.")
        var elevenLabs = ElevenLabsEmulatorConfiguration()
        elevenLabs.faults.ttfbMs = 100
        try await Self.withRig(app: app, elevenLabs: elevenLabs, simulator: false) { rig in
            // The pipeline's latency is the best of up to three calls: a parallel test run can
            // only add to it, never take from it (the same reading a benchmark makes).
            let budgetMs = 100.0 + 250 + 10  // emulator TTFB + chunker max wait + 10 ms
            var measured: [Double] = []
            for session in 1...3 where (measured.min() ?? .infinity) > budgetMs {
                let socket = try await rig.server.startCall()
                var firstMedia: UInt64?
                while firstMedia == nil {
                    let frame = try #require(try await socket.nextFrame(timeout: .seconds(10)), "socket closed")
                    if frame.text.contains(#""event":"media""#) { firstMedia = NIODeadline.now().uptimeNanoseconds }
                }
                let firstToken = try #require(rig.app.records.first {
                    $0.session == session && $0.direction == .sent && $0.text.contains(#""type":"text""#)
                })
                measured.append(Double(firstMedia! - firstToken.atNanos) / 1e6)
                await socket.close()
            }
            let latencyMs = measured.min() ?? .infinity
            print("relay tokens → audio: first media \(String(format: "%.1f", latencyMs)) ms after the first token (budget \(budgetMs) ms; calls: \(measured.map { String(format: "%.1f", $0) }.joined(separator: ", ")))")
            #expect(latencyMs <= budgetMs)
        }
    }

    @Test func aBargeInDuringAStreamedReplyReportsWhatTheCallerHeardAndNothingMorePlays() async throws {
        var app = RelayAppConfiguration()
        let reply = (1...80).map { "word\($0)" }.joined(separator: " ") + "."
        app.greeting = .reply(reply)
        app.keys = ["5": .nothing]
        try await Self.withRig(app: app) { rig in
            let result = await rig.simulate(CallScript(dtmf: [.init(atMs: 1500, digit: "5")], hangupAtMs: 3500))
            let timeline = result.timeline
            #expect(timeline.passed, "\(timeline.violations) \(timeline.error ?? "")")
            let interrupts = Self.messages(rig.app, type: "interrupt")
            try #require(interrupts.count == 1, "\(rig.app.received)")
            let utterance = try #require(Self.field("utteranceUntilInterrupt", in: interrupts[0]))
            let durationMs = try #require(Int(Self.field("durationUntilInterruptMs", in: interrupts[0]) ?? ""))

            // What the caller heard of the reply, from the simulator's WAV timeline: every
            // non-silent sample (the emulator voice never makes 0xFF).
            let heard = try #require(result.heard)
            let heardMs = heard.filter { $0 != 0xFF }.count / 8
            let clear = try #require(timeline.clears.first)
            print("barge-in: heard \(heardMs) ms of the reply; interrupt says \(durationMs) ms, \"\(utterance)\"")
            // The reply as the speech service was given it: whole words, one space apart.
            let spoken = reply + " "
            #expect(spoken.hasPrefix(utterance), "the heard text is a prefix of the reply")
            // Alignment counts characters that started before the cut: within one character
            // (20 ms) plus the clear's transit of what the simulator had heard. The bridge models
            // playout from what it sent, so silence the carrier played while frames were late (an
            // underrun, on a loaded machine) is time it counts as heard: allowed for, as measured.
            // A clear that reaches a loaded simulator late lets it play on, but only what it holds:
            // at most the bridge's lead over the ear.
            let slack = 2 * Self.msPerCharacter + Int(timeline.underruns.totalMs.rounded(.up)) + BridgeConfiguration().leadMs
            #expect(abs(utterance.count * Self.msPerCharacter - heardMs) <= slack, "underruns: \(timeline.underruns)")
            #expect(abs(durationMs - heardMs) <= slack, "underruns: \(timeline.underruns)")
            // After the clear: silence only. Nothing of the interrupted reply plays again.
            let after = Int((clear.atMs + 1) * 8)
            #expect(after < heard.count && heard[after...].allSatisfy { $0 == 0xFF })
            // The order of §5.2: tokensPlayed (the fragment), interrupt, agentSpeaking off, then the key.
            let tail = rig.app.received.drop { !$0.contains(#""name":"tokensPlayed""#) }.prefix(4)
            #expect(Array(tail) == [
                RelayCodec.encode(.info(name: "tokensPlayed", value: utterance)), interrupts[0],
                RelayCodec.encode(.info(name: "agentSpeaking", value: "off")), RelayCodec.encode(.dtmf(digit: "5")),
            ])
        }
    }

    @Test func sentDigitsAreHeardAsThoseDigitsInOrderBetweenTheSpeech() async throws {
        var app = RelayAppConfiguration()
        app.greeting = .several([.reply("Here are the digits."), .sendDigits("1w23#"), .reply("Those were the digits.")])
        try await Self.withRig(app: app) { rig in
            let result = await rig.simulate(CallScript(hangupAtMs: 4500))
            #expect(result.timeline.passed)
            let heard = try #require(result.heard)
            let digits = DTMFDetector().process(G711.decode(heard, law: .ulaw))
            // An underrun (a loaded machine) puts silence inside a tone, which then reads as two
            // presses of that key: only then are repeats folded together.
            var detected = digits.map(\.digit)
            if result.timeline.underruns.totalMs > 0 {
                detected = detected.enumerated().filter { $0.offset == 0 || detected[$0.offset - 1] != $0.element }.map(\.element)
            }
            #expect(detected == ["1", "2", "3", "#"], "underruns: \(result.timeline.underruns)")
            let marks = result.timeline.marks
            try #require(marks.count == 3, "\(marks)")
            #expect(marks.allSatisfy { $0.outcome == .played })
            let speechEnd = try #require(marks[0].echoedAtMs)
            let digitsEnd = try #require(marks[1].echoedAtMs)
            print("digits heard at \(digits.map(\.startMs)) ms; speech ended \(speechEnd) ms, tones ended \(digitsEnd) ms")
            #expect(Double(digits[0].startMs) >= speechEnd - 40)
            #expect(Double(digits[3].startMs) + 200 <= digitsEnd + 40)
            // 1, then the half-second pause, then 2.
            #expect(digits[1].startMs - digits[0].startMs >= 650)
            let played = rig.app.received.filter { $0.contains(#""name":"tokensPlayed""#) }
            #expect(played == [
                RelayCodec.encode(.info(name: "tokensPlayed", value: "Here are the digits.")),
                RelayCodec.encode(.info(name: "tokensPlayed", value: "1w23#")),
                RelayCodec.encode(.info(name: "tokensPlayed", value: "Those were the digits.")),
            ])
        }
    }

    /// Speech-to-text end to end: the caller says two things through the phone simulator (the
    /// spoken-text code the ElevenLabs emulator transcribes exactly), each reaches the app as one
    /// `prompt`, the app answers each, and each prompt leaves the bridge within 50 ms of the
    /// emulator's commit.
    @Test func aTwoTurnSpokenConversationReachesTheAppAsPromptsRightAfterEachCommit() async throws {
        var app = RelayAppConfiguration()
        app.greeting = .reply("Hello. How can I help?")
        try await Self.withRig(app: app) { rig in
            let result = await rig.simulate(CallScript(
                hangupAtMs: 9_000, say: [.init(atMs: 2_000, text: "pay my bill"), .init(atMs: 5_500, text: "tomorrow please")]))
            #expect(result.timeline.passed, "\(result.timeline.violations) \(result.timeline.error ?? "")")
            let prompts = rig.app.records.filter { $0.direction == .received && $0.text.hasPrefix(#"{"type":"prompt""#) }
            #expect(prompts.map(\.text) == [
                #"{"type":"prompt","voicePrompt":"pay my bill","lang":"en-US","last":true}"#,
                #"{"type":"prompt","voicePrompt":"tomorrow please","lang":"en-US","last":true}"#,
            ], "\(rig.app.received)")
            // The app answered each turn, and the caller heard both answers.
            for prompt in prompts {
                #expect(rig.app.records.contains { $0.direction == .sent && $0.atNanos > prompt.atNanos && $0.text.contains(#""type":"text""#) })
            }
            let transcription = try #require(rig.elevenLabs.transcriptions.first, "a speech-to-text session was opened")
            let commits = zip(transcription.sent, transcription.sentAtNanos).filter { $0.0.hasPrefix(#"{"message_type":"committed_transcript"#) }
            var latenciesMs: [Double] = []
            for prompt in prompts {
                guard let commit = commits.last(where: { $0.1 <= prompt.atNanos }) else { continue }
                latenciesMs.append(Double(prompt.atNanos - commit.1) / 1e6)
            }
            print("prompt after the emulator's commit: \(latenciesMs.map { String(format: "%.1f", $0) }.joined(separator: ", ")) ms")
            #expect(latenciesMs.count == 2)
            #expect(latenciesMs.allSatisfy { $0 <= 50 }, "\(latenciesMs)")
        }
    }

    /// Speech-to-text refused (quota): the app hears of it once, the failure is counted once for
    /// the call, the caller's keys still reach the app, and the call carries on.
    @Test func withSpeechToTextRefusedTheCallGoesOnWithKeysAndTheFailureCountsOnce() async throws {
        var app = RelayAppConfiguration()
        app.greeting = .reply("Hello. How can I help?")
        app.keys = ["5": .goodbye("Okay. Goodbye.", handoffData: nil)]
        var elevenLabs = ElevenLabsEmulatorConfiguration()
        elevenLabs.speechToText.faults.quotaExceeded = true
        try await Self.withRig(app: app, elevenLabs: elevenLabs) { rig in
            let result = await rig.simulate(CallScript(
                dtmf: [.init(atMs: 4_000, digit: "5")], maxDurationMs: 9_000,
                say: [.init(atMs: 1_500, text: "pay my bill"), .init(atMs: 2_800, text: "hello")]))
            #expect(result.timeline.passed, "\(result.timeline.violations) \(result.timeline.error ?? "")")
            #expect(Self.messages(rig.app, type: "prompt").isEmpty)
            let errors = Self.messages(rig.app, type: "error")
            #expect(errors.count == 1 && errors.first?.contains("speech-to-text unavailable") == true, "\(errors)")
            #expect(Self.messages(rig.app, type: "dtmf").count == 1)
            #expect(result.timeline.endReason == .serverClosed, "the app's goodbye ended the call")
            let metrics = try await rig.server.http("GET", "/metrics").body
            #expect(metrics.contains(#"voicebridge_errors_total{kind="stt_quota"} 1"#), "\(metrics.split(separator: "\n").filter { $0.contains("errors_total") })")
        }
    }

    /// `serve --record` keeps the app's side of a relay call, so `replay` runs the session again
    /// with the recorded app: the same messages to the app, the same clears and end.
    @Test func aRecordedRelayCallReplaysWithTheAppsSide() async throws {
        var app = RelayAppConfiguration()
        app.greeting = .reply((1...40).map { "word\($0)" }.joined(separator: " ") + ".")
        app.keys = ["5": .goodbye("Okay. Goodbye.", handoffData: nil)]
        var result: ReplayResult!
        // As the other live recordings: a loaded machine can stall the live call by more than the
        // tolerance; the replay itself is deterministic.
        for attempt in 1...3 {
            let directory = NSTemporaryDirectory() + "voicebridge-relay-rec-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try await Self.withRig(app: app, configure: { $0.recordDirectory = directory }) { rig in
                let call = await rig.simulate(CallScript(dtmf: [.init(atMs: 1200, digit: "5")], maxDurationMs: 8000))
                #expect(call.timeline.passed)
                try await rig.server.waitForActiveCalls(0)
            }
            let recording = try await Self.recordingFile(in: directory)
            var recorded = try RecordedCall(contentsOf: recording)
            #expect(recorded.header.flow == "relay")
            #expect(recorded.header.relay?["sessionId"]?.hasPrefix("VX") == true)
            #expect(recorded.header.relay?["events"] == "speaker-events tokens-played x-voicebridge-turns")
            #expect(recorded.inputs.contains { if case .relayApp = $0.input { true } else { false } })
            // The app's words are speech, not a credential: kept, though the member is `token`.
            #expect(recorded.inputs.contains { if case let .relayApp(text) = $0.input { text.contains(#""token":"word1"#) } else { false } })
            #expect(!recorded.inputs.contains { if case let .relayApp(text) = $0.input { text.contains("[redacted]") } else { false } })
            let toApp = recorded.expected.filter(\.isRelay)
            #expect(toApp.first.map { if case let .relay(text) = $0.kind { text.hasPrefix(#"{"type":"setup""#) } else { false } } == true)
            #expect(toApp.contains { if case let .relay(text) = $0.kind { text.hasPrefix(#"{"type":"interrupt""#) } else { false } })
            recorded.expected.removeAll { $0.isMedia }
            recorded.header.toleranceMs = 200
            result = try ReplayEngine(flows: { _ in throw UnknownFlowError(name: "not a relay") }).replay(recorded)
            if result.passed { break }
            print("live relay recording \(attempt) does not replay within tolerance: \(result.report.prefix(400))")
        }
        #expect(result.passed, "\(result.report)")
    }

    static func recordingFile(in directory: String) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(10)
        func names() -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] }
        while !names().contains(where: { $0.hasSuffix(".bridge.wav") }), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .milliseconds(100))
        return directory + "/" + (try #require(names().first { $0.hasSuffix(".jsonl") }))
    }

    @Test func endClosesTheCarrierSocketOnlyAfterTheLastMarkReturns() async throws {
        var app = RelayAppConfiguration()
        app.greeting = .goodbye("Thanks for calling. Goodbye.", handoffData: #"{"reason":"done"}"#)
        try await Self.withRig(app: app) { rig in
            let result = await rig.simulate(CallScript(maxDurationMs: 8000))
            let timeline = result.timeline
            #expect(timeline.passed)
            #expect(timeline.endReason == .serverClosed)
            #expect(timeline.close?.initiator == "server")
            try #require(!timeline.marks.isEmpty)
            #expect(timeline.marks.allSatisfy { $0.outcome == .played }, "\(timeline.marks)")
            let lastEcho = try #require(timeline.marks.last?.echoedAtMs)
            #expect(lastEcho <= timeline.durationMs)
            // The whole goodbye was heard before the socket closed.
            let heardMs = (result.heard ?? []).filter { $0 != 0xFF }.count / 8
            #expect(heardMs >= "Thanks for calling. Goodbye.".count * Self.msPerCharacter)
            #expect(rig.app.closeCode(session: 1) == 1000)
            #expect(Self.messages(rig.app, type: "setup").count == 1)
            #expect(rig.app.received[1].contains("x-voicebridge.capabilities"))
        }
    }

    @Test func theControlAPINeedsTheBearerTokenAndSayIsHeard() async throws {
        var app = RelayAppConfiguration()
        app.greeting = nil
        try await Self.withRig(app: app) { rig in
            #expect(try await rig.control("GET", "/calls", token: nil).status == 401)
            #expect(try await rig.control("GET", "/calls", token: "wrong-token-0123456789abcdef").status == 401)
            #expect(try await rig.control("POST", "/calls/CA123/say", token: nil, body: #"{"text":"hi"}"#).status == 401)
            #expect(try await rig.control("POST", "/calls/CA123/hangup", token: nil).status == 401)
            #expect(try await rig.control("POST", "/calls/CA123/say", body: #"{"text":"hi"}"#).status == 404)

            let call = Task { await rig.simulate(CallScript(maxDurationMs: 15_000)) }
            var listed = ""
            for _ in 0..<200 where !listed.contains(#""phase":"active""#) {
                try await Task.sleep(for: .milliseconds(20))
                listed = try await rig.control("GET", "/calls").body
            }
            let callSid = try #require(Self.firstCallSid(in: listed), "\(listed)")
            #expect(listed.contains(#""playing":false"#) && listed.contains(#""startedAt":""#) && listed.contains(#""streamSid":"MZ"#))
            #expect(try await rig.control("POST", "/calls/\(callSid)/say", body: #"{"text":42}"#).status == 400)
            let said = try await rig.control("POST", "/calls/\(callSid)/say", body: #"{"text":"Hello from the control API.","interruptible":false}"#)
            #expect(said.status == 202)
            try await Task.sleep(for: .milliseconds(1500))
            #expect(try await rig.control("POST", "/calls/\(callSid)/hangup").status == 202)
            let result = await call.value
            #expect(result.timeline.endReason == .serverClosed)
            let heardMs = (result.heard ?? []).filter { $0 != 0xFF }.count / 8
            #expect(heardMs >= "Hello from the control API.".count * Self.msPerCharacter, "the injected speech was heard")
            #expect(rig.voice.texts.contains("Hello from the control API. "))
            let after = try await rig.control("GET", "/calls").body
            #expect(!after.contains(callSid))
        }
    }

    static func firstCallSid(in json: String) -> String? {
        guard let r = json.range(of: #""callSid":""#) else { return nil }
        return String(json[r.upperBound...].prefix { $0 != "\"" })
    }

    @Test func withoutAControlTokenTheAPIIsAbsent() async throws {
        try await LiveServer.with(callFactory: nil) { server in
            let response = try await server.http("GET", "/calls")
            #expect(response.status == 404)
        }
    }
}
