import Foundation
import Testing
@testable import VoiceBridgeServer

/// Optional TLS from PEM files: a self-signed pair made by the openssl tool, checked with curl.
/// Skipped where either tool is missing (both are Debian packages, not build dependencies).
@Suite struct TLSTests {
    static let tools = ["/usr/bin/openssl", "/usr/bin/curl"]
    static var toolsPresent: Bool { tools.allSatisfy { FileManager.default.isExecutableFile(atPath: $0) } }

    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test(.enabled(if: toolsPresent), .timeLimit(.minutes(1)))
    func servesHTTPSFromPEMFiles() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vb-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let cert = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        let generated = try Self.run("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
            "-days", "1", "-subj", "/CN=127.0.0.1",
        ])
        try #require(generated.status == 0)

        try await LiveServer.with(configure: {
            $0.tlsCertificatePath = cert
            $0.tlsKeyPath = key
        }) { server in
            let (status, body) = try await Task.detached {
                try Self.run("/usr/bin/curl", ["-sk", "--max-time", "10", "https://127.0.0.1:\(server.port)/healthz"])
            }.value
            #expect(status == 0)
            #expect(body == #"{"status":"ok","activeCalls":0}"#)
        }
    }

    @Test func unreadableTLSFilesFailTheStart() throws {
        var configuration = BridgeConfiguration()
        configuration.tlsCertificatePath = "/nonexistent/cert.pem"
        configuration.tlsKeyPath = "/nonexistent/key.pem"
        #expect(throws: ConfigurationError.self) { try VoiceBridgeServer(configuration: configuration) }
    }
}
