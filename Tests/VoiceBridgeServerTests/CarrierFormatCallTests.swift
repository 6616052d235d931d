import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
import VoiceBridgeAudio
import VoiceBridgeCalls
import VoiceBridgeCarriers
import VoiceBridgeEmulators
import VoiceBridgeFlows
import VoiceBridgeSpeech
@testable import VoiceBridgeServer

/// Calls in every format a carrier streams besides μ-law, end to end over loopback: the answer
/// asks for the configured `audio`, the simulator's side of the carrier streams in it strictly,
/// and the call plays, listens (keys in band too) and clears in it. One call at a time: each is a
/// real-time call, and a dozen at once on a two-core machine would test the machine.
@Suite(.serialized) struct CarrierFormatCallTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var carrier: SimulatedCarrierKind
        var audio: String
        var format: MediaFormat
        var inBandKeys = false
        var testDescription: String { "\(carrier.rawValue) \(audio)\(inBandKeys ? " (in-band key)" : "")" }
    }

    static let cases: [Case] = [
        Case(carrier: .plivo, audio: "l16_8000", format: .l16LittleEndian(8000)),
        Case(carrier: .plivo, audio: "l16_16000", format: .l16LittleEndian(16000), inBandKeys: true),
        Case(carrier: .telnyx, audio: "alaw_8000", format: .alaw8kMono),
        Case(carrier: .telnyx, audio: "l16_16000", format: .l16BigEndian16k, inBandKeys: true),
        Case(carrier: .asterisk, audio: "slin16", format: .l16LittleEndian(16000)),
        Case(carrier: .asterisk, audio: "alaw", format: .alaw8kMono, inBandKeys: true),
        Case(carrier: .vonage, audio: "l16_8000", format: .l16LittleEndian(8000), inBandKeys: true),
        // Exotel's 3,200-byte messages: 100 ms at 16 kHz, 400 ms of μ-law.
        Case(carrier: .exotel, audio: "l16_16000", format: .l16LittleEndian(16000), inBandKeys: true),
        Case(carrier: .exotel, audio: "ulaw_8000", format: .mulaw8kMono),
    ]

    static func configure(_ c: Case) -> (inout BridgeConfiguration) -> Void {
        { configuration in
            CarrierCallTests.signed(&configuration)
            if c.carrier.hasAnswerWebhook { configuration.carrierSettings[c.carrier.rawValue]?["audio"] = c.audio }
        }
    }

    static func simulator(_ c: Case, port: Int, script: CallScript) throws -> PhoneSimulator {
        var configuration = PhoneSimulator.Configuration(
            webhookURL: "http://127.0.0.1:\(port)\(c.carrier.defaultWebhookPath)",
            authToken: CarrierCallTests.secret(c.carrier),
            from: "+15550001111", to: "+15551230000", script: script, carrier: c.carrier, telnyxSigningKey: CarrierCallTests.key)
        if !c.carrier.hasAnswerWebhook {
            configuration.directFormat = try #require(AsteriskDialect.format(named: c.audio) ?? MediaFormat(settingName: c.audio))
        }
        return try PhoneSimulator(configuration: configuration)
    }

    /// Whether any sample of `bytes` is louder than about -36 dBFS.
    static func audible(_ bytes: some Collection<UInt8>, _ format: MediaFormat) -> Bool {
        format.decode(Array(bytes)).contains { abs(Int($0)) > 500 }
    }

    @Test(.timeLimit(.minutes(1)), arguments: cases)
    func aCallPlaysListensAndClearsInTheCarriersFormat(_ c: Case) async throws {
        try await LiveServer.with(configure: Self.configure(c), demoCalls: true, speech: FullCallTests.speech) { server in
            let script = CallScript(
                dtmf: [.init(atMs: 2_000, digit: "1")], dtmfInBand: c.inBandKeys, hangupAtMs: 6_000, maxDurationMs: 8_000)
            let result = try await CarrierCallTests.runOne(try Self.simulator(c, port: server.port, script: script))
            let timeline = result.timeline
            #expect(timeline.passed, "\(timeline.violations) \(timeline.error ?? "")")
            #expect(timeline.violationCount == 0)
            #expect(timeline.endReason == .hangup)
            #expect(result.heardFormat == c.format)
            let firstMedia = try #require(timeline.firstMediaMs)
            #expect(firstMedia < 2_000)
            let clear = try #require(timeline.clears.first, "no clear after the key")
            #expect(clear.atMs >= 2_000)
            let heard = try #require(result.heard)
            let bytesPerMs = c.format.bytes(milliseconds: 1)
            #expect(Self.audible(heard.prefix(Int(clear.atMs) * bytesPerMs), c.format), "greeting not heard")
            #expect(Self.audible(heard.dropFirst((Int(clear.atMs) + 100) * bytesPerMs), c.format), "reply not heard")
            let metrics = try await server.http("GET", "/metrics").body
            #expect(metrics.contains(#"voicebridge_barge_ins_total{accepted="true"} 1"#))
        }
    }

    @Test func theAnswersAskForTheConfiguredFormat() async throws {
        var configuration = BridgeConfiguration()
        configuration.carrierSettings["telnyx"] = ["audio": "l16_16000"]
        configuration.carrierSettings["plivo"] = ["audio": "L16_8000"]
        #expect(throws: Never.self) { try configuration.validated() }
        #expect(configuration.carrierAudio(TelnyxCarrier.settings) == .l16BigEndian16k)
        #expect(configuration.carrierAudio(PlivoCarrier.settings) == .l16LittleEndian(8000))
        #expect(configuration.carrierAudio(AsteriskCarrier.settings) == .mulaw8kMono)

        configuration.carrierSettings["telnyx"] = ["audio": "l16_8000"]
        let error = #expect(throws: ConfigurationError.self) { try configuration.validated() }
        #expect(error?.description.contains("telnyx.audio: \"l16_8000\" is not a format telnyx streams; use one of ulaw_8000, alaw_8000, l16_16000") == true)

        try await LiveServer.with(configure: { c in
            c.carrierSettings["telnyx"] = ["audio": "alaw_8000"]
            c.carrierSettings["plivo"] = ["audio": "l16_16000"]
        }) { server in
            let telnyx = try await server.http(
                "POST", "/telnyx/texml", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                body: FormURLEncoded.encode([("CallSid", "v3:abc")]))
            #expect(telnyx.body.contains(#"bidirectionalCodec="PCMA" bidirectionalSamplingRate="8000""#), "\(telnyx.body)")
            let plivo = try await server.http(
                "POST", "/plivo/answer", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                body: FormURLEncoded.encode([("CallUUID", "1c9e6f5a-2f0e-4b8e-9d61-0a6b1d2c3e4f")]))
            #expect(plivo.body.contains(#"contentType="audio/x-l16;rate=16000""#), "\(plivo.body)")
        }
    }
}

/// ElevenLabs asked for the carrier's own format: a wideband Vonage (or Plivo) call hears
/// `pcm_16000` byte for byte, energy above 4 kHz included; an A-law Telnyx call hears `alaw_8000` byte for byte.
@Suite(.timeLimit(.minutes(2)), .serialized)
struct ElevenLabsFormatPassThroughTests {
    /// A wideband voice: 16-bit PCM at 16 kHz, a 500 Hz tone with a 6 kHz one above it, so what
    /// reaches the caller shows whether anything narrowband sat in between.
    final class WidebandVoice: SpeechSource {
        let name = "wideband-voice"
        static let format = MediaFormat.l16LittleEndian(16000)

        static func audio(for text: String) -> [UInt8] {
            let samples = (0..<(text.count * 10 * 16)).map { n -> Int16 in
                let t = Double(n) / 16000
                return Int16(6000 * sin(2 * .pi * 500 * t) + 4000 * sin(2 * .pi * 6000 * t))
            }
            return format.encode(samples)
        }

        func startTurn(_ options: TurnOptions) -> any SpeechTurn { Turn(id: options.id) }

        final class Turn: SpeechTurn {
            let id: String
            let chunks: AsyncThrowingStream<SpeechChunk, any Error>
            private let continuation: AsyncThrowingStream<SpeechChunk, any Error>.Continuation
            private let text = NIOLockedValueBox("")

            init(id: String) {
                self.id = id
                (chunks, continuation) = AsyncThrowingStream.makeStream()
            }

            func send(text more: String) { text.withLockedValue { $0 += more } }

            func finish() {
                let audio = WidebandVoice.audio(for: text.withLockedValue { $0 })
                for start in stride(from: 0, to: audio.count, by: 3200) {
                    continuation.yield(SpeechChunk(turnID: id, audio: Array(audio[start..<min(start + 3200, audio.count)]), format: WidebandVoice.format))
                }
                continuation.finish()
            }

            func cancel() { continuation.finish() }
        }
    }

    static func run(
        carrier: SimulatedCarrierKind, audio: String, voice: any SpeechSource
    ) async throws -> (PhoneSimulator.CallResult, [ElevenLabsEmulatorRequestRecord]) {
        var logger = Logger(label: "test.emulator")
        logger.logLevel = .critical
        let emulator = ElevenLabsEmulator(configuration: .init(), speech: voice, logger: logger)
        let port = try await emulator.start()
        var outcome: PhoneSimulator.CallResult?
        do {
            try await LiveServer.with(configure: { c in
                CarrierCallTests.signed(&c)
                c.carrierSettings[carrier.rawValue]?["audio"] = audio
                ElevenLabsCallTests.configure(port: port)(&c)
            }, demoCalls: true, speech: ScriptedSpeech()) { server in
                let script = CallScript(hangupAtMs: 8_000, maxDurationMs: 10_000)
                outcome = try await CarrierCallTests.runOne(try CarrierCallTests.simulator(carrier, port: server.port, script: script))
            }
        } catch {
            try? await emulator.stop()
            throw error
        }
        let requests = emulator.requests
        try await emulator.stop()
        return (try #require(outcome), requests)
    }

    /// What the caller heard without the silence of underruns (a loaded machine may deliver the
    /// upstream late): the audio that was sent, in order.
    static func withoutUnderruns(_ result: PhoneSimulator.CallResult) throws -> [UInt8] {
        var heard = try #require(result.heard)
        let bytesPerTick = result.heardFormat.bytesPerSecond / 8000
        #expect(result.timeline.underruns.intervals.count == result.timeline.underruns.count)
        for gap in result.timeline.underruns.intervals.reversed() {
            let start = Int((gap.startMs * 8).rounded()) * bytesPerTick
            let end = min(heard.count, Int((gap.endMs * 8).rounded()) * bytesPerTick)
            if start < end { heard.removeSubrange(start..<end) }
        }
        return heard
    }

    @Test(arguments: [SimulatedCarrierKind.vonage, .plivo])
    func aWidebandCallHearsPCM16000ByteForByteWithItsHighs(_ carrier: SimulatedCarrierKind) async throws {
        let (result, requests) = try await Self.run(carrier: carrier, audio: "l16_16000", voice: WidebandVoice())
        #expect(result.timeline.passed, "\(result.timeline.violations) \(result.timeline.error ?? "")")
        let socket = try #require(requests.first { $0.kind == .webSocket })
        #expect(socket.query["output_format"] == "pcm_16000")
        let heard = try Self.withoutUnderruns(result)
        let greeting = TextChunker.sentencePieces(DemoMenuFlow.Script().greeting).flatMap { WidebandVoice.audio(for: $0) }
        // Where the greeting begins: its first 64 bytes (its first sample is zero, like silence).
        let head = Array(greeting.prefix(64))
        let start = try #require(stride(from: 0, to: heard.count - 64, by: 2).first { Array(heard[$0..<$0 + 64]) == head })
        #expect(heard.count >= start + greeting.count)
        #expect(Array(heard[start..<min(heard.count, start + greeting.count)]) == greeting, "byte for byte, no resampling")
        let above = try #require(HeardAudio.aboveNarrowbandDB(heard, format: result.heardFormat))
        print("\(carrier.rawValue) wideband call: \(String(format: "%.1f", above)) dB of the heard energy above 4 kHz")
        #expect(above > -10, "energy above 4 kHz: \(above) dB")
    }

    @Test func anALawCallHearsALaw8000ByteForByte() async throws {
        let voice = ElevenLabsCallTests.EmulatorVoice()
        let (result, requests) = try await Self.run(carrier: .telnyx, audio: "alaw_8000", voice: voice)
        #expect(result.timeline.passed, "\(result.timeline.violations) \(result.timeline.error ?? "")")
        #expect(requests.first { $0.kind == .webSocket }?.query["output_format"] == "alaw_8000")
        let heard = try Self.withoutUnderruns(result)
        let ulaw = voice.spoken(DemoMenuFlow.Script().greeting)
        let expected = G711.encode(G711.decode(ulaw, law: .ulaw), law: .alaw)
        let start = try #require(heard.firstIndex { $0 != MediaFormat.alaw8kMono.silenceByte })
        #expect(Array(heard[start..<min(heard.count, start + expected.count)]) == expected)
    }
}
