import Foundation
import VoiceBridgeRecording

/// The recorded calls of `serve --record`, for the console: a list, and each call's timeline
/// (the page `voicebridge replay FILE --html` writes), replayed when asked for. Nothing is done
/// for a recording until its page is opened, and the work runs on the task that asked.
struct ConsoleRecordings: Sendable {
    let directory: String
    let flowsDirectory: String?
    let catalogPath: String?

    struct Entry: Sendable, Equatable {
        var name: String
        var modified: Date
        var bytes: Int
    }

    /// The finished recordings, newest first. A call still being recorded has its JSON Lines
    /// file but not yet its bridge WAV, which the recorder writes last.
    func list() -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".jsonl") && names.contains(Self.stem($0) + ".bridge.wav") }.compactMap { name in
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: directory + "/" + name) else { return nil }
            return Entry(
                name: name, modified: attributes[.modificationDate] as? Date ?? .distantPast,
                bytes: (attributes[.size] as? NSNumber)?.intValue ?? 0)
        }.sorted { ($0.modified, $0.name) > ($1.modified, $1.name) }
    }

    /// The timeline page of one recording, by its file name; nil for a name that is not a
    /// finished recording in the directory (no paths: `/`, `..` and hidden names are refused).
    func timeline(named name: String) throws -> String? {
        guard Self.isPlainName(name), list().contains(where: { $0.name == name }) else { return nil }
        let flows = try ReplayFlows(flowsDirectory: flowsDirectory, catalogPath: catalogPath)
        let engine = ReplayEngine(flowsForRecording: flows.resolve(recording:))
        return try TimelineHTML.page(recordingAt: directory + "/" + name, engine: engine)
    }

    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && !name.hasPrefix(".") && !name.contains("/") && !name.contains("\\") && name.hasSuffix(".jsonl")
    }

    private static func stem(_ name: String) -> String { String(name.dropLast(".jsonl".count)) }

    /// The list as a page of links (names are CallSids, escaped all the same).
    func listPage() -> String {
        let rows = list().map { entry in
            let name = TimelineHTML.escape(entry.name)
            let when = ISO8601DateFormatter().string(from: entry.modified)
            return "<tr><td><a href=\"/console/recordings/\(name)\">\(name)</a></td><td>\(when)</td><td>\(entry.bytes / 1024) KiB</td></tr>"
        }.joined(separator: "\n")
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Recorded calls · VoiceBridge</title>
            <link rel="stylesheet" href="/console/app.css"></head>
            <body><header><h1>VoiceBridge <span>recorded calls</span></h1><a href="/console">live console</a></header>
            <main><p>Each call's timeline replays the recording through this bridge: both voices, prompts, marks, clears, keys and barge-in verdicts.</p>
            <table id="recordings"><thead><tr><th>call</th><th>recorded</th><th>size</th></tr></thead><tbody>
            \(rows.isEmpty ? "<tr><td colspan=\"3\">No finished recordings yet.</td></tr>" : rows)
            </tbody></table></main></body></html>
            """
    }
}
