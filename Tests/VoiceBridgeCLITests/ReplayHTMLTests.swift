import ArgumentParser
import Foundation
import Testing
@testable import voicebridge

/// `replay FILE --html PATH`: one recording, one page; the exit status still says whether the
/// replay matched.
@Suite struct ReplayHTMLTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let calls = root.appendingPathComponent("fixtures/calls")

    static func arguments(_ paths: [String], _ extra: [String] = []) -> [String] {
        paths + ["--flows", root.appendingPathComponent("config/flows").path, "--prompts", root.appendingPathComponent("config/prompts.yaml").path] + extra
    }

    @Test func htmlTakesOneFileOnly() {
        #expect(throws: (any Error).self) { try ReplayCommand.parse(Self.arguments([Self.calls.path], ["--html", "/tmp/x.html"])) }
        let two = ["03-barge-in-dtmf.jsonl", "02-barge-in-speech.jsonl"].map { Self.calls.appendingPathComponent($0).path }
        #expect(throws: (any Error).self) { try ReplayCommand.parse(Self.arguments(two, ["--html", "/tmp/x.html"])) }
        let one = Self.calls.appendingPathComponent("03-barge-in-dtmf.jsonl").path
        #expect(throws: (any Error).self) { try ReplayCommand.parse(Self.arguments([one], ["--html", "/tmp/x.html", "--update"])) }
        #expect(throws: Never.self) { try ReplayCommand.parse(Self.arguments([one], ["--html", "/tmp/x.html"])) }
    }

    @Test func writesThePageForAPassingReplay() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("timeline-\(UUID().uuidString).html")
        defer { try? FileManager.default.removeItem(at: out) }
        let file = Self.calls.appendingPathComponent("03-barge-in-dtmf.jsonl").path
        let command = try ReplayCommand.parse(Self.arguments([file], ["--html", out.path, "--quiet"]))
        try command.run()
        let html = try String(contentsOf: out, encoding: .utf8)
        #expect(html.contains(#"data-kind="clear""#))
        #expect(html.contains(#"data-verdict="passed""#))
    }
}
