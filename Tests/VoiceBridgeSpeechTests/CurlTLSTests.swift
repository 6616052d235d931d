import Foundation
import Testing
import VoiceBridgeSpeech

/// Debian's ca-certificates (in scripts/apt-packages.txt) depends on the openssl package.
private let opensslTool = "/usr/bin/openssl"

/// TLS through libcurl against `openssl s_server` on loopback with a throwaway self-signed
/// certificate: verification is on by default, and a CA bundle makes a local certificate trusted.
@Suite(.timeLimit(.minutes(1)), .enabled(if: FileManager.default.isExecutableFile(atPath: opensslTool)))
struct CurlTLSTests {
    static let openssl = opensslTool

    @Test func verificationIsOnByDefaultAndACABundleTrustsALocalCertificate() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vb-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let cert = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        try run(Self.openssl, [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ])

        let log = directory.appendingPathComponent("server.log")
        try #require(FileManager.default.createFile(atPath: log.path, contents: nil))
        let server = Process()
        server.executableURL = URL(fileURLWithPath: Self.openssl)
        // Exits by itself after the two connections below.
        server.arguments = ["s_server", "-accept", "127.0.0.1:0", "-cert", cert, "-key", key, "-www", "-naccept", "2"]
        server.standardOutput = try FileHandle(forWritingTo: log)
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            // SIGKILL, not terminate(): the child inherits the test process's signal mask, in which
            // SIGTERM is blocked.
            if server.isRunning { kill(server.processIdentifier, SIGKILL) }
            server.waitUntilExit()
        }
        let port = try await acceptedPort(in: log)
        let url = "https://127.0.0.1:\(port)/"

        let refused = await #expect(throws: HTTPTransferError.self) {
            _ = try await CurlMulti.shared.perform(HTTPRequest(url: url, connectTimeout: .seconds(5)))
        }
        #expect(refused?.kind == .tls, "an unknown certificate must not be trusted: \(String(describing: refused))")

        let (head, body) = try await CurlMulti.shared.perform(HTTPRequest(url: url, connectTimeout: .seconds(5), caBundlePath: cert))
        #expect(head.status == 200)
        #expect(!body.isEmpty)
    }

    private func run(_ tool: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "\(tool) \(arguments.first ?? "") failed")
    }

    /// s_server prints "ACCEPT 127.0.0.1:PORT" once it listens.
    private func acceptedPort(in log: URL) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("ACCEPT") }),
                let port = line.split(separator: ":").last.flatMap({ Int($0) })
            {
                return port
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw CancellationError()
    }
}
