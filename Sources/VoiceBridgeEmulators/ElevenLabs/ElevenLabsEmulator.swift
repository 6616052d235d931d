import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization
import VoiceBridgeAudio
import VoiceBridgeSpeech

/// A local stand-in for the ElevenLabs text-to-speech API that speaks the real protocol over real
/// sockets: the `stream-input` and `multi-stream-input` WebSockets and the HTTP `stream` endpoints,
/// on one port (HTTP/1.1 with WebSocket upgrade). See shared/docs/elevenlabs.md; §10 is what it
/// reproduces. The audio comes from a `SpeechSource` (the offline espeak voice by default), so it is
/// real speech with real timings.
///
/// Emulated: every documented query parameter (unknown ones such as `optimize_streaming_latency`
/// are accepted and ignored; `auto_mode` and `inactivity_timeout` act); all four ways to
/// authenticate; the init-message and voice_settings rules; `chunk_length_schedule`,
/// `try_trigger_generation`, `flush`, end of input, keep-alives and the inactivity close; contexts
/// (implicit creation, `close_context`, `close_socket`, the limit, asynchronous freeing); the
/// audio and final message shapes with tiling per-message alignment; the HTTP headers, error
/// bodies and NDJSON; single-use tokens; and injected latency and faults (see
/// `ElevenLabsEmulatorConfiguration.Faults`).
///
/// Not emulated, and why:
/// - mp3, opus and PCM above 16 kHz: no encoder in the project, and an 8 kHz voice has nothing
///   to add. They are refused clearly (HTTP 422, WebSocket close 1003), never faked.
/// - Text normalisation, pronunciation dictionaries, SSML, `seed`, `language_code` enforcement,
///   voice and model choice: accepted and recorded; the voice is espeak (`language_code` picks
///   its language). `normalizedAlignment` equals `alignment`.
/// - `voice_not_found`, 403 tiers, the 1009 voice/model mismatch and the new-style error shape
///   (`type`, `code`, `request_id`): not produced; the legacy `{"detail":{"status","message"}}`
///   shape is what public captures show.
/// - WebSockets don't count against HTTP concurrency (the service counts them only while
///   generating, and the doc says idle sockets are nearly free).
/// - A client's close frame ends the socket at once, without generating the buffered text.
/// - Undocumented choices are marked [UNVERIFIED] or [EMULATOR] in `ElevenLabsEmulatorProtocol`
///   and `ElevenLabsEmulatorSession` (the reason texts for a bad key, a bad first message, an
///   invalid message; what an idle context gets: an `isFinal`).
///
/// It also listens: `GET /v1/speech-to-text/realtime` is the realtime speech-to-text socket
/// (shared/docs/elevenlabs-stt.md; `SpeechToText/`). It transcribes exactly the coded speech the
/// phone simulator makes with `--say` (docs/spoken-text-code.md) and hears anything else as
/// speech without words. Not emulated there: `final_transcript`, entity detection
/// (`committed_transcript_entities`), the ~2 s warm-up, `unaccepted_terms`,
/// `session_time_limit_exceeded`, `insufficient_audio_activity`, keyterm limits and
/// `no_verbatim` (accepted and echoed; the text is what was coded). Close codes and error texts
/// other than `commit_throttled`'s are unpublished and marked [EMULATOR] or [UNVERIFIED] in
/// `ElevenLabsEmulatorTranscriptionProtocol`.
///
/// ```swift
/// let emulator = ElevenLabsEmulator()
/// let port = try await emulator.start()          // port 0: any free port
/// // ws://127.0.0.1:\(port)/v1/text-to-speech/voice/multi-stream-input?output_format=ulaw_8000
/// let sent = emulator.requests                    // what clients sent, secrets redacted
/// try await emulator.stop()
/// ```
public final class ElevenLabsEmulator: Sendable {
    public let configuration: ElevenLabsEmulatorConfiguration
    private let speech: any SpeechSource
    private let group: any EventLoopGroup
    private let logger: Logger
    private let recorder: ElevenLabsEmulatorRecorder
    private let channel = Mutex<(any Channel)?>(nil)
    /// Open client connections, closed by `stop()`.
    private let connections = Mutex<[ObjectIdentifier: any Channel]>([:])

    public init(
        configuration: ElevenLabsEmulatorConfiguration = ElevenLabsEmulatorConfiguration(),
        speech: any SpeechSource = OfflineVoice(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "voicebridge.emulator.elevenlabs")
    ) {
        self.configuration = configuration
        self.speech = speech
        self.group = group
        self.logger = logger
        recorder = ElevenLabsEmulatorRecorder(faults: configuration.faults, speechToTextFaults: configuration.speechToText.faults)
    }

    /// Runs `body` against this emulator on a free loopback port, and stops it afterwards
    /// whether `body` returns or throws.
    public func whileRunning<T>(_ body: (ElevenLabsEmulator, Int) async throws -> T) async throws -> T {
        let port = try await start()
        do {
            let result = try await body(self, port)
            try await stop()
            return result
        } catch {
            try? await stop()
            throw error
        }
    }

    /// Starts listening and returns the port (useful with port 0).
    @discardableResult
    public func start(host: String = "127.0.0.1", port: Int = 0) async throws -> Int {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                let id = ObjectIdentifier(channel)
                connections.withLock { $0[id] = channel }
                channel.closeFuture.whenComplete { [self] _ in
                    _ = connections.withLock { $0.removeValue(forKey: id) }
                }
                return channel.eventLoop.makeCompletedFuture { try configure(channel) }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        self.channel.withLock { $0 = channel }
        let bound = channel.localAddress?.port ?? port
        logger.info("ElevenLabs emulator listening", metadata: ["host": "\(host)", "port": "\(bound)"])
        return bound
    }

    /// The port it listens on, once started.
    public var port: Int? {
        channel.withLock { $0?.localAddress?.port }
    }

    /// Stops listening. Open connections are closed.
    public func stop() async throws {
        let channel = self.channel.withLock { channel in
            defer { channel = nil }
            return channel
        }
        try await channel?.close()
        let open = connections.withLock { Array($0.values) }
        for connection in open {
            try? await connection.close()
        }
    }

    /// Waits until the listening socket closes (for the command line).
    public func waitUntilStopped() async throws {
        let channel = self.channel.withLock { $0 }
        try await channel?.closeFuture.get()
    }

    /// Every request and socket so far, in order of arrival, credentials redacted.
    public var requests: [ElevenLabsEmulatorRequestRecord] { recorder.records }

    /// Totals so far.
    public var counters: ElevenLabsEmulatorCounters { recorder.counters }

    /// Every realtime speech-to-text session so far, in order of arrival: the audio and commits
    /// it received and what it answered.
    public var transcriptions: [ElevenLabsEmulatorTranscriptionRecord] { recorder.transcriptions }

    // MARK: - Pipeline

    private func configure(_ channel: any Channel) throws {
        let sync = channel.pipeline.syncOperations
        let faults = configuration.faults
        if faults.slow {
            try sync.addHandler(ElevenLabsEmulatorThrottleHandler(
                readInterval: .milliseconds(Int64(faults.slowReadIntervalMs)),
                writeBytes: faults.slowWriteBytes,
                writeInterval: .milliseconds(Int64(faults.slowWriteIntervalMs))
            ))
        }
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: configuration.maxFrameSize,
            automaticErrorHandling: true,
            shouldUpgrade: { channel, head in
                switch ElevenLabsEmulatorRequestTarget(uri: head.uri).route {
                case .webSocket, .realtimeSpeechToText: return channel.eventLoop.makeSucceededFuture(HTTPHeaders())
                default: return channel.eventLoop.makeSucceededFuture(nil)
                }
            },
            upgradePipelineHandler: { [self] channel, head in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(NIOWebSocketFrameAggregator(
                        minNonFinalFragmentSize: 0,
                        maxAccumulatedFrameCount: 1 << 16,
                        maxAccumulatedFrameSize: configuration.maxFrameSize
                    ))
                    if case .realtimeSpeechToText = ElevenLabsEmulatorRequestTarget(uri: head.uri).route {
                        try sync.addHandler(makeTranscriptionHandler(head))
                    } else {
                        try sync.addHandler(makeWebSocketHandler(head, eventLoop: channel.eventLoop))
                    }
                }
            }
        )
        let httpName = "elevenlabs-emulator-http"
        try sync.configureHTTPServerPipeline(
            withServerUpgrade: (upgraders: [upgrader], completionHandler: { context in
                context.pipeline.removeHandler(name: httpName, promise: nil)
            })
        )
        try sync.addHandler(
            ElevenLabsEmulatorHTTPHandler(.init(configuration: configuration, recorder: recorder, speech: speech, logger: logger)),
            name: httpName
        )
    }

    private func makeWebSocketHandler(_ head: HTTPRequestHead, eventLoop: any EventLoop) -> ElevenLabsEmulatorWebSocketHandler {
        let target = ElevenLabsEmulatorRequestTarget(uri: head.uri)
        let multi: Bool
        if case .webSocket(_, let multiContext) = target.route { multi = multiContext } else { multi = false }
        let recordID = recorder.begin(
            kind: .webSocket, method: head.method.rawValue, uri: head.uri, path: target.path, query: target.query,
            headers: head.headers.map { ($0.name, $0.value) }
        )
        var logger = logger
        logger[metadataKey: "socket"] = "\(recordID)"
        logger.info("websocket", metadata: ["uri": "\(ElevenLabsEmulatorRedaction.redactURI(head.uri))"])

        let formatName = target.query["output_format"] ?? ElevenLabsEmulatorOutputFormat.webSocketDefaultName
        var format = ElevenLabsEmulatorOutputFormat.ulaw8000
        var formatProblem: ElevenLabsEmulatorOutputFormat.Problem?
        switch ElevenLabsEmulatorOutputFormat.parse(formatName) {
        case .success(let parsed): format = parsed
        case .failure(let problem): formatProblem = problem
        }

        var timeout = configuration.inactivityTimeout
        if let requested = target.query["inactivity_timeout"].flatMap(Double.init), requested > 0 {
            timeout = requested
        }
        timeout = min(timeout, configuration.maxInactivityTimeout)

        let recorder = recorder
        let configuration = configuration
        let settings = ElevenLabsEmulatorSession.Settings(
            endpoint: multi ? .multiStreamInput : .streamInput,
            inactivityTimeout: .nanoseconds(Int64(timeout * 1_000_000_000)),
            inactivitySeconds: max(1, Int(timeout.rounded())),
            autoMode: target.flag("auto_mode"),
            maxContexts: configuration.maxContexts,
            tryTriggerMinimum: configuration.tryTriggerMinimum,
            strictFirstMessage: configuration.strictFirstMessage,
            contextCloseDelay: .milliseconds(Int64(configuration.contextCloseDelayMs)),
            quotaExceeded: configuration.faults.quotaExceeded,
            quota: configuration.quota,
            quotaRemaining: configuration.faults.quotaRemaining,
            serverError: recorder.takeWebSocketServerError(),
            formatProblem: formatProblem,
            checkAPIKey: { configuration.accepts(apiKey: $0) },
            checkBearer: { Self.checkBearer($0, configuration: configuration, recorder: recorder) }
        )
        let session = ElevenLabsEmulatorSession(settings: settings, credential: handshakeCredential(head, target: target), now: .now())
        return ElevenLabsEmulatorWebSocketHandler(.init(
            session: session,
            recordID: recordID,
            recorder: recorder,
            speech: speech,
            format: format,
            timing: .init(
                ttfb: .milliseconds(Int64(configuration.faults.ttfbMs)),
                speed: configuration.faults.speed,
                chunkMs: configuration.chunkMs
            ),
            language: target.query["language_code"],
            logger: logger
        ))
    }

    /// A realtime speech-to-text socket (shared/docs/elevenlabs-stt.md): credentials from the
    /// `xi-api-key` header or a single-use `token`, settings from the query.
    private func makeTranscriptionHandler(_ head: HTTPRequestHead) -> ElevenLabsEmulatorTranscriptionHandler {
        let target = ElevenLabsEmulatorRequestTarget(uri: head.uri)
        let recordID = recorder.begin(
            kind: .webSocket, method: head.method.rawValue, uri: head.uri, path: target.path, query: target.query,
            headers: head.headers.map { ($0.name, $0.value) }
        )
        let rateLimited = recorder.beginTranscription(recordID)
        var logger = logger
        logger[metadataKey: "socket"] = "\(recordID)"
        logger.info("speech-to-text websocket", metadata: ["uri": "\(ElevenLabsEmulatorRedaction.redactURI(head.uri))"])
        let credential: ElevenLabsEmulatorTranscriptionSession.Credential
        if let key = head.headers["xi-api-key"].first {
            credential = configuration.accepts(apiKey: key) ? .valid : .invalid
        } else if let token = target.query["token"] {
            credential = recorder.redeemToken(token) ? .valid : .invalid
        } else {
            credential = .missing
        }
        let session = ElevenLabsEmulatorTranscriptionSession(
            .init(
                settings: ElevenLabsEmulatorTranscriptionSettings.parse(target.queryItems, models: configuration.speechToText.models),
                credential: credential,
                configuration: configuration.speechToText,
                sessionID: Self.sessionID(recordID),
                rateLimited: rateLimited,
                recorder: recorder,
                recordID: recordID
            ),
            now: .now()
        )
        return ElevenLabsEmulatorTranscriptionHandler(session: session, logger: logger)
    }

    /// A session id that looks like the service's (32 hex digits) and is the same on every run.
    static func sessionID(_ recordID: Int) -> String {
        var generator = SplitMix64(seed: UInt64(recordID))
        let high = generator.next(), low = generator.next()
        func hex(_ value: UInt64) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
        return hex(high) + hex(low)
    }

    /// Credentials in the handshake (§1.3): the `xi-api-key` header, an `authorization` Bearer
    /// (header or query), or a `single_use_token` query parameter. The first one present decides.
    private func handshakeCredential(_ head: HTTPRequestHead, target: ElevenLabsEmulatorRequestTarget) -> ElevenLabsEmulatorSession.Credential {
        if let key = head.headers["xi-api-key"].first {
            return configuration.accepts(apiKey: key) ? .valid : .invalid
        }
        if let authorization = head.headers["authorization"].first ?? target.query["authorization"] {
            return Self.checkBearer(authorization, configuration: configuration, recorder: recorder) ? .valid : .invalid
        }
        if let token = target.query["single_use_token"] {
            return recorder.redeemToken(token) ? .valid : .invalid
        }
        return .missing
    }

    /// A Bearer value (with or without the "Bearer " prefix): an accepted API key or an unused
    /// single-use token.
    private static func checkBearer(_ value: String, configuration: ElevenLabsEmulatorConfiguration, recorder: ElevenLabsEmulatorRecorder) -> Bool {
        var token = Substring(value)
        if token.lowercased().hasPrefix("bearer ") { token = token.dropFirst(7) }
        let credential = String(token.trimmingPrefix(while: \.isWhitespace))
        return configuration.accepts(apiKey: credential) || recorder.redeemToken(credential)
    }
}
