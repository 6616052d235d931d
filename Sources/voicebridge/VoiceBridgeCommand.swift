import ArgumentParser
import Logging

@main
struct VoiceBridgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voicebridge",
        abstract: "A telephony voice bridge: Twilio Media Streams in, ElevenLabs (or an offline voice) out.",
        version: VoiceBridgeVersion.current,
        subcommands: [ServeCommand.self, CallCommand.self, SayCommand.self, FlowsCommand.self, PromptsCommand.self, ReplayCommand.self, EmulateCommand.self]
    )
}

enum VoiceBridgeVersion {
    static let current = "0.1.0"
}

/// `--log-level` as a level. Every command checks it in `validate()`, so a typo is reported with
/// that command's usage.
func parseLogLevel(_ name: String) throws -> Logger.Level {
    guard let level = Logger.Level(rawValue: name.lowercased()) else {
        throw ValidationError("unknown --log-level \(name) (trace, debug, info, notice, warning, error, critical)")
    }
    return level
}

/// A failure while a command runs, not a mistake in how it was called: reported without usage.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
