import Foundation
import Testing

/// How the built `voicebridge` reports mistakes, as a new user meets them: the subcommand's own
/// usage, one line per configuration problem with its line number, and no Foundation error dumps.
@Suite struct CLIErrorTests {
    /// The binary `swift build` / `swift test` put beside the test bundle.
    static var binary: String? {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("voicebridge").path
        let fallback = #filePath.replacingOccurrences(of: "Tests/VoiceBridgeCLITests/CLIErrorTests.swift", with: ".build/debug/voicebridge")
        return [beside, fallback].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs the binary in an empty directory; returns its exit status and everything it wrote.
    static func run(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let binary = try #require(Self.binary, "build voicebridge first")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let output = SecretLoggingTests.Output()
        let pipe = Pipe()
        pipe.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData) }
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        await SecretLoggingTests.exit(of: process)
        try await Task.sleep(for: .milliseconds(50))  // the pipe's last bytes
        return (process.terminationStatus, output.value)
    }

    @Test func aBadOptionValueShowsTheSubcommandsUsage() async throws {
        let (status, output) = try await Self.run(["serve", "--port", "70000"])
        #expect(status != 0)
        #expect(output.contains("--port must be 0-65535"))
        #expect(output.contains("Usage: voicebridge serve"), "\(output)")
        #expect(!output.contains("<subcommand>"), "not the top level's usage")
    }

    /// Times beyond a day are refused: `--hangup-at 1e300` trapped converting it to ms.
    @Test func anAbsurdTimeIsAClearErrorNotATrap() async throws {
        for option in ["--hangup-at", "--max-duration", "--ramp"] {
            let (status, output) = try await Self.run(["call", "http://127.0.0.1:9/twiml", option, "1e300"])
            #expect(status == 64, "\(option): \(output)")
            #expect(output.contains("\(option) must be within 0...86400 seconds"), "\(output)")
        }
    }

    @Test func aMissingCallerWAVIsOneClearLine() async throws {
        let (status, output) = try await Self.run(["call", "http://127.0.0.1:9/twiml", "--caller-wav", "/no/such/caller.wav"])
        #expect(status != 0)
        #expect(output.contains("/no/such/caller.wav") && output.contains("no such file"), "\(output)")
        #expect(!output.contains("NSCocoaErrorDomain") && !output.contains("Error Domain"), "\(output)")
        #expect(output.contains("Usage: voicebridge call"))
    }

    @Test func aBadSayCueIsOneClearLine() async throws {
        let (status, output) = try await Self.run(["call", "http://127.0.0.1:9/twiml", "--say", "3.0:pay my bill", "--say", "4:price $5"])
        #expect(status != 0)
        #expect(output.contains("bad --say '4:price $5': '$' at position 6 cannot be spoken in the code"), "\(output)")
        #expect(output.contains("Usage: voicebridge call"))
        let (_, missing) = try await Self.run(["call", "http://127.0.0.1:9/twiml", "--say", "pay my bill"])
        #expect(missing.contains("bad --say 'pay my bill': expected SECONDS:TEXT"), "\(missing)")
    }

    @Test func everyUnknownConfigurationKeyIsReportedWithItsLine() async throws {
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: config) }
        try "server:\n  prot: 8080\n  host: 127.0.0.1\nvoice:\n  nmae: en-us\n".write(toFile: config, atomically: true, encoding: .utf8)
        let (status, output) = try await Self.run(["serve", "--config", config])
        #expect(status != 0)
        #expect(output.contains("\(config):2: unknown key server.prot"), "\(output)")
        #expect(output.contains("\(config):5: unknown key voice.nmae"), "\(output)")
    }

    @Test func anInvalidScheduleIsAnErrorWithoutAKeyToo() async throws {
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("schedule-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: config) }
        try "elevenlabs:\n  schedule: \"1,2\"\n".write(toFile: config, atomically: true, encoding: .utf8)
        let (status, output) = try await Self.run(["serve", "--config", config])
        #expect(status != 0)
        #expect(output.contains("elevenlabs.schedule"), "\(output)")
    }
}
