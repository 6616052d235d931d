import Logging
import NIOCore
import VoiceBridgeCarriers
import VoiceBridgeAudio
import VoiceBridgeCalls
import VoiceBridgeSpeech
import VoiceBridgeRecording
import VoiceBridgeRelay

extension Call: MediaCall {
    public func controlSay(_ text: String, interruptible: Interruptible) -> Bool {
        guard phase == .active || phase == .settingUp else { return false }
        // Unique per call without state of its own: flows ignore ids they did not make.
        play(.text(text), id: "control.say.\(eventLoop.now.uptimeNanoseconds)", interruptible: interruptible)
        return true
    }

    public func controlHangUp() -> Bool {
        guard phase != .ended else { return false }
        hangUp()
        return true
    }

    public func consoleReading(metering: Bool) -> CallConsoleReading? {
        if metering {
            if meter == nil { meter = CallMeter() }
        } else {
            meter = nil
        }
        let levels = meter?.take() ?? (inbound: 0, outbound: 0)
        return CallConsoleReading(
            phase: phase.consoleName, playing: isPlaying, transcribing: isTranscribing, levelIn: levels.inbound, levelOut: levels.outbound)
    }

    public var liveState: LiveCallState? {
        LiveCallState(
            callSid: callID, streamSid: streamID, from: parameters["From"] ?? "", to: parameters["To"] ?? "",
            phase: "\(phase)", playing: isPlaying)
    }
}

/// Picks the flow for one call (by the called number, a relay default, ...).
public typealias CallFlowProvider = @Sendable (MediaCallContext) -> any CallFlow

/// The calls `serve` runs: a flow (the demo menu unless one is given), spoken by the offline
/// voice (espeak-ng) or ElevenLabs.
public enum DemoCalls {
    /// The demo menu, with a beep for its tone option.
    public static let demoFlow: CallFlowProvider = { _ in makeDemoFlow() }

    /// The demo menu as `serve` runs it; `voicebridge replay` builds the same for "demo".
    public static func makeDemoFlow() -> DemoMenuFlow {
        DemoMenuFlow(script: .init(), toneAudio: ToneGenerator.ulaw(ToneGenerator.pcm(.beep, durationMs: 600)))
    }

    /// One speech source for the whole server: `SpeechMemo` synthesises each menu prompt once and
    /// every call plays the same bytes.
    public static func factory(
        configuration: BridgeConfiguration,
        speech: any SpeechSource,
        flow: @escaping CallFlowProvider = demoFlow
    ) -> MediaCallFactory {
        let callConfiguration = configuration.callConfiguration
        return { context, sink in
            makeCall(context: context, sink: sink, configuration: callConfiguration, speech: speech, flow: flow(context))
        }
    }

    /// The one place a served call is put together, so every factory wires it the same way.
    static func makeCall(
        context: MediaCallContext,
        sink: any CarrierSink,
        configuration: CallConfiguration,
        speech: any SpeechSource,
        flow: any CallFlow,
        transcription: (any TranscriberProvider)? = nil
    ) -> Call {
        // Named before it is wrapped: recordings and the console name the flow the call runs.
        let flowName = RecordedFlowName.name(of: flow)
        context.observer.flowChosen(flowName)
        let served: any CallFlow = context.consoleLog.map { log -> any CallFlow in
            log.flowName = flowName
            log.speechSource = ConsoleSpeechSource.label(speech.name)
            return ConsoleFlow(flow, log: log)
        } ?? flow
        if let recorder = context.recorder {
            let parts = RecordedCallParts(
                recorder: recorder, loop: context.eventLoop, flowName: flowName, dialect: context.dialect,
                callSid: context.callSid,
                accountSid: context.accountSid, parameters: context.parameters, configuration: configuration,
                sink: sink, speech: speech, flow: served, observer: context.observer, transcription: transcription,
                relaySession: flow as? RelayFlow)
            return Call(
                eventLoop: context.eventLoop, configuration: configuration, sink: parts.sink, speech: parts.speech,
                flow: parts.flow, parameters: context.parameters, observer: parts.observer, transcription: parts.transcription,
                logger: context.logger)
        }
        return Call(
            eventLoop: context.eventLoop,
            configuration: configuration,
            sink: sink,
            speech: speech,
            flow: served,
            parameters: context.parameters,
            observer: context.observer,
            transcription: transcription,
            logger: context.logger
        )
    }

    /// The same calls, each with a speech source of its own, made by `speechForCall` when the
    /// media socket opens and closed when it closes: ElevenLabs' WebSocket keeps one socket per
    /// call. `prepare()` opens that socket at once, so the greeting doesn't wait for the handshake.
    public static func factory(
        configuration: BridgeConfiguration,
        flow: @escaping CallFlowProvider = demoFlow,
        transcription: (any TranscriberProvider)? = nil,
        speechForCall: @escaping @Sendable (MediaCallContext) -> any ClosableSpeechSource
    ) -> MediaCallFactory {
        let callConfiguration = configuration.callConfiguration
        return { [callConfiguration] context, sink in
            let speech = speechForCall(context)
            speech.prepare()
            let call = makeCall(
                context: context, sink: sink, configuration: callConfiguration, speech: speech, flow: flow(context),
                transcription: transcription)
            return CallWithOwnSpeech(call: call, speech: speech)
        }
    }

    /// The offline voice for `configuration`, behind a shared prompt memo.
    public static func offlineSpeech(configuration: BridgeConfiguration, logger: Logger) -> OfflineVoice {
        OfflineVoice(configuration: .init(voice: configuration.voice), logger: logger)
    }
}

extension BridgeConfiguration {
    /// The per-call settings handed to every `Call`.
    public var callConfiguration: CallConfiguration {
        var c = CallConfiguration()
        c.frameMs = frameMs
        c.leadMs = leadMs
        c.bargeIn = BargeInPolicy(
            minSpeechMs: bargeInMinSpeechMs, echoGuardMs: bargeInEchoGuardMs,
            evidence: bargeInEvidence == "words" ? .words(minimum: bargeInMinWords) : .energy,
            ignoreBackchannel: bargeInIgnoreBackchannel)
        c.speechDetector = SpeechDetectorConfiguration(
            thresholdDBm0: speechThresholdDBm0,
            minSpeechMs: speechMinSpeechMs,
            hangoverMs: speechHangoverMs
        )
        c.hangUpGraceMs = hangUpGraceMs
        c.drainGoodbye = drainGoodbye.isEmpty ? nil : drainGoodbye
        c.setupBufferMs = setupBufferMs
        c.voice = voice
        c.model = model
        c.language = language
        return c
    }
}

/// A call whose speech source is its own: the source is closed with the media socket.
final class CallWithOwnSpeech: MediaCall {
    let call: Call
    let speech: any ClosableSpeechSource

    init(call: Call, speech: any ClosableSpeechSource) {
        self.call = call
        self.speech = speech
    }

    func receive(_ event: CarrierEvent) { call.receive(event) }

    func socketClosed() {
        call.socketClosed()
        speech.close()
    }

    func statusCallback(_ status: String) { call.statusCallback(status) }
    func shutdown() { call.shutdown() }
    func overdueTick(at uptime: Int64) -> Int64? { call.overdueTick(at: uptime) }
    func controlSay(_ text: String, interruptible: Interruptible) -> Bool { call.controlSay(text, interruptible: interruptible) }
    func controlHangUp() -> Bool { call.controlHangUp() }
    var liveState: LiveCallState? { call.liveState }
    func consoleReading(metering: Bool) -> CallConsoleReading? { call.consoleReading(metering: metering) }
}

extension Call.Phase {
    /// Static strings: the console reads every call four times a second.
    var consoleName: String {
        switch self {
        case .awaitingStart: "awaitingStart"
        case .settingUp: "settingUp"
        case .active: "active"
        case .ended: "ended"
        }
    }
}

/// How the console names a call's speech source.
enum ConsoleSpeechSource {
    /// `fallback(elevenlabs-ws,elevenlabs-http,offline)` → `ElevenLabs → HTTP → offline`.
    static func label(_ name: String) -> String {
        var names = [name]
        if name.hasPrefix("fallback("), name.hasSuffix(")") {
            names = name.dropFirst("fallback(".count).dropLast().split(separator: ",").map(String.init)
        }
        return names.map { n in
            switch n {
            case "elevenlabs-ws": "ElevenLabs"
            case "elevenlabs-http": "HTTP"
            case "offline": "offline"
            default: n
            }
        }.joined(separator: " → ")
    }
}

extension BridgeConfiguration {
    /// The WebSocket client's settings when an API key is configured; nil otherwise.
    public func elevenLabsWebSocketConfiguration() throws(ConfigurationError) -> ElevenLabsWebSocketConfiguration? {
        guard let key = elevenLabsAPIKey else { return nil }
        var ws = ElevenLabsWebSocketConfiguration(apiKey: key, baseURL: elevenLabsBaseURL, voiceID: elevenLabsVoiceID, modelID: elevenLabsModel)
        ws.schedule = try elevenLabsChunkSchedule()
        ws.voiceSettings = elevenLabsVoiceSettings
        ws.caFilePath = elevenLabsCAFile
        ws.inactivityTimeout = elevenLabsInactivityTimeoutSeconds
        ws.keepAliveInterval = .milliseconds(Int64(elevenLabsKeepAliveSeconds * 1000))
        ws.textLead = .milliseconds(Int64(elevenLabsTextLeadMs))
        do {
            return try ws.validated()
        } catch {
            throw ConfigurationError("elevenlabs: \(error.description)")
        }
    }

    /// `elevenlabs.schedule` parsed, whether or not a key is set (a bad one is an error either way).
    public func elevenLabsChunkSchedule() throws(ConfigurationError) -> ElevenLabsChunkSchedule {
        do {
            return try ElevenLabsChunkSchedule(parsing: elevenLabsSchedule)
        } catch {
            throw ConfigurationError("elevenlabs.schedule: \(error.description)")
        }
    }

    /// The HTTP fallback's settings when an API key is configured; nil otherwise.
    public var elevenLabsHTTPConfiguration: ElevenLabsHTTPSpeechSource.Configuration? {
        guard let key = elevenLabsAPIKey else { return nil }
        var http = ElevenLabsHTTPSpeechSource.Configuration(
            apiKey: key, baseURL: elevenLabsBaseURL, voiceID: elevenLabsVoiceID, modelID: elevenLabsModel,
            voiceSettings: elevenLabsVoiceSettings, caBundlePath: elevenLabsCAFile
        )
        http.textLead = .milliseconds(Int64(elevenLabsTextLeadMs))
        return http
    }

    /// The voice settings given in the configuration; nil when none is.
    public var elevenLabsVoiceSettings: ElevenLabsVoiceSettings? {
        let settings = ElevenLabsVoiceSettings(
            stability: elevenLabsStability, similarityBoost: elevenLabsSimilarityBoost, style: elevenLabsStyle,
            useSpeakerBoost: elevenLabsUseSpeakerBoost, speed: elevenLabsSpeed
        )
        return settings == ElevenLabsVoiceSettings() ? nil : settings
    }
}

/// Passes turns on without their `voice` and `model`: the call's are the offline voice's (an
/// espeak name such as "en-us" is no ElevenLabs voice id), so an ElevenLabs source speaks with
/// its configured voice and model instead.
struct ConfiguredVoiceOnly: SpeechSource {
    let base: any SpeechSource
    var name: String { base.name }

    func startTurn(_ options: TurnOptions) -> any SpeechTurn {
        base.startTurn(Self.stripped(options))
    }

    func speak(_ text: String, options: TurnOptions) -> any SpeechTurn {
        base.speak(text, options: Self.stripped(options))
    }

    func voiceName(for options: TurnOptions) -> String { base.voiceName(for: Self.stripped(options)) }

    static func stripped(_ options: TurnOptions) -> TurnOptions {
        TurnOptions(id: options.id, voice: nil, model: nil, language: options.language)
    }
}

/// The name a recording's header gives the flow, for `voicebridge replay` to find it again
/// (see ReplayFlows.swift).
public enum RecordedFlowName {}
