import ArgumentParser
import Foundation
import Logging
import VoiceBridgeCarriers
import VoiceBridgeEmulators

/// `voicebridge call URL`: the carrier's side of one or many calls against a voice webhook.
struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Place simulated carrier calls: signed webhook, <Connect><Stream>, real-time media, the carrier's playout.",
        discussion: "Exits 0 when every call streamed and the server broke no Media Streams rule; "
            + "otherwise prints a FAIL summary line and exits 1. --carrier picks the carrier played "
            + "(twilio: POST /twiml; telnyx: POST /telnyx/texml; signalwire: POST /signalwire/cxml, "
            + "--auth-token is then the project's Signing Key; plivo: POST /plivo/answer, --auth-token is then the "
            + "Plivo Auth Token; telnyx-call-control: POST /telnyx/call-control, and the simulator serves Telnyx's "
            + "Call Control API on --telnyx-api-port for the bridge's answer, hangup and transfer commands)."
    )

    @Argument(help: "The voice webhook URL (http://). It is also the URL that is signed.")
    var url: String

    @Option(help: "The secret the carrier signs with: Twilio's auth token, SignalWire's Signing Key, Plivo's Auth Token, Vonage's signature secret, or Asterisk's user:password (default: $TWILIO_AUTH_TOKEN, $SIGNALWIRE_SIGNING_KEY, $PLIVO_AUTH_TOKEN or $VONAGE_SIGNATURE_SECRET; unsigned when none is set).")
    var authToken: String?

    @Option(help: "The carrier to play: \(SimulatedCarrierKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var carrier: String = SimulatedCarrierKind.twilio.rawValue

    @Option(help: "Telnyx: base64 of a 32-byte Ed25519 seed that signs the webhooks (default: $TELNYX_SIGNING_KEY; unsigned when neither is set); the README shows how to make a pair with openssl.")
    var telnyxSigningKey: String?

    @Option(help: "telnyx-call-control: the port the simulator's Telnyx Call Control API listens on while the calls run (serve's TELNYX_API_URL must be http://127.0.0.1:PORT/v2).")
    var telnyxApiPort: Int = 9300

    @Option(help: "telnyx-call-control: the API key the bridge must present (default: $TELNYX_API_KEY; any key is accepted when neither is set).")
    var telnyxApiKey: String?

    @Option(help: "The account the carrier names in its webhook and stream (Twilio's AccountSid, Plivo's auth id; default: a random one). Set it to what serve checks (TWILIO_ACCOUNT_SID, PLIVO_AUTH_ID).")
    var accountId: String?

    @Option(help: "Carriers without an answer (Asterisk, Exotel): the stream's format, as Asterisk names it (ulaw, alaw, slin, slin16) or as the configuration does (ulaw_8000, l16_8000, l16_16000, …). Default: Asterisk ulaw, Exotel l16_8000. Other carriers stream what the answer asks for.")
    var audio: String?

    @Option(help: "The caller's number (From).")
    var from = "+15005550006"

    @Option(help: "The number called (To).")
    var to = "+15005550001"

    @Option(help: "WAV the caller speaks from the start (PCM16, μ-law or A-law; resampled to 8 kHz).")
    var callerWav: String?

    @Option(help: "Key presses as SECONDS:DIGIT pairs, e.g. 2.5:1,4.0:#")
    var dtmf: String?

    @Flag(help: "Mix DTMF tones into the caller's media instead of sending Twilio dtmf events.")
    var dtmfInband = false

    @Option(help: "SECONDS:FILE.wav mixed into the caller's media from that time (repeatable).")
    var speak: [String] = []

    @Option(help: ArgumentHelp(
        "SECONDS:TEXT the caller says from that time, e.g. 3.0:\"pay my bill\" (repeatable): coded speech that the bridge hears as speech and `voicebridge emulate elevenlabs` transcribes exactly (letters, digits, spaces and ' . , ? ! - : @ + &; see docs/spoken-text-code.md).",
        valueName: "seconds:text"))
    var say: [String] = []

    @Option(help: "SECONDS:TEXT sent as one text message at that time, exactly as given, e.g. a malformed one (repeatable).")
    var send: [String] = []

    @Option(help: "Hang up (send stop and close) after this many seconds.")
    var hangupAt: Double?

    @Option(help: "Longest call in seconds.")
    var maxDuration: Double = 60

    @Option(help: "Write what the caller heard, from the moment start was sent (a WAV in the stream's format, silence where nothing played; with --calls > 1, the first call).")
    var out: String?

    @Option(help: "Write the JSON timeline: {\"aggregate\": …, \"calls\": [one timeline per call]}.")
    var timeline: String?

    @Option(help: "Number of concurrent calls.")
    var calls = 1

    @Option(help: "Spread the call starts evenly over this many seconds.")
    var ramp: Double = 0

    @Option(help: "Event loop threads (default: one per core).")
    var threads: Int?

    @Option(help: "Log level (trace, debug, info, notice, warning, error, critical).")
    var logLevel = "warning"

    func validate() throws {
        guard calls >= 1 else { throw ValidationError("--calls must be at least 1") }
        guard ramp >= 0, ramp <= 86_400 else { throw ValidationError("--ramp must be within 0...86400 seconds") }
        guard maxDuration > 0, maxDuration <= 86_400 else { throw ValidationError("--max-duration must be within 0...86400 seconds") }
        if let hangupAt, !(hangupAt > 0 && hangupAt <= 86_400) { throw ValidationError("--hangup-at must be within 0...86400 seconds") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        guard (0...65535).contains(telnyxApiPort) else { throw ValidationError("--telnyx-api-port must be 0...65535") }
        if let audio, Self.format(named: audio) == nil {
            throw ValidationError("--audio must be one of ulaw, alaw, slin, slin16, ulaw_8000, alaw_8000, l16_8000, l16_16000, got \(audio)")
        }
        guard SimulatedCarrierKind(rawValue: carrier) != nil else {
            throw ValidationError("--carrier must be one of \(SimulatedCarrierKind.allCases.map(\.rawValue).joined(separator: ", ")), got \(carrier)")
        }
        do {
            _ = try makeScript()
        } catch let error as CallScriptError {
            throw ValidationError(error.description)
        }
        for path in [callerWav].compactMap({ $0 }) + speak.compactMap({ try? CallScript.parseSpeak($0).path }) {
            guard FileManager.default.isReadableFile(atPath: path) else { throw ValidationError("cannot read \(path): no such file, or not readable") }
        }
        _ = try Self.telnyxKey(telnyxSigningKey ?? ProcessInfo.processInfo.environment["TELNYX_SIGNING_KEY"])
    }

    func makeScript() throws -> CallScript {
        CallScript(
            dtmf: try dtmf.map(CallScript.parseDTMF) ?? [],
            dtmfInBand: dtmfInband,
            speak: try speak.map(CallScript.parseSpeak),
            hangupAtMs: hangupAt.map { Int(($0 * 1000).rounded()) },
            maxDurationMs: Int((maxDuration * 1000).rounded()),
            raw: try send.map(CallScript.parseRaw),
            say: try say.map(CallScript.parseSay)
        )
    }

    func run() async throws {
        let script = try makeScript()
        let level = Logger.Level(rawValue: logLevel) ?? .warning
        var logger = Logger(label: "voicebridge.call")
        logger.logLevel = level
        let carrierKind = SimulatedCarrierKind(rawValue: carrier) ?? .twilio
        let token = authToken ?? carrierKind.signingSecretEnvironment.flatMap { ProcessInfo.processInfo.environment[$0] }
        let telnyxKey = try Self.telnyxKey(telnyxSigningKey ?? ProcessInfo.processInfo.environment["TELNYX_SIGNING_KEY"])
        var configuration = PhoneSimulator.Configuration(
            webhookURL: url, authToken: token?.isEmpty == false ? token : nil, from: from, to: to,
            script: script, callerWAV: callerWav, carrier: carrierKind,
            telnyxSigningKey: telnyxKey, accountID: accountId)
        configuration.directFormat = audio.flatMap(Self.format(named:)) ?? carrierKind.defaultDirectFormat
        var telnyxAPI: TelnyxCallControlAPI?
        if carrierKind == .telnyxCallControl {
            let key = telnyxApiKey ?? ProcessInfo.processInfo.environment["TELNYX_API_KEY"]
            let api = TelnyxCallControlAPI(apiKey: key?.isEmpty == false ? key : nil)
            do {
                _ = try await api.start(port: telnyxApiPort)
            } catch {
                throw CommandFailure("the Telnyx Call Control API cannot listen on 127.0.0.1:\(telnyxApiPort): \(error)")
            }
            print("Telnyx Call Control API on \(api.baseURL ?? "?") (serve needs TELNYX_API_URL set to it)")
            configuration.telnyxAPI = api
            telnyxAPI = api
        }
        defer { if let telnyxAPI { Task { try? await telnyxAPI.stop() } } }
        let simulator = try PhoneSimulator(configuration: configuration, logger: logger)
        // A call holds a webhook socket briefly and its media socket for the whole call.
        let limit = OpenFileLimit.raise(toAtLeast: calls * 2 + 64)
        if limit >= 0, limit < calls + 64 {
            print("warning: only \(limit) open files allowed; \(calls) calls may fail (raise ulimit -n)")
        }
        let report = try await simulator.run(
            calls: calls, rampSeconds: ramp, threads: threads, recordHeardCalls: out == nil ? 0 : 1)
        if let timeline { try SimulationOutput.writeTimeline(report, to: timeline) }
        if let out { try SimulationOutput.writeHeard(report, to: out) }
        print(report.summaryLine)
        if out != nil, let call = report.calls.first(where: { $0.heard != nil }), let heard = call.heard {
            let wideband = HeardAudio.aboveNarrowbandDB(heard, format: call.heardFormat).map { String(format: ", %.1f dB of it above 4 kHz", $0) } ?? ""
            print("  heard: \(call.heardFormat)\(wideband)")
        }
        for t in report.timelines.filter({ !$0.passed }).prefix(20) {
            let refusal = t.refusedByServer ? t.close.map { "the server closed the stream with \($0.code ?? 0): \($0.reason ?? "")" } : nil
            let why = t.error ?? t.violations.first.map { "\($0.message) at \($0.atMs) ms" } ?? refusal ?? t.endReason.rawValue
            print("  \(t.callSid): \(why)\(t.violationCount > 1 ? " (+\(t.violationCount - 1) more)" : "")")
        }
        if !report.passed { throw ExitCode(1) }
    }

    /// `--audio` in Asterisk's spelling or the configuration's.
    static func format(named name: String) -> MediaFormat? {
        AsteriskDialect.format(named: name) ?? MediaFormat(settingName: name)
    }

    /// The Telnyx signing key from its base64 seed; nil when none is set.
    static func telnyxKey(_ base64: String?) throws -> Ed25519.PrivateKey? {
        guard let base64, !base64.isEmpty else { return nil }
        guard let seed = Data(base64Encoded: base64), let key = Ed25519.PrivateKey(seed: Array(seed)) else {
            throw ValidationError("the Telnyx signing key must be base64 of a 32-byte Ed25519 seed")
        }
        return key
    }
}
