import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization
import Testing

/// Secrets never reach a log, at any level: `serve --log-level trace` with every secret set, one
/// call through the phone simulator with ElevenLabs (the emulator) speaking, the control API and
/// /metrics, then SIGTERM; every line the server and the emulator wrote is searched for each
/// secret, as text and as the bytes a configuration dump would print.
@Suite(.timeLimit(.minutes(1)))
struct SecretLoggingTests {
    final class Output: Sendable {
        private let text = Mutex("")
        func append(_ data: Data) { text.withLock { $0 += String(decoding: data, as: UTF8.self) } }
        var value: String { text.withLock { $0 } }
    }

    /// Starts `arguments`, collecting stdout and stderr together.
    static func start(_ arguments: [String], environment: [String: String] = [:]) throws -> (Process, Output) {
        let binary = try #require(CLIErrorTests.binary, "build voicebridge first")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.currentDirectoryURL = URL(fileURLWithPath: #filePath.replacingOccurrences(of: "Tests/VoiceBridgeCLITests/SecretLoggingTests.swift", with: ""))
        let output = Output()
        let pipe = Pipe()
        pipe.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData) }
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        return (process, output)
    }

    /// Waits for a process without blocking a thread of the cooperative pool (two on this
    /// machine: a blocking wait would starve every other test's timing).
    static func exit(of process: Process) async {
        while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
    }

    /// The first number after `marker` on the first line that contains `line`, once it appears.
    static func port(in output: Output, line: String, after marker: String) async throws -> Int {
        for _ in 0..<300 {
            if let found = output.value.split(separator: "\n").first(where: { $0.contains(line) }), let range = found.range(of: marker) {
                let digits = found[range.upperBound...].drop { !$0.isNumber }.prefix { $0.isNumber }
                if let port = Int(digits) { return port }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw CancellationError()
    }

    @Test func noSecretReachesAnyLogLineOfATraceLevelRun() async throws {
        let secrets = [
            "TWILIO_AUTH_TOKEN": "twilio-secret-4f8a1c2e9b7d",
            "ELEVENLABS_API_KEY": "xi-secret-6d2b9e4a1f3c",
            "VOICEBRIDGE_CONTROL_TOKEN": "control-secret-8e1f4a7b2c9d",
            "VOICEBRIDGE_TOKEN_SECRET": "signing-secret-3a9c6e1d8b4f",
        ]
        let (emulator, emulatorOutput) = try Self.start(
            ["emulate", "elevenlabs", "--voice", "known", "--port", "0", "--api-key", secrets["ELEVENLABS_API_KEY"]!])
        defer { emulator.terminate() }
        let emulatorPort = try await Self.port(in: emulatorOutput, line: "ElevenLabs emulator on", after: "127.0.0.1:")
        var environment = secrets
        environment["ELEVENLABS_BASE_URL"] = "http://127.0.0.1:\(emulatorPort)"
        let (server, serverOutput) = try Self.start(["serve", "--port", "0", "--log-level", "trace"], environment: environment)
        defer { if server.isRunning { server.terminate() } }
        let port = try await Self.port(in: serverOutput, line: "] listening", after: "port=")

        let (caller, callerOutput) = try Self.start(
            ["call", "http://127.0.0.1:\(port)/twiml", "--auth-token", secrets["TWILIO_AUTH_TOKEN"]!, "--dtmf", "1.5:1", "--hangup-at", "3"])
        await Self.exit(of: caller)
        #expect(caller.terminationStatus == 0, "\(callerOutput.value)")
        for path in ["/metrics", "/calls", "/healthz"] {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
            request.setValue("Bearer \(secrets["VOICEBRIDGE_CONTROL_TOKEN"]!)", forHTTPHeaderField: "Authorization")
            _ = try? await URLSession.shared.data(for: request)
        }
        server.terminate()  // SIGTERM: the drain logs too
        await Self.exit(of: server)
        try await Task.sleep(for: .milliseconds(100))

        let logs = serverOutput.value + emulatorOutput.value
        #expect(logs.contains("trace") || logs.contains("debug"), "a trace-level run logs plenty")
        #expect(logs.contains("call ended"))
        for (name, secret) in secrets {
            #expect(!logs.contains(secret), "\(name) was logged")
            let bytes = Array(secret.utf8).map(String.init).joined(separator: ", ")
            #expect(!logs.contains(bytes), "\(name) was logged as bytes")
        }
    }
}
