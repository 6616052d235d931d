import ArgumentParser

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
