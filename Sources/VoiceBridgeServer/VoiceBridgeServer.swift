import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ServiceLifecycle
import UnixSignals
import VoiceBridgeFlows
import VoiceBridgeRecording
import VoiceBridgeSpeech

/// The bridge's server: one port for the voice webhook, status callbacks, `/healthz`, `/metrics`
/// and the Twilio media WebSockets (`/media/{token}`).
///
/// A `Service`: run it in a `ServiceGroup`. On graceful shutdown (SIGTERM) it stops admitting
/// calls, asks each live call to finish (`MediaCall.shutdown()`), closes whatever is left after
/// `drainSeconds`, and returns once every connection is closed.
public struct VoiceBridgeServer: Service {
    public let configuration: BridgeConfiguration
    /// The URL signatures are checked against and stream URLs are built from.
    public var publicURL: PublicURL { publicURLCell.value }
    private let publicURLCell: PublicURLCell
    public let metrics: BridgeMetrics
    let liveCalls: LiveCalls
    let tokens: StreamTokens
    private let listener: BridgeListener<BridgeChildChannel>
    /// Where connections go: every loop of the group, by load.
    public let placement: LoopPlacement
    private let logger: Logger
    /// The offline voice when the default calls are used: loaded at start so a missing
    /// espeak-ng installation fails the start, not the first call.
    private let offlineVoice: OfflineVoice?
    /// The live console's page feed, when a control token is set.
    private let consoleHub: ConsoleHub?

    /// - Parameters:
    ///   - callFactory: creates the call behind each media socket; nil for the default
    ///     (`DemoCalls`: the demo menu flow).
    ///   - flow: picks each default call's flow; nil for `flows`, else the demo menu.
    ///   - flows: declarative flows (config/flows), chosen by the called number.
    ///   - speech: the default calls' speech source; nil for the offline voice (espeak-ng). With an
    ///     ElevenLabs key it is the last fallback, after the WebSocket (one per call) and HTTP.
    ///   - onServerRunning: called with the bound port once the server listens (port 0 picks one).
    public init(
        configuration: BridgeConfiguration,
        callFactory: MediaCallFactory? = nil,
        flow: CallFlowProvider? = nil,
        flows: ServedFlows? = nil,
        speech: (any SpeechSource)? = nil,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "voicebridge.server"),
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws {
        let configuration = try configuration.validated()
        self.configuration = configuration
        self.logger = logger
        let publicURL = try configuration.publicURL.map { text throws(ConfigurationError) in try PublicURL(parsing: text) }
        let publicURLCell = PublicURLCell(publicURL ?? .local(port: configuration.port))
        self.publicURLCell = publicURLCell
        let metrics = BridgeMetrics()
        self.metrics = metrics
        let liveCalls = LiveCalls()
        self.liveCalls = liveCalls
        let secret = configuration.tokenSecret.map { Array($0.utf8) } ?? StreamTokens.randomSecret()
        let tokens = StreamTokens(secret: secret, ttlSeconds: configuration.tokenTTLSeconds)
        self.tokens = tokens
        let parameters = CallParameterStore(
            capacity: configuration.maxRememberedCalls,
            ttlSeconds: configuration.webhookParameterTTLSeconds
        )
        // libcurl's global init must run before any other curl call and not concurrently with one.
        CurlMulti.initializeGlobally()
        let transfers = CallParameterStore(
            capacity: configuration.maxRememberedCalls,
            ttlSeconds: configuration.webhookParameterTTLSeconds
        )
        let factory: MediaCallFactory
        // Finished prompts of every voice, shared by every call (a bound of 0 keeps nothing).
        let speechCache = try Self.speechCache(configuration, logger: logger)
        metrics.observe(speechCache)
        // A given flow wins; else a declarative flow that lists the called number; else the
        // relay app when one is configured; else the default declarative flow; else the demo menu.
        let relayApp = configuration.relayConfiguration.map { DemoCalls.relayFlow($0, prompts: flows?.environment.prompts) }
        let flow = flow
            ?? flows?.provider(relay: { configuration.relayConfiguration(url: $0) }, unclaimed: relayApp, logger: logger)
            ?? relayApp
            ?? DemoCalls.demoFlow
        if let callFactory {
            factory = callFactory
            offlineVoice = nil
        } else {
            // The last-resort voice: the given one, else the offline voice behind a shared memo.
            let offline: any SpeechSource
            if let speech {
                offline = speech
                offlineVoice = nil
            } else {
                let voice = DemoCalls.offlineSpeech(configuration: configuration, logger: logger)
                offlineVoice = voice
                offline = SpeechMemo(voice, cache: speechCache, variant: "offline|\(configuration.voice)|\(configuration.model ?? "")|\(configuration.language)")
            }
            if let webSocket = try configuration.elevenLabsWebSocketConfiguration(),
                let httpConfiguration = configuration.elevenLabsHTTPConfiguration
            {
                factory = try Self.elevenLabsCalls(
                    configuration: configuration, webSocket: webSocket, http: httpConfiguration, offline: offline,
                    cache: speechCache, flow: flow, group: eventLoopGroup, metrics: metrics, logger: logger
                )
            } else {
                factory = DemoCalls.factory(configuration: configuration, speech: offline, flow: flow)
            }
        }
        let services = CarrierServices(
            configuration: configuration, publicURL: publicURLCell, tokens: tokens, parameters: parameters,
            transfers: transfers, liveCalls: liveCalls, metrics: metrics, logger: logger)
        let carriers = CarrierRegistry.all.map { $0.surface(services) }
        let endpoint = MediaEndpoint(
            settings: .init(
                maxMessageBytes: configuration.maxMessageBytes,
                writeStall: .nanoseconds(Int64(configuration.writeStallSeconds * 1e9)),
                startTimeout: .nanoseconds(Int64(configuration.startTimeoutSeconds * 1e9)),
                drain: .nanoseconds(Int64(configuration.drainSeconds * 1e9)),
                drainGoodbye: .nanoseconds(Int64(configuration.drainGoodbyeSeconds * 1e9)),
                maxConcurrentCalls: configuration.maxConcurrentCalls,
                signatureMode: configuration.signatureMode,
                console: configuration.controlToken != nil
            ),
            carriers: carriers,
            tokens: tokens,
            parameters: parameters,
            transfers: transfers,
            liveCalls: liveCalls,
            metrics: metrics,
            callFactory: factory,
            logger: logger,
            recordings: try configuration.recordDirectory.map { directory in
                // Every secret this server knows is kept out of the recordings.
                try CallRecordings(
                    directory: directory,
                    secrets: [configuration.twilioAuthToken, configuration.tokenSecret, configuration.elevenLabsAPIKey] + configuration.carrierSecrets,
                    writer: RecordingWriter(onError: { [logger] message in
                        logger.error("call recording failed", metadata: ["error": "\(message)"])
                    }))
            }
        )
        if let directory = configuration.recordDirectory {
            logger.info("recording calls", metadata: ["directory": "\(directory)"])
        }
        let router = Router(context: BasicRequestContext.self)
        OperationsRoutes(liveCalls: liveCalls, metrics: metrics).register(on: router)
        for carrier in carriers { carrier.registerRoutes(router) }
        var consoleHub: ConsoleHub?
        if let token = configuration.controlToken {
            let control = ControlRoutes(token: token, liveCalls: liveCalls, logger: logger)
            control.register(on: router)
            let hub = ConsoleHub(liveCalls: liveCalls, metrics: metrics)
            consoleHub = hub
            ConsoleRoutes(
                token: token, hub: hub, control: control, logger: logger,
                secureCookie: configuration.tlsCertificatePath != nil || publicURL?.scheme == .https,
                recordings: configuration.recordDirectory.map {
                    ConsoleRecordings(directory: $0, flowsDirectory: configuration.flowsDirectory, catalogPath: configuration.promptCatalogPath)
                }
            ).register(on: router)
        }
        self.consoleHub = consoleHub

        let tls = try Self.makeTLSContext(configuration)
        let placement = LoopPlacement(group: eventLoopGroup)
        self.placement = placement
        liveCalls.placement = placement
        let responder = Self.httpResponder(router.buildResponder(), logger: logger)
        listener = BridgeListener(
            host: configuration.host,
            port: configuration.port,
            backlog: Int32(clamping: configuration.listenBacklog),
            childChannel: BridgeChildChannel(responder: responder, endpoint: endpoint, tls: tls, idleTimeout: .seconds(75)),
            placement: placement,
            logger: logger,
            onServerRunning: { bound in
                if publicURL == nil {
                    publicURLCell.value = .local(port: bound)
                    logger.warning(
                        "PUBLIC_URL is unset: using \(publicURLCell.value) for stream URLs and signatures (local use only; Twilio needs wss://)"
                    )
                }
                await onServerRunning(bound)
            },
            drained: { [liveCalls] in
                // The drain time, the goodbye's time, and a second for the last closes.
                let limit = ContinuousClock.now + .seconds(configuration.drainSeconds + configuration.drainGoodbyeSeconds + 1)
                while liveCalls.count > 0, ContinuousClock.now < limit {
                    try? await Task.sleep(for: .milliseconds(20))
                }
            }
        )
    }

    /// Hummingbird's router behind the HTTP connections: what `Application` does for a request,
    /// without its server (the listener places connections itself).
    private static func httpResponder(
        _ router: RouterResponder<BasicRequestContext>,
        logger: Logger
    ) -> HTTPChannelHandler.Responder {
        let dates = HTTPDate()
        return { request, writer, channel in
            let context = BasicRequestContext(source: .init(channel: channel, logger: logger))
            var response: Response
            do {
                response = try await router.respond(to: request, context: context)
            } catch let error as HTTPParserError {
                throw error
            } catch {
                logger.debug("unhandled error in a route", metadata: ["error": "\(error)"])
                response = Response(status: .internalServerError, body: .init())
            }
            response.headers[.date] = dates.now
            try await writer.write(response: response.head, body: response.body)
        }
    }

    public func run() async throws {
        logger.info("voicebridge serve", metadata: configuration.logSummary.mapValues { .string($0) })
        if configuration.twilioAuthToken == nil {
            logger.warning("TWILIO_AUTH_TOKEN is unset: webhook and upgrade signatures are NOT checked")
        }
        if let offlineVoice {
            try await offlineVoice.prepare()
            logger.info("offline voice ready", metadata: ["voice": "\(offlineVoice.configuration.voice)"])
        }
        try await withGracefulShutdownHandler {
            try await listener.run()
        } onGracefulShutdown: {
            logger.info("shutting down: no new calls; draining live calls", metadata: ["live": "\(liveCalls.count)"])
            liveCalls.beginDrain()
            consoleHub?.close()
        }
    }

    /// Runs the server in its own `ServiceGroup` until SIGTERM or SIGINT, then drains: what
    /// `voicebridge serve` does.
    public func runUntilSignalled() async throws {
        let group = ServiceGroup(
            configuration: .init(services: [self], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await group.run()
    }

    /// Live media sockets right now.
    public var activeCallCount: Int { liveCalls.count }

    /// Calls that speak with ElevenLabs: each gets its own WebSocket source (one socket per call),
    /// backed by the shared HTTP source and then the offline voice.
    /// The speech cache, warmed from its copy on disk when `voice.cache_dir` is set.
    private static func speechCache(_ configuration: BridgeConfiguration, logger: Logger) throws -> SpeechCache {
        let maxBytes = configuration.speechCacheMB << 20
        guard let directory = configuration.speechCacheDirectory, maxBytes > 0 else { return SpeechCache(maxBytes: maxBytes) }
        let disk: SpeechDiskStore
        do {
            disk = try SpeechDiskStore(directory: directory, maxBytes: maxBytes)
        } catch {
            throw ConfigurationError("voice.cache_dir: cannot create \(directory): \(error)")
        }
        let cache = SpeechCache(maxBytes: maxBytes, disk: disk)
        let warmed = disk.warm(cache)
        logger.info("speech cache warmed from disk", metadata: [
            "directory": "\(directory)", "utterances": "\(warmed.entries)", "bytes": "\(warmed.bytes)",
        ])
        return cache
    }

    private static func elevenLabsCalls(
        configuration: BridgeConfiguration,
        webSocket: ElevenLabsWebSocketConfiguration,
        http: ElevenLabsHTTPSpeechSource.Configuration,
        offline: any SpeechSource,
        cache: SpeechCache,
        flow: @escaping CallFlowProvider,
        group: any EventLoopGroup,
        metrics: BridgeMetrics,
        logger: Logger
    ) throws -> MediaCallFactory {
        // One client and one HTTP source per format the carriers ask for, so that ElevenLabs'
        // audio is the carrier's own and passes through byte for byte.
        var formats: Set<ElevenLabsOutputFormat> = [.ulaw8000]
        for spec in CarrierRegistry.all.compactMap(\.settings) {
            formats.insert(ElevenLabsOutputFormat(for: configuration.carrierAudio(spec)))
        }
        var clients: [ElevenLabsOutputFormat: ElevenLabsWebSocketClient] = [:]
        var httpSources: [ElevenLabsOutputFormat: any SpeechSource] = [:]
        var variants: [ElevenLabsOutputFormat: String] = [:]
        for format in formats {
            var webSocket = webSocket
            webSocket.outputFormat = format
            var http = http
            http.outputFormat = format
            do {
                clients[format] = try ElevenLabsWebSocketClient(configuration: webSocket, group: group, logger: logger)
            } catch {
                throw ConfigurationError("elevenlabs: \(error.description)")
            }
            // WebSocket and HTTP make the same audio for the same voice, model, settings and
            // format: one variant, so either one's utterance serves the other.
            variants[format] = "elevenlabs|\(webSocket.voiceID)|\(webSocket.modelID)|\(format)|\(String(describing: webSocket.voiceSettings))"
            httpSources[format] = SpeechMemo(
                ConfiguredVoiceOnly(base: ElevenLabsHTTPSpeechSource(configuration: http, logger: logger)),
                cache: cache, variant: variants[format]!)
        }
        let cooldown = Duration.milliseconds(Int64(configuration.elevenLabsBreakerCooldownSeconds * 1000))
        logger.info("speaking with ElevenLabs", metadata: [
            "baseURL": "\(webSocket.baseURL)", "voice": "\(webSocket.voiceID)", "model": "\(webSocket.modelID)",
            "schedule": "\(webSocket.schedule)",
        ])
        // Hearing the caller: the same client (key, base URL, TLS) opens the speech-to-text socket.
        var transcription: ElevenLabsTranscription?
        if configuration.elevenLabsSpeechToText {
            var settings = ScribeSettings()
            settings.modelID = configuration.elevenLabsSpeechToTextModel
            settings.commitStrategy = ScribeSettings.CommitStrategy(rawValue: configuration.elevenLabsSpeechToTextCommit) ?? .manual
            settings.vadSilenceThresholdSeconds = configuration.elevenLabsSpeechToTextVADSilenceSeconds
            settings.vadThreshold = configuration.elevenLabsSpeechToTextVADThreshold
            do {
                settings = try settings.validated()
            } catch {
                throw ConfigurationError("elevenlabs: \(error.description)")
            }
            transcription = ElevenLabsTranscription(client: clients[.ulaw8000]!, settings: settings)
        }
        return DemoCalls.factory(configuration: configuration, flow: flow, transcription: transcription) { [clients, httpSources, variants] context in
            // The call's logger: its lines carry the callSid.
            let logger = context.logger
            let format = ElevenLabsOutputFormat(for: context.mediaFormat)
            let client = clients[format] ?? clients[.ulaw8000]!
            let httpSource = httpSources[format] ?? httpSources[.ulaw8000]!
            let webSocketSource = ElevenLabsWebSocketSpeechSource(client: client, eventLoop: context.eventLoop, logger: logger) { turn in
                guard let ttfb = turn.timeToFirstAudio else { return }
                logger.debug("ElevenLabs turn", metadata: [
                    "turn": "\(turn.turnID)", "ttfb": "\(ttfb)", "chunks": "\(turn.chunks)",
                    "characters": "\(turn.characters)", "reconnects": "\(turn.reconnects)",
                ])
            }
            let variant = variants[format] ?? variants[.ulaw8000]!
            let memo = SpeechMemo(webSocketSource, cache: cache, variant: variant)
            return FallbackSpeechSource([memo, httpSource, offline], breakerCooldown: cooldown, logger: logger) { _ in
                metrics.recordError(kind: "speech_fallback")
            }
        }
    }

    private static func makeTLSContext(_ configuration: BridgeConfiguration) throws -> NIOSSLContext? {
        guard let certificatePath = configuration.tlsCertificatePath, let keyPath = configuration.tlsKeyPath else {
            return nil
        }
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
            let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
            let tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) },
                privateKey: .privateKey(key)
            )
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw ConfigurationError("TLS: cannot load \(certificatePath) / \(keyPath): \(error)")
        }
    }
}

extension VoiceBridgeServer: CustomStringConvertible {
    /// What service-lifecycle logs for this service: its name, never its configuration (which
    /// holds auth tokens and signing keys).
    public var description: String { "VoiceBridgeServer" }
}
