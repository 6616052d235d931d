import ArgumentParser
import Foundation
import Logging
import VoiceBridgePrompts
import VoiceBridgeSpeech

/// `voicebridge prompts …`: the prompt catalogue, built ahead of calls.
struct PromptsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prompts",
        abstract: "Build the prompt catalogue into audio files for flows to play.",
        subcommands: [BuildCommand.self]
    )
}

extension PromptsCommand {
    /// `voicebridge prompts build [CATALOG] --out DIR`: a thin front for `PromptBuilder`.
    struct BuildCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "build",
            abstract: "Synthesize every prompt of a catalogue into DIR, with a manifest and a cache.",
            discussion: """
                With ELEVENLABS_API_KEY set, each prompt is streamed from ElevenLabs over HTTP \
                (ELEVENLABS_BASE_URL or --base-url picks another server, such as \
                `voicebridge emulate elevenlabs`); without it, the offline voice (espeak-ng) is used. \
                Unchanged prompts come from DIR/.cache and cost nothing. Exits 1, listing each failed \
                prompt and why, when any prompt fails; a rerun retries only those.
                """
        )

        @Argument(help: "The prompt catalogue (YAML).")
        var catalog = "config/prompts.yaml"

        @Option(name: .customLong("out"), help: ArgumentHelp("The build directory.", valueName: "dir"))
        var outputDirectory = "build/prompts"

        @Option(help: "Prompts synthesized at once.")
        var concurrency = 2

        @Flag(help: "Print what would be synthesized and the characters ElevenLabs would bill; request nothing, write nothing.")
        var dryRun = false

        @Option(help: ArgumentHelp("Every prompt in this format: \(PromptFormat.choices).", valueName: "format"))
        var format: String?

        @Option(help: ArgumentHelp("ElevenLabs base URL (default: ELEVENLABS_BASE_URL, else \(ElevenLabsHTTPClient.Configuration.defaultBaseURL)).", valueName: "url"))
        var baseURL: String?

        @Flag(help: "Use the offline voice even when ELEVENLABS_API_KEY is set.")
        var offline = false

        @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
        var logLevel = "warning"

        func validate() throws {
            guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
            if let format, PromptFormat(rawValue: format) == nil {
                throw ValidationError("unknown --format '\(format)'; choose \(PromptFormat.choices)")
            }
            _ = try parseLogLevel(logLevel)
        }

        func run() async throws {
            let level = try parseLogLevel(logLevel)
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            CurlMulti.initializeGlobally()

            let prompts: PromptCatalog
            do {
                prompts = try PromptCatalog.load(path: catalog)
            } catch {
                Self.complain("\(error)")
                throw ExitCode(65)  // EX_DATAERR
            }

            let environment = ProcessInfo.processInfo.environment
            var http = (try? ElevenLabsHTTPClient.Configuration.fromEnvironment(environment))
            if let baseURL { http?.baseURL = baseURL }
            let synthesizer: any PromptSynthesizer
            if let http, !offline || dryRun {
                // A dry run plans against ElevenLabs' cache whether or not a key is set: billing is what it reports.
                synthesizer = ElevenLabsPromptSynthesizer(client: ElevenLabsHTTPClient(configuration: http, logger: Logger(label: "voicebridge.prompts")))
                if !dryRun { Self.say("building \(prompts.prompts.count) prompts with ElevenLabs at \(http.baseURL) into \(outputDirectory)") }
            } else if dryRun {
                let placeholder = ElevenLabsHTTPClient.Configuration(apiKey: "", baseURL: baseURL ?? environment["ELEVENLABS_BASE_URL"] ?? ElevenLabsHTTPClient.Configuration.defaultBaseURL)
                synthesizer = ElevenLabsPromptSynthesizer(client: ElevenLabsHTTPClient(configuration: placeholder))
                Self.say("no ELEVENLABS_API_KEY: a real build would use the offline voice; counting what ElevenLabs would bill")
            } else {
                synthesizer = OfflinePromptSynthesizer()
                Self.say(offline
                    ? "building \(prompts.prompts.count) prompts with the offline voice (espeak-ng), as asked, into \(outputDirectory)"
                    : "no ELEVENLABS_API_KEY: building \(prompts.prompts.count) prompts with the offline voice (espeak-ng) into \(outputDirectory)")
            }

            let builder = PromptBuilder(synthesizer: synthesizer, options: .init(
                outputDirectory: outputDirectory, concurrency: concurrency, dryRun: dryRun, format: format.flatMap(PromptFormat.init(rawValue:))
            ))
            let printer = PromptBuildProgress(isTerminal: isatty(STDOUT_FILENO) != 0) { Self.say($0, newline: false) }
            let report: PromptBuildReport
            do {
                report = try await builder.build(prompts) { event in
                    if !dryRun { printer.handle(event) }
                }
            } catch {
                Self.complain("\(error)")
                throw ExitCode.failure
            }
            if report.succeeded {
                Self.say(report.summary)
            } else {
                FileHandle.standardError.write(Data((report.summary + "\n").utf8))
                throw ExitCode.failure
            }
        }

        static func say(_ text: String, newline: Bool = true) {
            FileHandle.standardOutput.write(Data((newline ? text + "\n" : text).utf8))
        }

        static func complain(_ message: String) {
            FileHandle.standardError.write(Data("voicebridge prompts build: error: \(message)\n".utf8))
        }
    }
}
