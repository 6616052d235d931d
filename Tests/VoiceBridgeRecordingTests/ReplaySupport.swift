import Foundation
import VoiceBridgeAudio
import VoiceBridgeCalls
import VoiceBridgeRecording
import VoiceBridgeServer

/// What the tests replay with: what `voicebridge replay` runs, the demo menu ("demo") and the
/// declarative flows of config/flows, found from this file's path.
enum TestFlows {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let flows = try! ReplayFlows(flowsDirectory: root + "/config/flows", catalogPath: root + "/config/prompts.yaml")

    static func resolve(_ name: String) throws -> any CallFlow {
        try flows.resolve(name)
    }

    static var engine: ReplayEngine { ReplayEngine(flowsForRecording: flows.resolve(recording:)) }

    static func engine(_ configure: @escaping (inout CallConfiguration) -> Void) -> ReplayEngine {
        var options = ReplayEngine.Options()
        options.configure = configure
        return ReplayEngine(flowsForRecording: flows.resolve(recording:), options: options)
    }
}

enum Fixtures {
    /// fixtures/calls at the top of the package, found from this file's path.
    static var callsDirectory: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("fixtures/calls")
    }

    static var callFiles: [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: callsDirectory.path)) ?? []
        return names.filter { $0.hasSuffix(".jsonl") }.sorted().map { callsDirectory.appendingPathComponent($0) }
    }

    static func load(_ name: String) throws -> RecordedCall {
        try RecordedCall(contentsOf: callsDirectory.appendingPathComponent(name).path)
    }
}

/// Hand-written calls used by several tests, with their expectations filled in by `--update`'s
/// code path.
enum HandWritten {
    /// The README's worked example: the caller presses 1 during the greeting, hears the answer
    /// and the menu, then presses 9; the goodbye plays and the call hangs up after its mark.
    static let menu = """
        {"recording":"voicebridge-call","version":1,"flow":"demo","carrier":"simulated"}
        {"t":0,"start":{}}
        {"t":2000,"dtmf":"1"}
        {"t":30000,"dtmf":"9"}
        """

    /// Caller speech at 2 s barges in on the greeting.
    static let speechBargeIn = """
        {"recording":"voicebridge-call","version":1,"flow":"demo","carrier":"simulated","durationMs":6000}
        {"t":0,"start":{}}
        {"t":2000,"speech":{"ms":700}}
        """

    /// A 60 s call: nobody presses anything, so the menu repeats and the flow says goodbye.
    static let sixtySeconds = """
        {"recording":"voicebridge-call","version":1,"flow":"demo","carrier":"simulated","durationMs":60000}
        {"t":0,"start":{}}
        """

    /// The hand-written text with its expectations filled in.
    static func updated(_ text: String) throws -> RecordedCall {
        let result = try TestFlows.engine.replay(try RecordedCall(text: text))
        return try RecordedCall(text: result.updatedText)
    }
}
