import Foundation
import Histogram
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import VoiceBridgeCarriers

/// The carrier's side of phone calls, playing Twilio or Telnyx: posts the signed voice webhook,
/// follows the answer's `<Connect><Stream>` (TwiML or TeXML), streams the caller's audio on an
/// absolute 20 ms grid, plays the server's audio the way the carrier does (``CarrierPlayout``) and
/// checks every server message strictly in the carrier's dialect.
public struct PhoneSimulator: Sendable {
    public struct Configuration: Sendable {
        /// The voice webhook (`http://`); it is also the URL signed.
        public var webhookURL: String
        /// Signs the webhook with `X-Twilio-Signature` when set (SignalWire: the Signing Key, in
        /// `X-SignalWire-Signature`).
        public var authToken: String?
        public var carrier: SimulatedCarrierKind
        /// Signs Telnyx webhooks (Ed25519) when set.
        public var telnyxSigningKey: Ed25519.PrivateKey?
        /// Telnyx's Call Control API as the bridge reaches it (`telnyx.api_url`): where the
        /// `telnyx-call-control` carrier learns how the bridge answers, hangs up or transfers.
        public var telnyxAPI: TelnyxCallControlAPI?
        /// The account the carrier names the call by (AccountSid, Plivo's auth id…); random when nil.
        public var accountID: String?
        public var from: String
        public var to: String
        public var script: CallScript
        /// `--caller-wav`: what the caller says from the start (any rate the reader handles).
        public var callerWAV: String?
        public var webhookTimeout: TimeAmount
        public var connectTimeout: TimeAmount
        /// The codec a carrier without answer markup streams in (Asterisk's `c(…)`); the others
        /// take theirs from the answer.
        public var directFormat: MediaFormat = .mulaw8kMono

        public init(
            webhookURL: String, authToken: String? = nil, from: String = "+15005550006", to: String = "+15005550001",
            script: CallScript = CallScript(), callerWAV: String? = nil,
            webhookTimeout: TimeAmount = .seconds(15), connectTimeout: TimeAmount = .seconds(10),
            carrier: SimulatedCarrierKind = .twilio, telnyxSigningKey: Ed25519.PrivateKey? = nil, accountID: String? = nil
        ) {
            self.accountID = accountID
            self.webhookURL = webhookURL
            self.authToken = authToken
            self.carrier = carrier
            self.telnyxSigningKey = telnyxSigningKey
            self.from = from
            self.to = to
            self.script = script
            self.callerWAV = callerWAV
            self.webhookTimeout = webhookTimeout
            self.connectTimeout = connectTimeout
        }
    }

    /// One finished call.
    public struct CallResult: Sendable {
        public var timeline: CallTimeline
        /// Receive-side inter-frame gaps, µs (nil for a failed call, and once ``run(calls:rampSeconds:group:recordHeardCalls:)``
        /// has merged it into the aggregate).
        public var gaps: Histogram<UInt32>?
        /// Send lateness of the caller's media, µs (nil likewise).
        public var sendLateness: Histogram<UInt32>?
        /// What the caller heard (in `heardFormat`, from `start` sent), if recording was asked for.
        public var heard: [UInt8]?
        public var heardFormat: MediaFormat = .mulaw8kMono
    }

    public let configuration: Configuration
    public let track: CallerTrack
    private let logger: Logger

    /// Loads the caller's audio once; every call shares it.
    public init(configuration: Configuration, logger: Logger = Logger(label: "voicebridge.call")) throws {
        self.configuration = configuration
        self.track = try CallerTrack.build(callerWAV: configuration.callerWAV, script: configuration.script)
        self.logger = logger
    }

    /// Runs one call on `loop` (every step of it stays on that loop).
    public func runCall(on loop: any EventLoop, recordHeard: Bool) async -> CallResult {
        var ids = configuration.carrier.carrier.makeIDs()
        if let account = configuration.accountID {
            ids.accountSid = account
            ids.stream.accountID = account
        }
        let callSid = ids.callSid
        let accountSid = ids.accountSid
        var logger = self.logger
        logger[metadataKey: "callSid"] = "\(callSid)"
        func failed(_ error: any Error) -> CallResult {
            // Debug, not warning: a load run with many failures must not flood (or block on) stderr;
            // the summary lists failed calls.
            logger.debug("call failed", metadata: ["error": "\(error)"])
            return CallResult(
                timeline: .failed(
                    callSid: callSid, accountSid: accountSid, webhookURL: configuration.webhookURL, error: "\(error)"),
                gaps: nil, sendLateness: nil, heard: nil)
        }

        let carrier = configuration.carrier.carrier
        carrier.prepare(ids: ids, configuration: configuration)
        let request = signedRequest(
            url: configuration.webhookURL,
            parameters: carrier.webhookFields(ids: ids, from: configuration.from, to: configuration.to, status: "ringing"))
        let webhookStarted = NIODeadline.now()
        let answer: StreamAnswer
        let endpoint: SimulatorEndpoint
        do {
            if configuration.carrier.hasAnswerWebhook {
                let response = try await WebhookClient.post(request, on: loop, timeout: configuration.webhookTimeout)
                answer = try await carrier.stream(answering: response, ids: ids, configuration: configuration, on: loop)
            } else {
                answer = StreamAnswer.direct(configuration.webhookURL, format: configuration.directFormat)
            }
            endpoint = try SimulatorEndpoint.stream(from: answer.url, relativeTo: configuration.webhookURL)
        } catch {
            return failed(error)
        }
        let webhookMs = configuration.carrier.hasAnswerWebhook ? milliseconds(nanos: (NIODeadline.now() - webhookStarted).nanoseconds) : nil

        logger[metadataKey: "streamSid"] = "\(ids.stream.streamID)"
        var setup = SimulatedCallSetup(
            callSid: callSid, accountSid: accountSid, streamSid: ids.stream.streamID, webhookURL: configuration.webhookURL,
            streamURL: "\(endpoint.scheme)://\(endpoint.hostHeader)\(endpoint.target)",
            customParameters: answer.parameters, script: configuration.script,
            track: track.converted(to: answer.format), recordHeard: recordHeard, webhookMs: webhookMs,
            twimlAfterStream: answer.afterStreamVerbs, connectStarted: .now())
        setup.from = configuration.from
        setup.to = configuration.to
        let done = loop.makePromise(of: SimulatedCallOutcome.self)
        do {
            let upgraded = try await connectStream(endpoint: endpoint, setup: setup, stream: ids.stream, done: done, on: loop)
            guard try await upgraded.get() else {
                throw SimulatorError.connect("the server did not upgrade to WebSocket (Twilio error 31920)")
            }
        } catch {
            done.fail(error)
            return failed(error)
        }
        do {
            var outcome = try await done.futureResult.get()
            if let verbs = await carrier.afterStream(ids: ids, endReason: outcome.timeline.endReason, configuration: configuration, on: loop) {
                outcome.timeline.twimlAfterStream = verbs
            } else if let action = answer.afterStreamURL, outcome.timeline.endReason == .serverClosed {
                outcome.timeline.twimlAfterStream = await followAfterStream(action, ids: ids, on: loop, logger: logger)
            }
            return CallResult(
                timeline: outcome.timeline, gaps: outcome.gaps, sendLateness: outcome.sendLateness, heard: outcome.heard,
                heardFormat: answer.format)
        } catch {
            return failed(error)
        }
    }

    /// A webhook signed the way the simulated carrier signs.
    func signedRequest(url: String, parameters: [(String, String)]) -> VoiceWebhookRequest {
        configuration.carrier.carrier.request(
            url: url, parameters: parameters,
            signing: SimulatorSigning(secret: configuration.authToken, telnyxKey: configuration.telnyxSigningKey))
    }

    /// As the carrier does when the server ends a stream: asks what to do next (Twilio's
    /// `<Connect action>`, the `<Redirect>` after a TeXML `<Connect>`) and returns the answer's
    /// verbs (a `<Dial>` transfer, a `<Hangup/>`).
    private func followAfterStream(
        _ action: String, ids: SimulatedCallIDs, on loop: any EventLoop, logger: Logger
    ) async -> [String] {
        let url: String
        if action.hasPrefix("http://") || action.hasPrefix("https://") {
            url = action
        } else {
            let base = configuration.webhookURL
            let afterScheme = base.range(of: "://").map { base[$0.upperBound...] } ?? Substring(base)
            let origin = base.prefix(base.count - afterScheme.count) + afterScheme.prefix { $0 != "/" }
            url = String(origin) + (action.hasPrefix("/") ? action : "/" + action)
        }
        let request = signedRequest(
            url: url,
            parameters: configuration.carrier.carrier.webhookFields(ids: ids, from: configuration.from, to: configuration.to, status: "in-progress"))
        do {
            let response = try await WebhookClient.post(request, on: loop, timeout: configuration.webhookTimeout)
            return try configuration.carrier.carrier.afterStream(status: response.status, body: response.body)
        } catch {
            logger.debug("after-stream request failed", metadata: ["error": "\(error)"])
            return ["<!-- after stream failed: \(error) -->"]
        }
    }

    private func connectStream(
        endpoint: SimulatorEndpoint, setup: SimulatedCallSetup, stream: CallIdentity, done: EventLoopPromise<SimulatedCallOutcome>,
        on loop: any EventLoop
    ) async throws -> EventLoopFuture<Bool> {
        let upgradeHeaders = configuration.carrier.carrier.upgradeHeaders(streamURL: setup.streamURL, secret: configuration.authToken)
        let carrier = configuration.carrier
        return try await ClientBootstrap(group: loop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connect(host: endpoint.host, port: endpoint.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let upgrader = NIOTypedWebSocketClientUpgrader<Bool>(
                        maxFrameSize: 1 << 20,
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(
                                    NIOWebSocketFrameAggregator(
                                        minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 1024,
                                        maxAccumulatedFrameSize: 1 << 22))
                                try channel.pipeline.syncOperations.addHandler(carrier.carrier.makeCall(setup: setup, stream: stream, done: done))
                                return true
                            }
                        })
                    var headers = HTTPHeaders()
                    headers.add(name: "Host", value: endpoint.hostHeader)
                    headers.add(name: "User-Agent", value: carrier.carrier.userAgent)
                    headers.add(name: "Content-Length", value: "0")
                    for (name, value) in upgradeHeaders { headers.add(name: name, value: value) }
                    let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: endpoint.target, headers: headers)
                    let configuration = NIOTypedHTTPClientUpgradeConfiguration<Bool>(
                        upgradeRequestHead: head, upgraders: [upgrader],
                        notUpgradingCompletionHandler: { channel in
                            channel.close(promise: nil)
                            return channel.eventLoop.makeSucceededFuture(false)
                        })
                    return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                        configuration: .init(upgradeConfiguration: configuration))
                }
            }
    }

    /// Runs the calls on a fresh `MultiThreadedEventLoopGroup` (`threads`, default one per core).
    public func run(
        calls: Int, rampSeconds: Double, threads: Int? = nil, recordHeardCalls: Int = 1
    ) async throws -> SimulationReport {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads ?? System.coreCount)
        let report = await run(calls: calls, rampSeconds: rampSeconds, group: group, recordHeardCalls: recordHeardCalls)
        try await group.shutdownGracefully()
        return report
    }

    /// Runs `calls` calls spread over `rampSeconds`, each on the next loop of `group`, and aggregates them.
    /// `recordHeardCalls` calls (the first ones) keep what their caller heard.
    public func run(
        calls: Int, rampSeconds: Double, group: any EventLoopGroup, recordHeardCalls: Int = 1
    ) async -> SimulationReport {
        await withTaskGroup(of: (Int, CallResult).self) { tasks in
            for index in 0..<calls {
                let delay = calls > 1 ? rampSeconds * Double(index) / Double(calls) : 0
                let loop = group.next()
                tasks.addTask {
                    if delay > 0 { try? await Task.sleep(for: .milliseconds(Int64(delay * 1000))) }
                    return (index, await runCall(on: loop, recordHeard: index < recordHeardCalls))
                }
            }
            var aggregator = SimulationAggregator()
            var results = [CallResult?](repeating: nil, count: calls)
            for await (index, var result) in tasks {
                aggregator.add(result)
                // Keep the timeline and the heard audio; the histograms are merged already.
                result.gaps = nil
                result.sendLateness = nil
                results[index] = result
            }
            return aggregator.report(calls: results.compactMap { $0 })
        }
    }
}
