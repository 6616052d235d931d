import Foundation
import Logging
import Synchronization
import VoiceBridgeEmulators
import VoiceBridgeSpeech

// Time to first audio of the ElevenLabs sources against the in-process emulator on loopback, and
// how fast a refused quota reaches the offline voice. The emulator adds no latency of its own
// unless asked (`--service-ttfb MS`), so the numbers are the bridge's own overhead: sockets,
// JSON, base64, hops. Usage: swift run -c release SpeechBench [turns] [--service-ttfb MS]

/// A voice with known output: 60 ms of μ-law per character in 100 ms chunks, timed per character.
final class BenchVoice: SpeechSource {
    let name: String
    init(name: String = "bench") { self.name = name }
    func startTurn(_ options: TurnOptions) -> any SpeechTurn { BenchTurn(id: options.id) }
}

final class BenchTurn: SpeechTurn {
    let id: String
    let chunks: AsyncThrowingStream<SpeechChunk, any Error>
    private let continuation: AsyncThrowingStream<SpeechChunk, any Error>.Continuation
    private let text = Mutex("")

    init(id: String) {
        self.id = id
        (chunks, continuation) = AsyncThrowingStream.makeStream()
    }

    func send(text more: String) { text.withLock { $0 += more } }

    func finish() {
        let characters = Array(text.withLock { $0 })
        var index = 0
        while index < characters.count {
            let piece = characters[index..<min(index + 2, characters.count)]  // 2 characters: 120 ms
            continuation.yield(SpeechChunk(
                turnID: id,
                audio: [UInt8](repeating: 0x55, count: piece.count * 480),
                alignment: Alignment(chars: piece.map(String.init), charStartTimesMs: piece.indices.map { ($0 - index) * 60 }, charDurationsMs: piece.map { _ in 60 })
            ))
            index += 2
        }
        continuation.finish()
    }

    func cancel() { continuation.finish() }
}

func quiet(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = .critical
    return logger
}

func ms(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
}

func report(_ name: String, _ samples: [Duration]) {
    let sorted = samples.map(ms).sorted()
    guard !sorted.isEmpty else { return print("\(name): no samples") }
    func pct(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))] }
    print(String(format: "%@: n=%d  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms", name, sorted.count, pct(0.5), pct(0.9), pct(0.99), sorted.last!))
}

/// Time from `speak` to the first chunk, then the rest drained.
func firstAudio(_ turn: any SpeechTurn) async throws -> Duration {
    let start = ContinuousClock.now
    var iterator = turn.chunks.makeAsyncIterator()
    guard try await iterator.next() != nil else { throw CancellationError() }
    let elapsed = ContinuousClock.now - start
    while try await iterator.next() != nil {}
    return elapsed
}

func run() async throws {
    var arguments = Array(CommandLine.arguments.dropFirst())
    var serviceTTFB = 0
    if let i = arguments.firstIndex(of: "--service-ttfb"), i + 1 < arguments.count {
        serviceTTFB = Int(arguments[i + 1]) ?? 0
        arguments.removeSubrange(i...(i + 1))
    }
    // How long a closed context still counts against the 5 (the source's default is 100 ms): back
    // to back turns, as here, wait for it once 5 closed within that time.
    var releaseDelay = 100
    if let i = arguments.firstIndex(of: "--release-delay"), i + 1 < arguments.count {
        releaseDelay = Int(arguments[i + 1]) ?? 100
        arguments.removeSubrange(i...(i + 1))
    }
    let turns = arguments.first.flatMap(Int.init) ?? 200
    let sentence = "Thank you for calling. How can I help you today?"

    CurlMulti.initializeGlobally()
    var configuration = ElevenLabsEmulatorConfiguration()
    configuration.faults.ttfbMs = serviceTTFB
    let emulator = ElevenLabsEmulator(configuration: configuration, speech: BenchVoice(), logger: quiet("emulator"))
    let port = try await emulator.start()
    let base = "http://127.0.0.1:\(port)"
    print("emulator on \(base), service TTFB \(serviceTTFB) ms, \(turns) turns of \(sentence.count) characters")

    // WebSocket: one socket, one context per turn, as a call does.
    let metrics = Mutex<[ElevenLabsTurnMetrics]>([])
    let client = try ElevenLabsWebSocketClient(
        configuration: ElevenLabsWebSocketConfiguration(
            apiKey: ElevenLabsEmulatorConfiguration.defaultAPIKey, baseURL: base, voiceID: "voice1",
            contextReleaseDelay: .milliseconds(releaseDelay)
        ),
        logger: quiet("ws")
    )
    print("context release delay \(releaseDelay) ms")
    do {
        let source = ElevenLabsWebSocketSpeechSource(client: client, logger: quiet("ws")) { m in metrics.withLock { $0.append(m) } }
        let cold = try await firstAudio(source.speak(sentence, options: TurnOptions(id: "cold")))
        print(String(format: "ws first turn (connect + upgrade included): %.2f ms", ms(cold)))
        var samples: [Duration] = []
        for i in 0..<turns { samples.append(try await firstAudio(source.speak(sentence, options: TurnOptions(id: "\(i)")))) }
        report("ws warm TTFB (speak → first chunk)", samples)
        try await Task.sleep(for: .milliseconds(50))
        let afterText = metrics.withLock { $0 }.dropFirst().compactMap(\.timeToFirstAudioAfterText)
        report("ws TTFB after the text left (turn metrics)", afterText)

        // Streamed: tokens as an LLM sends them, chunker on.
        var streamed: [Duration] = []
        let tokens = sentence.split(separator: " ", omittingEmptySubsequences: false).map { $0 + " " }
        for i in 0..<min(turns, 50) {
            let turn = source.startTurn(TurnOptions(id: "s\(i)"))
            let start = ContinuousClock.now
            for token in tokens { turn.send(text: String(token)) }
            turn.finish()
            var iterator = turn.chunks.makeAsyncIterator()
            _ = try await iterator.next()
            streamed.append(ContinuousClock.now - start)
            while try await iterator.next() != nil {}
        }
        report("ws streamed tokens → first chunk", streamed)
        source.close()
    }

    // Just in time (elevenlabs.text_lead_ms) against the whole text at once: the first audio of
    // a known four-sentence menu, turns interleaved so both meet the same machine.
    do {
        let menu = "Thank you for calling Acme. For billing, press one. For support, press two. To hear this again, press nine."
        func wsSource(lead: Duration) throws -> ElevenLabsWebSocketSpeechSource {
            var c = ElevenLabsWebSocketConfiguration(
                apiKey: ElevenLabsEmulatorConfiguration.defaultAPIKey, baseURL: base, voiceID: "voice1",
                contextReleaseDelay: .milliseconds(releaseDelay))
            c.textLead = lead
            return ElevenLabsWebSocketSpeechSource(client: try ElevenLabsWebSocketClient(configuration: c, logger: quiet("ws")), logger: quiet("ws"))
        }
        func httpSource(lead: Duration) -> ElevenLabsHTTPSpeechSource {
            var c = ElevenLabsHTTPSpeechSource.Configuration(apiKey: ElevenLabsEmulatorConfiguration.defaultAPIKey, baseURL: base, voiceID: "voice1")
            c.textLead = lead
            return ElevenLabsHTTPSpeechSource(configuration: c, logger: quiet("http"))
        }
        let sources: [(String, any SpeechSource)] = [
            ("ws whole text", try wsSource(lead: .zero)), ("ws just in time (1500 ms)", try wsSource(lead: .milliseconds(1500))),
            ("http whole text", httpSource(lead: .zero)), ("http just in time (1500 ms)", httpSource(lead: .milliseconds(1500))),
        ]
        var samples = [[Duration]](repeating: [], count: sources.count)
        // First audio only: a just-in-time turn's later sentences wait for a playhead nobody
        // plays, so each turn is cancelled once its first chunk is here.
        func first(_ turn: any SpeechTurn) async throws -> Duration {
            let start = ContinuousClock.now
            var iterator = turn.chunks.makeAsyncIterator()
            guard try await iterator.next() != nil else { throw CancellationError() }
            let elapsed = ContinuousClock.now - start
            turn.cancel()
            return elapsed
        }
        for (_, source) in sources { _ = try await first(source.speak(menu, options: TurnOptions(id: "warm"))) }
        for i in 0..<min(turns, 100) {
            for (n, (_, source)) in sources.enumerated() {
                samples[n].append(try await first(source.speak(menu, options: TurnOptions(id: "j\(i)"))))
                try await Task.sleep(for: .milliseconds(Int64(releaseDelay) + 5))  // the cancelled context's slot frees
            }
        }
        for (n, (label, _)) in sources.enumerated() { report("first audio of a known menu, \(label)", samples[n]) }
        func median(_ d: [Duration]) -> Double { d.map(ms).sorted()[d.count / 2] }
        print(String(format: "just in time - whole text, median first audio: ws %+.2f ms, http %+.2f ms",
            median(samples[1]) - median(samples[0]), median(samples[3]) - median(samples[2])))
        for (_, source) in sources { (source as? ElevenLabsWebSocketSpeechSource)?.close() }
    }

    // HTTP streaming, for comparison (libcurl, connection reused).
    do {
        let http = ElevenLabsHTTPSpeechSource(
            configuration: .init(apiKey: ElevenLabsEmulatorConfiguration.defaultAPIKey, baseURL: base, voiceID: "voice1"), logger: quiet("http")
        )
        var samples: [Duration] = []
        for i in 0..<min(turns, 100) { samples.append(try await firstAudio(http.speak(sentence, options: TurnOptions(id: "h\(i)")))) }
        report("http TTFB (speak → first chunk)", samples)
    }
    try await emulator.stop()

    // A refused quota: WebSocket 1008, then HTTP 401, then the offline voice.
    do {
        var refusing = ElevenLabsEmulatorConfiguration()
        refusing.faults.quotaExceeded = true
        let quotaEmulator = ElevenLabsEmulator(configuration: refusing, speech: BenchVoice(), logger: quiet("emulator"))
        let quotaPort = try await quotaEmulator.start()
        let quotaBase = "http://127.0.0.1:\(quotaPort)"
        let quotaClient = try ElevenLabsWebSocketClient(
            configuration: ElevenLabsWebSocketConfiguration(apiKey: ElevenLabsEmulatorConfiguration.defaultAPIKey, baseURL: quotaBase, voiceID: "voice1"),
            logger: quiet("ws")
        )
        let http = ElevenLabsHTTPSpeechSource(
            configuration: .init(apiKey: ElevenLabsEmulatorConfiguration.defaultAPIKey, baseURL: quotaBase, voiceID: "voice1"), logger: quiet("http")
        )
        let espeak = OfflineVoice(logger: quiet("offline"))
        try await espeak.prepare()
        let offlines: [(String, any SpeechSource)] = [("scripted offline voice", BenchVoice(name: "offline")), ("espeak offline voice", espeak)]
        for (label, offline) in offlines {
            var first: [Duration] = []
            var later: [Duration] = []
            for i in 0..<20 {
                // A fresh chain per call, as the server makes them: the first turn meets the refusal,
                // the second goes straight to the offline voice (breaker).
                let chain = FallbackSpeechSource(
                    [ElevenLabsWebSocketSpeechSource(client: quotaClient, logger: quiet("ws")), http, offline], logger: quiet("fallback")
                )
                first.append(try await firstAudio(chain.speak(sentence, options: TurnOptions(id: "q\(i)"))))
                later.append(try await firstAudio(chain.speak(sentence, options: TurnOptions(id: "r\(i)"))))
                chain.close()
            }
            report("quota → \(label): first audio of the refused turn", first)
            report("quota → \(label): next turn of the call (breaker open)", later)
        }
        try await quotaEmulator.stop()
    }
}

try await run()
