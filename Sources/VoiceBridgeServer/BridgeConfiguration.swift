import Foundation
import VoiceBridgeCarriers
import VoiceBridgeRelay
import VoiceBridgeSpeech
import Yams

/// Everything `voicebridge serve` can be told, after the three layers are merged:
/// built-in defaults < `config/voicebridge.yaml` < environment variables < command-line flags.
///
/// Secrets (`twilioAuthToken`, `tokenSecret`, `elevenLabsAPIKey`) never appear in logs;
/// `logSummary` reports them as "set" or "unset".
public struct BridgeConfiguration: Sendable, Equatable {
    // MARK: server
    /// Address to bind. Servers bind every interface by default; put a TLS proxy in front or
    /// set TLS files, because Twilio only speaks `wss://`.
    public var host = "0.0.0.0"
    public var port = 8080
    /// The URL Twilio uses to reach this server (`https://voice.example.com`). Signatures are
    /// checked against it, never against the Host header, and stream URLs are built from it.
    /// nil: `http://127.0.0.1:PORT` for local use (a warning is logged).
    public var publicURL: String?
    /// After SIGTERM: how long live calls run on (their flows may end them) before the goodbye.
    public var drainSeconds: Double = 10
    /// `server.drain_goodbye`: said to each call still live when the drain time is up, before it
    /// hangs up; "" hangs up without a word.
    public var drainGoodbye = "We are sorry, we have to end this call now. Please call again. Goodbye."
    /// `server.drain_goodbye_seconds`: how long the goodbye may take before the socket is closed
    /// anyway (1001).
    public var drainGoodbyeSeconds: Double = 10
    /// Event-loop threads that carry calls. nil: one per CPU this process may use (its affinity
    /// mask and cgroup quota, `CPUBudget`), so `taskset -c 0,1` gives two loops.
    public var eventLoops: Int?
    /// Connections the kernel queues before they are accepted: a burst of calls ramping up
    /// opens two connections each (capped by net.core.somaxconn).
    public var listenBacklog = 4096

    // MARK: TLS (optional; plain ws:// on loopback or behind a TLS proxy otherwise)
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?

    // MARK: Twilio
    /// Webhooks are signature-checked whenever this is set.
    public var twilioAuthToken: String?
    /// When set, a stream whose `start.accountSid` differs is closed (1008).
    public var twilioAccountSid: String?
    /// What a bad `X-Twilio-Signature` on the WebSocket upgrade does.
    public var signatureMode: SignatureMode = .enforce

    // MARK: media sockets
    /// Lifetime of the one-time token in the stream URL: Twilio connects within a second or two.
    public var tokenTTLSeconds = 60
    /// HMAC key for stream tokens. nil: 32 random bytes per process (fine for one instance).
    public var tokenSecret: String?
    /// Largest inbound WebSocket message; bigger frames are refused before buffering (1009).
    public var maxMessageBytes = 64 * 1024
    /// A socket that stays unwritable this long (the peer stopped reading) is closed.
    public var writeStallSeconds: Double = 5
    /// A media socket that has not sent `start` this long after the upgrade is closed (1008).
    public var startTimeoutSeconds: Double = 10
    /// New media sockets beyond this many live calls are refused (503 at upgrade).
    public var maxConcurrentCalls = 5000

    // MARK: webhook parameters handed to the call as flow variables
    public var webhookParameterTTLSeconds = 300
    public var maxRememberedCalls = 10_000

    // MARK: pacing, barge-in, speech detection (passed to the Call)
    public var frameMs = 20
    public var leadMs = 60
    public var bargeInMinSpeechMs = 200
    public var bargeInEchoGuardMs = 150
    /// `energy` (the detector's onset) or `words` (speech-to-text must hear `barge_in.min_words`).
    public var bargeInEvidence = "energy"
    public var bargeInMinWords = 2
    public var bargeInIgnoreBackchannel = false
    public var speechThresholdDBm0: Double = -35
    public var speechMinSpeechMs = 200
    public var speechHangoverMs = 400
    public var hangUpGraceMs = 3000
    public var setupBufferMs = 5000

    // MARK: recording
    /// Record every call here (JSON Lines + a WAV per direction; docs/recording-format.md).
    /// nil: calls are not recorded.
    public var recordDirectory: String?

    // MARK: voice
    public var voice = "en-us"
    public var model: String?
    public var language = "en"

    // MARK: ElevenLabs (on when a key is set; the offline voice is then the last fallback)
    /// `ELEVENLABS_API_KEY`, `elevenlabs.api_key` (or the older `voice.elevenlabs_api_key`).
    /// Reported only as set/unset.
    public var elevenLabsAPIKey: String?
    /// `https://api.elevenlabs.io`, or an emulator (`ELEVENLABS_BASE_URL`). The WebSocket URL is
    /// derived from it: http → ws, https → wss.
    public var elevenLabsBaseURL = ElevenLabsWebSocketConfiguration.defaultBaseURL
    public var elevenLabsVoiceID = ElevenLabsSpeechRequest.defaultVoiceID
    public var elevenLabsModel = ElevenLabsSpeechRequest.defaultModelID
    /// A preset (speed, balanced, quality, dialogue, narration) or numbers "50,120,200" (50–500).
    public var elevenLabsSchedule = "balanced"
    public var elevenLabsStability: Double?
    public var elevenLabsSimilarityBoost: Double?
    public var elevenLabsStyle: Double?
    public var elevenLabsUseSpeakerBoost: Bool?
    public var elevenLabsSpeed: Double?
    /// PEM file of CAs to trust instead of the system's (an emulator behind a self-made cert).
    public var elevenLabsCAFile: String?
    /// The socket's `inactivity_timeout` in seconds (1–180); nil: the service's 20.
    public var elevenLabsInactivityTimeoutSeconds: Int?
    /// Keep-alive interval; under two thirds of the inactivity timeout.
    public var elevenLabsKeepAliveSeconds: Double = 10
    /// Hear callers with ElevenLabs' realtime speech-to-text (relay `prompt`s) when a key is set.
    public var elevenLabsSpeechToText = true
    public var elevenLabsSpeechToTextModel = "scribe_v2_realtime"
    /// Who ends the caller's segments: `manual` (the bridge's speech detector commits) or `vad`
    /// (the service's voice-activity detection, with the two thresholds below; nil: its defaults).
    public var elevenLabsSpeechToTextCommit = "manual"
    public var elevenLabsSpeechToTextVADSilenceSeconds: Double?
    public var elevenLabsSpeechToTextVADThreshold: Double?
    /// How long a call skips a source that failed on credentials, quota or connection.
    public var elevenLabsBreakerCooldownSeconds: Double = 30
    /// The speech cache's bound (`voice.cache_mb`): finished utterances of every voice, shared by
    /// all calls; 0 turns it off.
    public var speechCacheMB: Int = 64
    /// `voice.cache_dir`: where the speech cache keeps a copy of what it holds, so a restart is
    /// warm (bounded by `cache_mb` too); nil keeps it in memory only.
    public var speechCacheDirectory: String?
    /// `elevenlabs.text_lead_ms`: how far ahead of the caller's ear a known prompt's sentences
    /// are sent; 0 sends the whole text at once.
    public var elevenLabsTextLeadMs: Int = 1500

    // Flows and prompts
    /// config/flows/*.yaml; nil (or a missing directory) runs the built-in demo menu.
    public var flowsDirectory: String? = "config/flows"
    /// The prompt catalogue (`voicebridge prompts build` input): ids and texts for `play:`.
    public var promptCatalogPath: String? = "config/prompts.yaml"
    /// Where `voicebridge prompts build` wrote the prompt files and manifest.
    public var promptDirectory: String? = "build/prompts"

    // MARK: relay (a ConversationRelay app; every call without another flow runs it when url is set)
    /// The app's WebSocket URL (`ws://` or `wss://`), signed exactly as written.
    public var relayURL: String?
    public var relayWelcomeGreeting: String?
    /// `none`, `dtmf`, `speech` or `any` (true/false as any/none), as ConversationRelay's attributes.
    public var relayWelcomeGreetingInterruptible = "any"
    public var relayInterruptible = "any"
    public var relayPreemptible = false
    public var relayReportInputDuringAgentSpeech = "none"
    public var relayDTMFDetection = true
    /// Space-separated: `speaker-events`, `tokens-played`, `x-voicebridge-turns`.
    public var relayEvents = "speaker-events tokens-played"
    public var relayCustomParameters: [String: String] = [:]
    public var relayLanguage = "en-US"
    /// After the app's `end` (or a failed session): `hangup` or `redirect`.
    public var relayEndAction = "hangup"
    /// `relay.failure_message`: said before a failed session hangs up; "" says nothing.
    public var relayFailureMessage = "We are sorry, we cannot continue this call right now. Please call again later. Goodbye."
    /// The secret that signs the app connection (`X-Twilio-Signature`); nil: the Twilio auth token.
    public var relayAuthToken: String?
    public var relayConnectTimeoutMs = 5000
    /// `partialPrompts`: interim `prompt{last:false}` while the caller talks.
    public var relayPartialPrompts = false
    /// `hints`: comma-separated words to listen for.
    public var relayHints = ""
    /// `transcriptionLanguage`; nil: `relay.language`.
    public var relayTranscriptionLanguage: String?
    /// `interruptSensitivity`: high (the detector), medium (a word), low (two words); "" keeps barge_in.
    public var relayInterruptSensitivity = ""
    public var relayIgnoreBackchannel = false
    /// `speechTimeout`: the caller's silence (ms) that ends a turn; 0 keeps the speech detector's.
    public var relaySpeechTimeoutMs = 0

    // MARK: control API (off unless a token is set)
    /// Bearer token for `/calls` (`VOICEBRIDGE_CONTROL_TOKEN`). Reported only as set/unset.
    public var controlToken: String?

    // MARK: Other carriers
    /// Each carrier's own settings, by section (`telnyx:`) and key, as its registration declares
    /// them (`CarrierSettingsSpec`); secrets come from the environment.
    public var carrierSettings: [String: [String: String]] = [:]

    public enum SignatureMode: String, Sendable, Equatable, CaseIterable {
        /// Refuse the upgrade (403).
        case enforce
        /// Accept, but log a warning: for proxies that rewrite URLs while the spelling is checked.
        case log
    }

    public init() {}

    /// The default config file, relative to the working directory.
    public static let defaultConfigPath = "config/voicebridge.yaml"
}

/// A configuration value that could not be used; the message names the key and the source.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension BridgeConfiguration {
    /// Defaults, then the YAML file at `path` (if given; `defaultConfigPath` if it exists when
    /// nil), then `environment`.
    public static func load(
        path: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationError) -> BridgeConfiguration {
        var configuration = BridgeConfiguration()
        let file = path ?? (FileManager.default.fileExists(atPath: defaultConfigPath) ? defaultConfigPath : nil)
        if let file {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw ConfigurationError("cannot read config file \(file): \(error.localizedDescription)")
            }
            try configuration.apply(yaml: text, source: file)
        }
        try configuration.apply(environment: environment)
        return configuration
    }

    /// Yams' rules, except that base-60 integers (`1:30:00`) stay strings: Yams reads them with
    /// trapping arithmetic, so an out-of-range one would stop the process (see `YAMLInteger`).
    static var resolver: Resolver { try! Resolver.default.replacing(.int, with: YAMLInteger.resolverPattern) }  // a constant pattern

    /// Overlays the keys present in a YAML document. Unknown keys are errors, so a typo does not
    /// silently fall back to a default.
    public mutating func apply(yaml: String, source: String = "yaml") throws(ConfigurationError) {
        if let problem = YAMLNesting.problem(in: yaml) {
            throw ConfigurationError("\(source): not accepted: \(problem)")
        }
        let root: Any?
        do {
            root = try Yams.load(yaml: yaml, Self.resolver)
        } catch {
            throw ConfigurationError("\(source): not valid YAML: \(error)")
        }
        guard let root else { return }
        guard let sections = root as? [String: Any] else {
            throw ConfigurationError("\(source): the top level must be a mapping of sections")
        }
        // Every problem in the file at once, each at its line, in file order.
        let lines = Self.keyLines(yaml)
        var problems: [(line: Int, message: String)] = []
        func problem(_ error: ConfigurationError, at name: String) {
            let line = lines[name] ?? 0
            var message = error.description
            if line > 0, message.hasPrefix(source + ": ") { message = "\(source):\(line): " + message.dropFirst(source.count + 2) }
            problems.append((line, message))
        }
        var reader = YAMLSectionReader(source: source)
        for (section, value) in sections {
            guard let keys = value as? [String: Any] else {
                if value is NSNull { continue }
                problem(ConfigurationError("\(source): section \(section) must be a mapping"), at: section)
                continue
            }
            reader.section = section
            for (key, value) in keys {
                do {
                    try apply(section: section, key: key, value: value, reader: reader)
                } catch {
                    problem(error, at: section + "." + key)
                }
            }
        }
        if !problems.isEmpty {
            throw ConfigurationError(problems.sorted { $0.line < $1.line }.map(\.message).joined(separator: "\n"))
        }
    }

    /// The line of each section and `section.key` in a YAML document (1-based), for messages.
    private static func keyLines(_ yaml: String) -> [String: Int] {
        guard let root = try? Yams.compose(yaml: yaml), let sections = root.mapping else { return [:] }
        var lines: [String: Int] = [:]
        for (sectionNode, value) in sections {
            guard let section = sectionNode.string else { continue }
            lines[section] = sectionNode.mark?.line
            for (keyNode, _) in value.mapping ?? [:] {
                if let key = keyNode.string { lines[section + "." + key] = keyNode.mark?.line }
            }
        }
        return lines
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    private mutating func apply(section: String, key: String, value: Any, reader: YAMLSectionReader) throws(ConfigurationError) {
        switch (section, key) {
        case ("server", "host"): host = try reader.string(key, value)
        case ("server", "port"): port = try reader.port(key, value)
        case ("server", "public_url"): publicURL = try reader.optionalString(key, value)
        case ("server", "drain_seconds"): drainSeconds = try reader.nonNegativeDouble(key, value)
        case ("server", "drain_goodbye"): drainGoodbye = try reader.string(key, value)
        case ("server", "drain_goodbye_seconds"): drainGoodbyeSeconds = try reader.nonNegativeDouble(key, value)
        case ("server", "listen_backlog"): listenBacklog = try reader.positiveInt(key, value)
        case ("server", "event_loops"):
            let n = try reader.nonNegativeInt(key, value)
            eventLoops = n == 0 ? nil : n
        case ("tls", "certificate_path"): tlsCertificatePath = try reader.optionalString(key, value)
        case ("tls", "key_path"): tlsKeyPath = try reader.optionalString(key, value)
        case ("twilio", "auth_token"): twilioAuthToken = try reader.optionalString(key, value)
        case ("twilio", "account_sid"): twilioAccountSid = try reader.optionalString(key, value)
        case ("twilio", "signature_mode"): signatureMode = try reader.signatureMode(key, value)
        case ("media", "token_ttl_seconds"): tokenTTLSeconds = try reader.positiveInt(key, value)
        case ("media", "token_secret"): tokenSecret = try reader.optionalString(key, value)
        case ("media", "max_message_bytes"): maxMessageBytes = try reader.positiveInt(key, value)
        case ("media", "write_stall_seconds"): writeStallSeconds = try reader.nonNegativeDouble(key, value)
        case ("media", "start_timeout_seconds"): startTimeoutSeconds = try reader.nonNegativeDouble(key, value)
        case ("media", "max_concurrent_calls"): maxConcurrentCalls = try reader.positiveInt(key, value)
        case ("webhook", "parameter_ttl_seconds"): webhookParameterTTLSeconds = try reader.positiveInt(key, value)
        case ("webhook", "max_remembered_calls"): maxRememberedCalls = try reader.positiveInt(key, value)
        case ("pacing", "frame_ms"): frameMs = try reader.positiveInt(key, value)
        case ("pacing", "lead_ms"): leadMs = try reader.nonNegativeInt(key, value)
        case ("barge_in", "min_speech_ms"): bargeInMinSpeechMs = try reader.nonNegativeInt(key, value)
        case ("barge_in", "echo_guard_ms"): bargeInEchoGuardMs = try reader.nonNegativeInt(key, value)
        case ("barge_in", "evidence"): bargeInEvidence = try reader.oneOf(key, value, ["energy", "words"])
        case ("barge_in", "min_words"): bargeInMinWords = try reader.positiveInt(key, value)
        case ("barge_in", "ignore_backchannel"): bargeInIgnoreBackchannel = try reader.optionalBool(key, value) ?? false
        case ("speech_detector", "threshold_dbm0"): speechThresholdDBm0 = try reader.double(key, value)
        case ("speech_detector", "min_speech_ms"): speechMinSpeechMs = try reader.nonNegativeInt(key, value)
        case ("speech_detector", "hangover_ms"): speechHangoverMs = try reader.nonNegativeInt(key, value)
        case ("call", "hang_up_grace_ms"): hangUpGraceMs = try reader.nonNegativeInt(key, value)
        case ("call", "setup_buffer_ms"): setupBufferMs = try reader.nonNegativeInt(key, value)
        case ("recording", "directory"): recordDirectory = try reader.optionalString(key, value)
        case ("voice", "name"): voice = try reader.string(key, value)
        case ("voice", "model"): model = try reader.optionalString(key, value)
        case ("voice", "language"): language = try reader.string(key, value)
        case ("voice", "cache_mb"): speechCacheMB = try reader.nonNegativeInt(key, value)
        case ("voice", "cache_dir"): speechCacheDirectory = try reader.optionalString(key, value)
        case ("voice", "elevenlabs_api_key"), ("elevenlabs", "api_key"):
            if let v = try reader.optionalString(key, value) { elevenLabsAPIKey = v }
        case ("elevenlabs", "base_url"): elevenLabsBaseURL = try reader.optionalString(key, value) ?? ElevenLabsWebSocketConfiguration.defaultBaseURL
        case ("elevenlabs", "voice_id"): elevenLabsVoiceID = try reader.string(key, value)
        case ("elevenlabs", "model"): elevenLabsModel = try reader.string(key, value)
        case ("elevenlabs", "schedule"): elevenLabsSchedule = try reader.schedule(key, value)
        case ("elevenlabs", "stability"): elevenLabsStability = try reader.optionalUnit(key, value)
        case ("elevenlabs", "similarity_boost"): elevenLabsSimilarityBoost = try reader.optionalUnit(key, value)
        case ("elevenlabs", "style"): elevenLabsStyle = try reader.optionalUnit(key, value)
        case ("elevenlabs", "use_speaker_boost"): elevenLabsUseSpeakerBoost = try reader.optionalBool(key, value)
        case ("elevenlabs", "speed"):
            elevenLabsSpeed = try reader.optionalDouble(key, value)
            if let v = elevenLabsSpeed, !(0.7...1.2).contains(v) {
                throw ConfigurationError("\(reader.source): elevenlabs.speed must be within 0.7...1.2, got \(v)")
            }
        case ("elevenlabs", "ca_file"): elevenLabsCAFile = try reader.optionalString(key, value)
        case ("elevenlabs", "inactivity_timeout"):
            if let seconds = try reader.optionalDouble(key, value) {
                guard (1...180).contains(seconds) else {
                    throw ConfigurationError("\(reader.source): elevenlabs.inactivity_timeout must be within 1...180 seconds, got \(seconds)")
                }
                elevenLabsInactivityTimeoutSeconds = Int(seconds)
            } else {
                elevenLabsInactivityTimeoutSeconds = nil
            }
        case ("elevenlabs", "text_lead_ms"): elevenLabsTextLeadMs = try reader.nonNegativeInt(key, value)
        case ("elevenlabs", "keep_alive_seconds"): elevenLabsKeepAliveSeconds = try reader.nonNegativeDouble(key, value)
        case ("elevenlabs", "speech_to_text"): elevenLabsSpeechToText = try reader.optionalBool(key, value) ?? false
        case ("elevenlabs", "speech_to_text_model"): elevenLabsSpeechToTextModel = try reader.string(key, value)
        case ("elevenlabs", "speech_to_text_commit"): elevenLabsSpeechToTextCommit = try reader.oneOf(key, value, ["manual", "vad"])
        case ("elevenlabs", "speech_to_text_vad_silence_seconds"):
            elevenLabsSpeechToTextVADSilenceSeconds = try reader.optionalDouble(key, value)
            if let v = elevenLabsSpeechToTextVADSilenceSeconds, !(0.3...3.0).contains(v) {
                throw ConfigurationError("elevenlabs.speech_to_text_vad_silence_seconds: \(v) is outside 0.3...3.0")
            }
        case ("elevenlabs", "speech_to_text_vad_threshold"):
            elevenLabsSpeechToTextVADThreshold = try reader.optionalDouble(key, value)
            if let v = elevenLabsSpeechToTextVADThreshold, !(0.1...0.9).contains(v) {
                throw ConfigurationError("elevenlabs.speech_to_text_vad_threshold: \(v) is outside 0.1...0.9")
            }
        case ("elevenlabs", "breaker_cooldown_seconds"): elevenLabsBreakerCooldownSeconds = try reader.nonNegativeDouble(key, value)
        case ("flows", "dir"): flowsDirectory = try reader.optionalString(key, value)
        case ("prompts", "catalog"): promptCatalogPath = try reader.optionalString(key, value)
        case ("prompts", "dir"): promptDirectory = try reader.optionalString(key, value)
        case ("relay", "url"): relayURL = try reader.optionalString(key, value)
        case ("relay", "welcome_greeting"): relayWelcomeGreeting = try reader.optionalString(key, value)
        case ("relay", "welcome_greeting_interruptible"): relayWelcomeGreetingInterruptible = try reader.interruptible(key, value)
        case ("relay", "interruptible"): relayInterruptible = try reader.interruptible(key, value)
        case ("relay", "preemptible"): relayPreemptible = try reader.optionalBool(key, value) ?? false
        case ("relay", "report_input_during_agent_speech"): relayReportInputDuringAgentSpeech = try reader.interruptible(key, value)
        case ("relay", "dtmf_detection"): relayDTMFDetection = try reader.optionalBool(key, value) ?? false
        case ("relay", "events"): relayEvents = try reader.optionalString(key, value) ?? ""
        case ("relay", "custom_parameters"): relayCustomParameters = try reader.stringMap(key, value)
        case ("relay", "language"): relayLanguage = try reader.string(key, value)
        case ("relay", "end_action"): relayEndAction = try reader.oneOf(key, value, RelayEndAction.allCases.map(\.rawValue))
        case ("relay", "failure_message"): relayFailureMessage = try reader.string(key, value)
        case ("relay", "auth_token"): relayAuthToken = try reader.optionalString(key, value)
        case ("relay", "connect_timeout_ms"): relayConnectTimeoutMs = try reader.positiveInt(key, value)
        case ("relay", "partial_prompts"): relayPartialPrompts = try reader.optionalBool(key, value) ?? false
        case ("relay", "hints"): relayHints = try reader.optionalString(key, value) ?? ""
        case ("relay", "transcription_language"): relayTranscriptionLanguage = try reader.optionalString(key, value)
        case ("relay", "interrupt_sensitivity"):
            relayInterruptSensitivity = try reader.oneOf(key, value, ["", "high", "medium", "low"])
        case ("relay", "ignore_backchannel"): relayIgnoreBackchannel = try reader.optionalBool(key, value) ?? false
        case ("relay", "speech_timeout_ms"):
            relaySpeechTimeoutMs = try reader.nonNegativeInt(key, value)
            guard relaySpeechTimeoutMs == 0 || (100...10_000).contains(relaySpeechTimeoutMs) else {
                throw ConfigurationError("relay.speech_timeout_ms: \(relaySpeechTimeoutMs) is outside 100...10000 (0 keeps speech_detector.hangover_ms)")
            }
        case ("control", "token"): controlToken = try reader.optionalString(key, value)
        default:
            // A carrier's own section (`telnyx:`, …), with the keys its registration declares.
            guard let spec = CarrierRegistry.settings(forSection: section), spec.keys.contains(key) else {
                throw ConfigurationError("\(reader.source): unknown key \(section).\(key)")
            }
            // Empty means unset, as for every other optional string.
            if let text = try reader.optionalString(key, value) {
                carrierSettings[section, default: [:]][key] = text
            } else {
                carrierSettings[section]?[key] = nil
                if carrierSettings[section]?.isEmpty == true { carrierSettings[section] = nil }
            }
        }
    }

    /// The environment variables `serve` reads, and what each overrides.
    public static var environmentVariables: [(name: String, meaning: String)] {
        coreEnvironmentVariables + CarrierRegistry.all.compactMap(\.settings).flatMap { spec in
            spec.environment.map { (name: $0.name, meaning: "\(spec.section).\($0.key)") }
        }
    }

    private static let coreEnvironmentVariables: [(name: String, meaning: String)] = [
        ("PUBLIC_URL", "server.public_url"),
        ("TWILIO_AUTH_TOKEN", "twilio.auth_token"),
        ("TWILIO_ACCOUNT_SID", "twilio.account_sid"),
        ("ELEVENLABS_API_KEY", "elevenlabs.api_key"),
        ("ELEVENLABS_BASE_URL", "elevenlabs.base_url"),
        ("ELEVENLABS_VOICE_ID", "elevenlabs.voice_id"),
        ("ELEVENLABS_MODEL", "elevenlabs.model"),
        ("ELEVENLABS_CA_FILE", "elevenlabs.ca_file (ELEVENLABS_CA_BUNDLE too)"),
        ("VOICEBRIDGE_HOST", "server.host"),
        ("VOICEBRIDGE_PORT", "server.port"),
        ("VOICEBRIDGE_DRAIN_SECONDS", "server.drain_seconds"),
        ("VOICEBRIDGE_EVENT_LOOPS", "server.event_loops"),
        ("VOICEBRIDGE_SIGNATURE_MODE", "twilio.signature_mode"),
        ("VOICEBRIDGE_TOKEN_SECRET", "media.token_secret"),
        ("VOICEBRIDGE_TOKEN_TTL_SECONDS", "media.token_ttl_seconds"),
        ("VOICEBRIDGE_TLS_CERT", "tls.certificate_path"),
        ("VOICEBRIDGE_TLS_KEY", "tls.key_path"),
        ("VOICEBRIDGE_LEAD_MS", "pacing.lead_ms"),
        ("VOICEBRIDGE_FLOWS_DIR", "flows.dir"),
        ("VOICEBRIDGE_PROMPTS_DIR", "prompts.dir"),
        ("VOICEBRIDGE_RELAY_URL", "relay.url"),
        ("VOICEBRIDGE_RELAY_AUTH_TOKEN", "relay.auth_token"),
        ("VOICEBRIDGE_CONTROL_TOKEN", "control.token"),
        ("VOICEBRIDGE_RECORD_DIR", "recording.directory"),
        ("VOICEBRIDGE_SPEECH_CACHE_DIR", "voice.cache_dir"),
    ]

    /// Overlays environment variables. Empty values count as unset.
    public mutating func apply(environment: [String: String]) throws(ConfigurationError) {
        func value(_ name: String) -> String? {
            guard let v = environment[name]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
            return v
        }
        func int(_ name: String, minimum: Int) throws(ConfigurationError) -> Int? {
            guard let text = value(name) else { return nil }
            guard let n = Int(text), n >= minimum else {
                throw ConfigurationError("environment \(name)=\(text): expected an integer >= \(minimum)")
            }
            return n
        }
        if let v = value("PUBLIC_URL") { publicURL = v }
        if let v = value("TWILIO_AUTH_TOKEN") { twilioAuthToken = v }
        if let v = value("TWILIO_ACCOUNT_SID") { twilioAccountSid = v }
        if let v = value("ELEVENLABS_API_KEY") { elevenLabsAPIKey = v }
        if let v = value("ELEVENLABS_BASE_URL") { elevenLabsBaseURL = v }
        if let v = value("ELEVENLABS_VOICE_ID") { elevenLabsVoiceID = v }
        if let v = value("ELEVENLABS_MODEL") { elevenLabsModel = v }
        if let v = value("ELEVENLABS_CA_FILE") ?? value("ELEVENLABS_CA_BUNDLE") { elevenLabsCAFile = v }
        if let v = value("VOICEBRIDGE_HOST") { host = v }
        if let v = try int("VOICEBRIDGE_PORT", minimum: 0) {
            guard v <= 65535 else { throw ConfigurationError("environment VOICEBRIDGE_PORT=\(v): not a port") }
            port = v
        }
        if let text = value("VOICEBRIDGE_DRAIN_SECONDS") {
            guard let v = Double(text), v >= 0 else {
                throw ConfigurationError("environment VOICEBRIDGE_DRAIN_SECONDS=\(text): expected seconds >= 0")
            }
            drainSeconds = v
        }
        if let text = value("VOICEBRIDGE_SIGNATURE_MODE") {
            guard let mode = SignatureMode(rawValue: text.lowercased()) else {
                throw ConfigurationError("environment VOICEBRIDGE_SIGNATURE_MODE=\(text): expected enforce or log")
            }
            signatureMode = mode
        }
        if let v = value("VOICEBRIDGE_TOKEN_SECRET") { tokenSecret = v }
        if let v = try int("VOICEBRIDGE_TOKEN_TTL_SECONDS", minimum: 1) { tokenTTLSeconds = v }
        if let v = value("VOICEBRIDGE_TLS_CERT") { tlsCertificatePath = v }
        if let v = value("VOICEBRIDGE_TLS_KEY") { tlsKeyPath = v }
        if let v = try int("VOICEBRIDGE_LEAD_MS", minimum: 0) { leadMs = v }
        if let v = try int("VOICEBRIDGE_EVENT_LOOPS", minimum: 0) { eventLoops = v == 0 ? nil : v }
        if let v = value("VOICEBRIDGE_FLOWS_DIR") { flowsDirectory = v }
        if let v = value("VOICEBRIDGE_PROMPTS_DIR") { promptDirectory = v }
        if let v = value("VOICEBRIDGE_RELAY_URL") { relayURL = v }
        if let v = value("VOICEBRIDGE_RELAY_AUTH_TOKEN") { relayAuthToken = v }
        if let v = value("VOICEBRIDGE_CONTROL_TOKEN") { controlToken = v }
        if let v = value("VOICEBRIDGE_RECORD_DIR") { recordDirectory = v }
        if let v = value("VOICEBRIDGE_SPEECH_CACHE_DIR") { speechCacheDirectory = v }
        for spec in CarrierRegistry.all.compactMap(\.settings) {
            for variable in spec.environment {
                if let v = value(variable.name) { carrierSettings[spec.section, default: [:]][variable.key] = v }
            }
        }
    }

    /// Checks the combination of values, after all layers are applied.
    public func validated() throws(ConfigurationError) -> BridgeConfiguration {
        if (tlsCertificatePath == nil) != (tlsKeyPath == nil) {
            throw ConfigurationError("TLS needs both tls.certificate_path and tls.key_path (or neither)")
        }
        if let publicURL {
            do throws(ConfigurationError) {
                _ = try PublicURL(parsing: publicURL)
            } catch {
                throw ConfigurationError("server.public_url / PUBLIC_URL: \(error.description)")
            }
        }
        if frameMs <= 0 || leadMs < 0 { throw ConfigurationError("pacing: frame_ms must be > 0 and lead_ms >= 0") }
        try validateCarrierAudio()
        _ = try elevenLabsChunkSchedule()
        _ = try elevenLabsWebSocketConfiguration()
        if let relayURL {
            do throws(RelayConnectError) {
                _ = try RelayURL(parsing: relayURL)
            } catch {
                throw ConfigurationError("relay.url / VOICEBRIDGE_RELAY_URL: \(error.description)")
            }
        }
        if let controlToken, controlToken.utf8.count < 16 {
            throw ConfigurationError("control.token / VOICEBRIDGE_CONTROL_TOKEN needs at least 16 characters")
        }
        if let tokenSecret, tokenSecret.utf8.count < 16 {
            throw ConfigurationError("media.token_secret / VOICEBRIDGE_TOKEN_SECRET needs at least 16 bytes")
        }
        for (section, values) in carrierSettings.sorted(by: { $0.key < $1.key }) {
            for (key, value) in values.sorted(by: { $0.key < $1.key }) where key.hasSuffix("_url") {
                guard value.hasPrefix("http://") || value.hasPrefix("https://"), value.count > "https://".count else {
                    throw ConfigurationError("\(section).\(key): expected an http:// or https:// URL, got \(value)")
                }
            }
        }
        return self
    }

    /// One line per setting for the startup log. Secrets are reduced to "set" / "unset".
    public var logSummary: [String: String] {
        func secret(_ value: String?) -> String { value == nil ? "unset" : "set" }
        return [
            "host": host,
            "port": String(port),
            "eventLoops": eventLoops.map(String.init) ?? "auto",
            "publicURL": publicURL ?? "unset (derived for local use)",
            "tls": tlsCertificatePath == nil ? "off" : "on",
            "signatureMode": signatureMode.rawValue,
            "twilioAuthToken": secret(twilioAuthToken),
            "twilioAccountSid": twilioAccountSid ?? "any",
            "tokenSecret": tokenSecret == nil ? "generated per process" : "set",
            "elevenLabsAPIKey": secret(elevenLabsAPIKey),
            "speech": elevenLabsAPIKey == nil
                ? "offline voice \(voice)"
                : "ElevenLabs WebSocket → HTTP → offline voice (\(elevenLabsBaseURL), voice \(elevenLabsVoiceID), model \(elevenLabsModel), schedule \(elevenLabsSchedule))",
            "tokenTTLSeconds": String(tokenTTLSeconds),
            "leadMs": String(leadMs),
            "bargeIn": "minSpeech \(bargeInMinSpeechMs) ms, echoGuard \(bargeInEchoGuardMs) ms, evidence \(bargeInEvidence)",
            "drainSeconds": String(drainSeconds),
            "speechCache": speechCacheMB == 0 ? "off" : "\(speechCacheMB) MiB" + (speechCacheDirectory.map { ", on disk in \($0)" } ?? ""),
            "relay": relayURL ?? "off",
            "controlAPI": controlToken == nil ? "off" : "on (bearer token set)",
            "recording": recordDirectory ?? "off",
        ].merging(carrierSummary) { first, _ in first }
    }

    /// `telnyx.public_key: set`, … for each carrier setting; secrets only say whether they are set.
    private var carrierSummary: [String: String] {
        var summary: [String: String] = [:]
        for spec in CarrierRegistry.all.compactMap(\.settings) {
            for key in spec.keys.sorted() {
                let value = carrierSettings[spec.section]?[key]
                summary["\(spec.section).\(key)"] = spec.secrets.contains(key) ? (value == nil ? "unset" : "set") : (value ?? "unset")
            }
        }
        return summary
    }

    /// Every secret value configured for a carrier, for redaction.
    public var carrierSecrets: [String] {
        CarrierRegistry.all.compactMap(\.settings).flatMap { spec in
            spec.secrets.compactMap { carrierSettings[spec.section]?[$0] }
        }
    }
}

/// Typed access to YAML scalars with error messages that name `section.key` and the file.
private struct YAMLSectionReader {
    let source: String
    var section = ""

    init(source: String) { self.source = source }

    private func fail(_ key: String, _ expected: String, _ value: Any) -> ConfigurationError {
        ConfigurationError("\(source): \(section).\(key) must be \(expected), got \(value)")
    }

    func string(_ key: String, _ value: Any) throws(ConfigurationError) -> String {
        if let s = value as? String { return s }
        if let n = value as? Int { return String(n) }
        throw fail(key, "a string", value)
    }

    /// Empty strings and nulls mean "unset".
    func optionalString(_ key: String, _ value: Any) throws(ConfigurationError) -> String? {
        if value is NSNull { return nil }
        let s = try string(key, value)
        return s.isEmpty ? nil : s
    }

    /// No setting comes near a billion (ms, seconds, bytes, counts); a larger number would
    /// overflow its conversion to a `Duration` or to nanoseconds and stop the process.
    static let largest = 1_000_000_000

    func int(_ key: String, _ value: Any) throws(ConfigurationError) -> Int {
        let n: Int
        if let v = value as? Int { n = v } else if let s = value as? String, let v = Int(s) { n = v } else { throw fail(key, "an integer", value) }
        guard abs(n) <= Self.largest else { throw fail(key, "an integer within ±1e9", value) }
        return n
    }

    func positiveInt(_ key: String, _ value: Any) throws(ConfigurationError) -> Int {
        let n = try int(key, value)
        guard n > 0 else { throw fail(key, "an integer > 0", value) }
        return n
    }

    func nonNegativeInt(_ key: String, _ value: Any) throws(ConfigurationError) -> Int {
        let n = try int(key, value)
        guard n >= 0 else { throw fail(key, "an integer >= 0", value) }
        return n
    }

    func port(_ key: String, _ value: Any) throws(ConfigurationError) -> Int {
        let n = try int(key, value)
        guard (0...65535).contains(n) else { throw fail(key, "a port (0-65535)", value) }
        return n
    }

    func double(_ key: String, _ value: Any) throws(ConfigurationError) -> Double {
        let d: Double
        if let v = value as? Double { d = v } else if let n = value as? Int { d = Double(n) } else if let s = value as? String, let v = Double(s) { d = v } else {
            throw fail(key, "a number", value)
        }
        guard d.isFinite, abs(d) <= Double(Self.largest) else { throw fail(key, "a finite number within ±1e9", value) }
        return d
    }

    func nonNegativeDouble(_ key: String, _ value: Any) throws(ConfigurationError) -> Double {
        let d = try double(key, value)
        guard d >= 0 else { throw fail(key, "a number >= 0", value) }
        return d
    }

    func optionalDouble(_ key: String, _ value: Any) throws(ConfigurationError) -> Double? {
        if value is NSNull { return nil }
        if let s = value as? String, s.isEmpty { return nil }
        return try double(key, value)
    }

    /// A number in 0...1, or unset.
    func optionalUnit(_ key: String, _ value: Any) throws(ConfigurationError) -> Double? {
        guard let d = try optionalDouble(key, value) else { return nil }
        guard (0...1).contains(d) else { throw fail(key, "a number within 0...1", value) }
        return d
    }

    func optionalBool(_ key: String, _ value: Any) throws(ConfigurationError) -> Bool? {
        if value is NSNull { return nil }
        if let b = value as? Bool { return b }
        if let s = value as? String {
            switch s.lowercased() {
            case "": return nil
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: break
            }
        }
        throw fail(key, "true or false", value)
    }

    /// A preset name, or a list of numbers (kept as "50,120,200"; checked when the client is made).
    func schedule(_ key: String, _ value: Any) throws(ConfigurationError) -> String {
        if let list = value as? [Any] {
            var numbers: [String] = []
            for item in list {
                guard let n = item as? Int else { throw fail(key, "a preset name or a list of integers", value) }
                numbers.append(String(n))
            }
            return numbers.joined(separator: ",")
        }
        return try string(key, value)
    }

    /// ConversationRelay's `interruptible` values; YAML booleans mean any/none (the legacy form).
    func interruptible(_ key: String, _ value: Any) throws(ConfigurationError) -> String {
        if let b = value as? Bool { return b ? "any" : "none" }
        return try oneOf(key, value, ["none", "dtmf", "speech", "any"])
    }

    func oneOf(_ key: String, _ value: Any, _ allowed: [String]) throws(ConfigurationError) -> String {
        let s = try string(key, value).lowercased()
        guard allowed.contains(s) else { throw fail(key, "one of \(allowed.joined(separator: ", "))", value) }
        return s
    }

    /// A mapping of names to scalar values, kept as strings.
    func stringMap(_ key: String, _ value: Any) throws(ConfigurationError) -> [String: String] {
        if value is NSNull { return [:] }
        guard let map = value as? [String: Any] else { throw fail(key, "a mapping of names to values", value) }
        var out: [String: String] = [:]
        for (k, v) in map {
            if let s = v as? String { out[k] = s } else if let b = v as? Bool { out[k] = b ? "true" : "false" } else if let n = v as? Int {
                out[k] = String(n)
            } else if let d = v as? Double { out[k] = String(d) } else { throw fail("\(key).\(k)", "a scalar", v) }
        }
        return out
    }

    func signatureMode(_ key: String, _ value: Any) throws(ConfigurationError) -> BridgeConfiguration.SignatureMode {
        let s = try string(key, value)
        guard let mode = BridgeConfiguration.SignatureMode(rawValue: s.lowercased()) else {
            throw fail(key, "enforce or log", value)
        }
        return mode
    }
}
