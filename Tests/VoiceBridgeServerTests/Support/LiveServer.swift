import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import Testing
import VoiceBridgeSpeech
import VoiceBridgeCalls
import VoiceBridgeCarriers
@testable import VoiceBridgeServer

/// A real server on 127.0.0.1, port 0, run in its own ServiceGroup for one test.
struct LiveServer: Sendable {
    let server: VoiceBridgeServer
    let port: Int
    let calls: CallLog
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    static let authToken = "test-auth-token-0123456789abcdef"
    static let publicURL = "https://voice.example.com"
    static let tokenSecret = "test-token-secret"

    /// Runs `body` against a fresh server and shuts it down afterwards.
    static func with(
        configure: (inout BridgeConfiguration) -> Void = { _ in },
        callFactory: MediaCallFactory? = nil,
        demoCalls: Bool = false,
        flows: ServedFlows? = nil,
        speech: (any SpeechSource)? = nil,
        eventLoopGroup: (any EventLoopGroup)? = nil,
        _ body: (LiveServer) async throws -> Void
    ) async throws {
        let server = try await start(
            configure: configure, callFactory: callFactory, demoCalls: demoCalls, flows: flows, speech: speech,
            eventLoopGroup: eventLoopGroup)
        do {
            try await body(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    static func start(
        configure: (inout BridgeConfiguration) -> Void = { _ in },
        callFactory: MediaCallFactory? = nil,
        demoCalls: Bool = false,
        flows: ServedFlows? = nil,
        speech: (any SpeechSource)? = nil,
        eventLoopGroup: (any EventLoopGroup)? = nil
    ) async throws -> LiveServer {
        var configuration = BridgeConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.publicURL = publicURL
        configuration.twilioAuthToken = authToken
        configuration.tokenSecret = tokenSecret
        configuration.drainSeconds = 1
        configuration.drainGoodbyeSeconds = 1
        configure(&configuration)

        var logger = Logger(label: "test.server")
        logger.logLevel = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .critical
        let calls = CallLog()
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let server = try VoiceBridgeServer(
            configuration: configuration,
            // nil: the server's own default (real Call, demo flow, offline voice).
            callFactory: demoCalls || flows != nil ? nil : (callFactory ?? EchoCall.factory(log: calls)),
            flows: flows,
            speech: speech,
            eventLoopGroup: eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton,
            logger: logger,
            onServerRunning: { port in continuation.yield(port) }
        )
        let group = ServiceGroup(configuration: .init(services: [server], logger: logger))
        let task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw RawClient.Timeout(what: "server start") }
        return LiveServer(server: server, port: port, calls: calls, group: group, task: task)
    }

    /// Graceful shutdown, as on SIGTERM; returns when the server has stopped.
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    /// Waits for the server to stop on its own after `triggerGracefulShutdown`.
    func shutdownGracefully() async {
        await group.triggerGracefulShutdown()
    }

    func waitUntilStopped() async throws {
        try await task.value
    }

    func http(_ method: String, _ path: String, headers: [(String, String)] = [], body: String = "") async throws -> RawHTTPResponse {
        try await RawClient.http(port: port, method: method, path: path, headers: headers, body: body)
    }

    /// Signs like Twilio with the implementation under test (only for URLs with a fresh token,
    /// which no fixed vector can cover; the algorithm itself is pinned by literal vectors).
    func sign(_ url: String, _ parameters: [(String, String)] = []) -> String {
        TwilioSignature(authToken: Self.authToken).compute(url: url, parameters: parameters)
    }

    /// Runs the voice webhook for `callSid` and returns the stream path (`/media/TOKEN`).
    func streamPath(callSid: String = Twilio.callSid, extra: [(String, String)] = []) async throws -> String {
        let parameters = [("CallSid", callSid), ("AccountSid", Twilio.accountSid), ("From", "+15551234567"), ("To", "+15557654321")] + extra
        let response = try await http(
            "POST", "/twiml",
            headers: [("X-Twilio-Signature", sign(Self.publicURL + "/twiml", parameters))],
            body: Twilio.form(parameters)
        )
        try #require(response.status == 200, "webhook answered \(response.status): \(response.body)")
        let url = try #require(Self.streamURL(in: response.body))
        return String(url[url.range(of: "/media/")!.lowerBound...])
    }

    /// The `<Stream url="…">` of a TwiML document.
    static func streamURL(in twiml: String) -> String? {
        if let start = twiml.range(of: "<Stream url=\""), let end = twiml[start.upperBound...].firstIndex(of: "\"") {
            return String(twiml[start.upperBound..<end])
        }
        // Plivo XML: the URL is the element's text.
        return try? PlivoStreamXML.parse(twiml).url
    }

    /// Webhook + upgrade (signed) + connected + start: a streaming call.
    func startCall(callSid: String = Twilio.callSid, streamSid: String = Twilio.streamSid) async throws -> MediaSocket {
        let path = try await streamPath(callSid: callSid)
        let socket = try await MediaSocket.connect(
            port: port,
            path: path,
            headers: [("X-Twilio-Signature", sign("wss://voice.example.com" + path))]
        )
        try await socket.sendText(Twilio.connected())
        try await socket.sendText(Twilio.start(callSid: callSid, streamSid: streamSid))
        return socket
    }

    /// Polls `/healthz` until it reports `activeCalls`.
    func waitForActiveCalls(_ expected: Int, timeout: Duration = .seconds(5)) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            let health = try await http("GET", "/healthz")
            if health.body.contains("\"activeCalls\":\(expected)}") { return }
            if ContinuousClock.now >= deadline {
                throw RawClient.Timeout(what: "activeCalls == \(expected), last \(health.body)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// What test calls saw, shared with the test body.
final class CallLog: Sendable {
    private let entries = NIOLockedValueBox<[String]>([])

    func append(_ entry: String) { entries.withLockedValue { $0.append(entry) } }
    var all: [String] { entries.withLockedValue { $0 } }
    func count(_ entry: String) -> Int { all.filter { $0 == entry }.count }

    /// The first entry that satisfies `matches` (calls whose id the server made up: Asterisk's).
    func waitForEntry(timeout: Duration = .seconds(5), _ matches: (String) -> Bool) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let entry = all.first(where: matches) { return entry }
            if ContinuousClock.now >= deadline { throw RawClient.Timeout(what: "a matching call log entry; have \(all)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    func waitFor(_ entry: String, timeout: Duration = .seconds(5)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !all.contains(entry) {
            if ContinuousClock.now >= deadline { throw RawClient.Timeout(what: "call log entry \(entry); have \(all)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

/// A scripted call at the transport boundary: echoes each inbound media frame back, answers a
/// DTMF key with `clear` + a mark, ends on `stop`, status callback or shutdown, and logs it all
/// as "<callSid>:<what>".
final class EchoCall: MediaCall {
    private let sink: any CarrierSink
    private let context: MediaCallContext
    private let log: CallLog

    init(context: MediaCallContext, sink: any CarrierSink, log: CallLog) {
        self.context = context
        self.sink = sink
        self.log = log
        log.append("\(context.callSid):created:\(context.parameters["From"] ?? "-")")
    }

    static func factory(log: CallLog) -> MediaCallFactory {
        { context, sink in EchoCall(context: context, sink: sink, log: log) }
    }

    func receive(_ event: CarrierEvent) {
        switch event {
        case .start:
            log.append("\(context.callSid):start")
            context.observer.callStarted()
        case .media(let media):
            media.payload.withUnsafeReadableBytes { sink.sendMedia($0) }
            sink.flush()
            context.observer.frameSent(gapNanos: 20_000_000)
        case .dtmf(let press):
            log.append("\(context.callSid):dtmf:\(press.digit)")
            sink.sendClear()
            sink.sendMark("dtmf.\(press.digit)")
            sink.flush()
        case .stop:
            log.append("\(context.callSid):stop")
            sink.close(.carrierStop)
        case .connected, .mark, .notice:
            break
        }
    }

    func socketClosed() {
        if let handler = sink as? MediaStreamHandler<TwilioDialect> {
            log.append("\(context.callSid):outboundBuffers:\(handler.outboundBufferAllocations)")
        }
        log.append("\(context.callSid):socketClosed")
        context.observer.callEnded(.socketClosed)
    }

    func statusCallback(_ status: String) {
        log.append("\(context.callSid):status:\(status)")
        sink.close(.statusCallback(status))
    }

    func shutdown() {
        log.append("\(context.callSid):shutdown")
    }
}
