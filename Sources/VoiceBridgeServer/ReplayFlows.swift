import Foundation
import Logging
import VoiceBridgeCalls
import VoiceBridgeFlows
import VoiceBridgePrompts
import VoiceBridgeRecording
import VoiceBridgeRelay

/// The flows a replay can run, by the name in the recording's header: "demo" is the demo menu,
/// any other name a declarative flow of `flowsDirectory`.
///
/// A replay plays prompts as the recording heard them: `play:` steps speak the catalogue's text,
/// and the recorded speech stands in for the voice. A call whose whole flow is a relay session
/// replays with the recorded app (`ReplayEngine`); webhook replies and a flow's `relay` step are
/// outside the call and not recorded, so flows that use them replay only up to that step.
public struct ReplayFlows: Sendable {
    public let library: FlowLibrary?
    public let prompts: PromptLibrary

    public init(flowsDirectory: String?, catalogPath: String?) throws {
        if let flowsDirectory, FileManager.default.fileExists(atPath: flowsDirectory) {
            library = try FlowLibrary.load(directory: flowsDirectory)
        } else {
            library = nil
        }
        if let catalogPath, FileManager.default.fileExists(atPath: catalogPath) {
            let catalog = try PromptCatalog.load(path: catalogPath)
            prompts = PromptLibrary(texts: Dictionary(uniqueKeysWithValues: catalog.prompts.map { ($0.id, $0.text) }))
        } else {
            prompts = PromptLibrary()
        }
    }

    public func resolve(_ name: String) throws -> any CallFlow {
        try resolve(name, promptAudio: [:])
    }

    /// The recording's flow, playing the built prompts' audio the recording kept.
    public func resolve(recording: RecordedCall) throws -> any CallFlow {
        try resolve(recording.header.flow, promptAudio: recording.promptAudioByText)
    }

    private func resolve(_ name: String, promptAudio: [String: [UInt8]]) throws -> any CallFlow {
        if name == "demo" || name == "DemoMenuFlow" { return DemoCalls.makeDemoFlow() }
        if let flow = library?.flow(named: name) {
            let prompts = RecordedPrompts(catalog: prompts, audioByText: promptAudio)
            // A replay's output is its diff: the flow's own log stays quiet below warnings.
            var logger = Logger(label: "voicebridge.replay.flow")
            logger.logLevel = .warning
            return DeclarativeFlow(flow: flow, environment: FlowEnvironment(prompts: prompts), logger: logger)
        }
        throw UnknownFlowError(name: name)
    }
}

/// Prompts as a recording heard them: the audio it kept for a prompt whose catalogue text is
/// unchanged, else the text (spoken by the recorded or stand-in voice).
struct RecordedPrompts: FlowPromptSource {
    let catalog: PromptLibrary
    let audioByText: [String: [UInt8]]

    func audio(forPrompt id: String) -> [UInt8]? {
        catalog.text(for: id).flatMap { audioByText[$0] }
    }

    func text(forPrompt id: String) -> String? { catalog.text(for: id) }
}

extension RecordedFlowName {
    /// What a recording's header calls `flow`, so `ReplayFlows` finds it again.
    public static func name(of flow: any CallFlow) -> String {
        switch flow {
        case is DemoMenuFlow: "demo"
        case let declarative as DeclarativeFlow: declarative.flow.definition.name
        case is RelayFlow: RelayFlow.recordedName
        default: String(describing: type(of: flow))
        }
    }
}
