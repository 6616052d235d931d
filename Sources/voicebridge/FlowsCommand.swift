import ArgumentParser
import Foundation
import VoiceBridgeFlows
import VoiceBridgePrompts

/// `voicebridge flows …`: work with the declarative IVR flows in config/flows.
struct FlowsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flows",
        abstract: "Work with the IVR flows in config/flows.",
        subcommands: [CheckCommand.self]
    )
}

extension FlowsCommand {
    /// `voicebridge flows check [DIR]`: every problem, with its file and line; exit 1 on errors.
    struct CheckCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Validate flows: unknown steps, bad references, unreachable steps, missing prompts.",
            discussion: "Prints each problem as FILE:LINE: error|warning: MESSAGE. Exits 1 if there is any error."
        )

        @Argument(help: "The flow directory.")
        var directory = "config/flows"

        @Option(help: "The prompt catalogue whose ids `play:` may name (skipped if the file doesn't exist).")
        var prompts = "config/prompts.yaml"

        func run() throws {
            let known = try FlowsCommand.promptIDs(catalog: prompts)
            let (library, diagnostics) = FlowLibrary.inspect(directory: directory, knownPrompts: known)
            for d in diagnostics.sorted(by: { ($0.location.file, $0.location.line) < ($1.location.file, $1.location.line) }) {
                print(d.description)
            }
            let errors = diagnostics.filter { $0.severity == .error }.count
            if let library, errors == 0 {
                let names = library.flows.map { flow in
                    let numbers = flow.definition.numbers.joined(separator: ", ")
                    return "\(flow.definition.name) (\(flow.definition.file)\(flow.definition.isDefault ? ", default" : "")\(numbers.isEmpty ? "" : ", \(numbers)"))"
                }
                print("ok: \(names.count) flow\(names.count == 1 ? "" : "s"): \(names.joined(separator: "; "))\(known == nil ? " (prompt ids not checked: no catalogue)" : "")")
            } else {
                print("\(errors) error\(errors == 1 ? "" : "s")")
                throw ExitCode(1)
            }
        }
    }
}

extension FlowsCommand {
    /// The prompt ids of a catalogue; nil when it doesn't exist (nothing to check against).
    static func promptIDs(catalog path: String) throws -> Set<String>? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            return Set(try PromptCatalog.load(path: path).ids)
        } catch {
            throw CommandFailure(error.description)
        }
    }
}
