import ArgumentParser
import Foundation
import VoiceBridgeCalls
import VoiceBridgeRecording
import VoiceBridgeServer

/// `voicebridge replay FILE|DIR`: runs recorded calls again through the current call engine on a
/// virtual clock and compares what the bridge sends with the recording.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay recorded calls on a virtual clock and diff what the bridge sends against the recording.",
        discussion: """
            FILE is a recording (.jsonl) made by `serve --record DIR` or written by hand \
            (docs/recording-format.md); a DIR replays every .jsonl in it. Frames must match byte \
            for byte; frames, marks, clears and the hang-up must be in the same order and each \
            within the tolerance (one frame, 20 ms, unless the header sets toleranceMs). \
            Exits 1 on any divergence, or for a file with no expectations yet. \
            --html PATH also writes the call as a timeline page (waveforms, prompts, clears, keys, \
            barge-in verdicts, the first divergence) that opens offline in any browser.
            """
    )

    @Argument(help: "Recordings (.jsonl files) or directories of them.")
    var paths: [String]

    @Flag(help: "Rewrite each file's expectations with what the call sends now (deliberately accepting the change).")
    var update = false

    @Flag(help: "Print only failures and the summary.")
    var quiet = false

    @Option(help: "Where recordings' declarative flows are found, by name (empty: only the demo menu).")
    var flows = "config/flows"

    @Option(help: "The prompt catalogue: `play:` steps speak its texts (replays use the recorded speech).")
    var prompts = "config/prompts.yaml"

    @Option(help: ArgumentHelp("Also write the call's timeline as a self-contained HTML page (one FILE only).", valueName: "path"))
    var html: String?

    func validate() throws {
        let files = try Self.recordings(in: paths)
        guard !files.isEmpty else { throw ValidationError("no .jsonl recordings in \(paths.joined(separator: ", "))") }
        if html != nil {
            guard paths.count == 1, files == paths else { throw ValidationError("--html takes one FILE (a .jsonl recording), not a directory or several files") }
            guard !update else { throw ValidationError("--html and --update do not go together: update first, then draw the timeline") }
        }
    }

    func run() throws {
        let files = try Self.recordings(in: paths)
        let replayFlows = try ReplayFlows(flowsDirectory: flows.isEmpty ? nil : flows, catalogPath: prompts)
        let engine = ReplayEngine(flowsForRecording: replayFlows.resolve(recording:))
        var failed = 0
        for file in files {
            let recording: RecordedCall
            do {
                recording = try RecordedCall(contentsOf: file)
            } catch {
                print("ERROR \(file): \(error)")
                failed += 1
                continue
            }
            let result = try engine.replay(recording, path: file)
            if update {
                try result.updatedText.write(toFile: file, atomically: true, encoding: .utf8)
                print("updated \(file) (\(result.actual.count) outbound events)")
                continue
            }
            if !result.passed { failed += 1 }
            if !result.passed || !quiet { print(result.report, terminator: "") }
            if let html {
                try TimelineHTML.page(CallTimeline(result)).write(toFile: html, atomically: true, encoding: .utf8)
                if !quiet { print("timeline: \(html)") }
            }
        }
        if !update {
            print("\(files.count - failed) of \(files.count) replayed as recorded")
        }
        if failed > 0 { throw ExitCode(1) }
    }

    /// Files as given; directories expand to their .jsonl files, sorted.
    static func recordings(in paths: [String]) throws -> [String] {
        var out: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw ValidationError("no such file or directory: \(path)")
            }
            if isDirectory.boolValue {
                let names = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".jsonl") }.sorted()
                out += names.map { (path as NSString).appendingPathComponent($0) }
            } else {
                out.append(path)
            }
        }
        return out
    }
}
