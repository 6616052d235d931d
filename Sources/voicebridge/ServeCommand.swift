import ArgumentParser
import Logging
import NIOCore
import NIOPosix
import VoiceBridgeServer

/// `voicebridge serve`: the webhook, status callback, health, metrics and media sockets on one port.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the bridge: Twilio webhook + Media Streams WebSocket on one port.",
        discussion: """
            Settings come from the config file, then environment variables \
            (PUBLIC_URL, TWILIO_AUTH_TOKEN, TWILIO_ACCOUNT_SID, ELEVENLABS_API_KEY, VOICEBRIDGE_HOST, \
            VOICEBRIDGE_PORT, VOICEBRIDGE_SIGNATURE_MODE, VOICEBRIDGE_TOKEN_SECRET, ...), then these flags. \
            SIGTERM or SIGINT stops new calls and drains live ones.
            """
    )

    @Option(help: "Address to bind (default 0.0.0.0: every interface).")
    var host: String?

    @Option(help: "Port to bind (default 8080; 0 picks a free port).")
    var port: Int?

    @Option(help: "Config file (default config/voicebridge.yaml if present, else built-in defaults).")
    var config: String?

    @Option(help: "Public base URL Twilio reaches this server at (overrides PUBLIC_URL).")
    var publicURL: String?

    @Option(help: "WebSocket upgrade signature mode: enforce or log.")
    var signatureMode: String?

    @Option(help: "Flow directory (overrides flows.dir; an empty value runs the built-in demo menu).")
    var flows: String?

    @Option(help: "Record every call into this directory: JSON Lines + a WAV per direction (see docs/recording-format.md).")
    var record: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        if let port, !(0...65535).contains(port) { throw ValidationError("--port must be 0-65535") }
        if let signatureMode, BridgeConfiguration.SignatureMode(rawValue: signatureMode.lowercased()) == nil {
            throw ValidationError("--signature-mode must be enforce or log")
        }
        _ = try parseLogLevel(logLevel)
    }

    func run() async throws {
        var configuration = try BridgeConfiguration.load(path: config)
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        if let publicURL { configuration.publicURL = publicURL }
        if let flows { configuration.flowsDirectory = flows.isEmpty ? nil : flows }
        if let record { configuration.recordDirectory = record }
        if let mode = signatureMode.flatMap({ BridgeConfiguration.SignatureMode(rawValue: $0.lowercased()) }) {
            configuration.signatureMode = mode
        }
        let level = try parseLogLevel(logLevel)
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "voicebridge")
        let served = try ServedFlows.load(configuration: configuration, logger: logger)
        // One loop per CPU this process may use (taskset, cgroup quota), unless configured.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.eventLoops ?? CPUBudget.available)
        let server = try VoiceBridgeServer(configuration: configuration, flows: served, eventLoopGroup: group, logger: logger)
        try await server.runUntilSignalled()
        try? await group.shutdownGracefully()
    }
}
