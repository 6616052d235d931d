import Foundation
import Logging
import VoiceBridgeCalls
import VoiceBridgeFlows

/// The declarative flows `serve` runs (config/flows), with what their steps need.
public struct ServedFlows: Sendable {
    public var library: FlowLibrary
    /// Prompts, webhook client and relay; the server fills in `transfer` itself.
    public var environment: FlowEnvironment

    public init(library: FlowLibrary, environment: FlowEnvironment = .init()) {
        self.library = library
        self.environment = environment
    }

    /// Picks each call's flow by its called number (`To`); the demo menu when none answers it.
    func provider(transfers: CallParameterStore, logger: Logger) -> CallFlowProvider {
        var environment = self.environment
        environment.transfer = { callSid, transfer in
            switch transfer {
            case let .dial(number): transfers.remember(callSid: callSid, parameters: ["dial": number])
            case let .twiml(twiml): transfers.remember(callSid: callSid, parameters: ["twiml": twiml])
            }
        }
        let library = self.library
        let env = environment
        return { context in
            guard let flow = library.flow(forCalledNumber: context.parameters["To"]) else {
                logger.warning("no flow answers this number; running the demo menu", metadata: ["to": "\(context.parameters["To"] ?? "")"])
                return DemoCalls.demoFlow(context)
            }
            return DeclarativeFlow(flow: flow, environment: env, logger: context.logger)
        }
    }
}

extension ServedFlows {
    /// The flows the configuration names, checked; nil when no flow directory is configured or
    /// it doesn't exist (the demo menu runs). A flow with errors stops `serve` from starting,
    /// with every error and its line.
    public static func load(
        configuration: BridgeConfiguration,
        prompts: (any FlowPromptSource)? = nil,
        knownPrompts: Set<String>? = nil,
        logger: Logger
    ) throws(ConfigurationError) -> ServedFlows? {
        guard let directory = configuration.flowsDirectory, !directory.isEmpty else { return nil }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            logger.warning("flow directory not found; running the demo menu", metadata: ["dir": "\(directory)"])
            return nil
        }
        let library: FlowLibrary
        do {
            library = try FlowLibrary.load(directory: directory, knownPrompts: knownPrompts)
        } catch {
            throw ConfigurationError("flows in \(directory) have errors:\n\(error.description)")
        }
        for warning in library.warnings { logger.warning("\(warning.description)") }
        let names = library.flows.map(\.definition.name).joined(separator: ", ")
        logger.info("flows loaded", metadata: ["dir": "\(directory)", "flows": "\(names)"])
        return ServedFlows(library: library, environment: FlowEnvironment(prompts: prompts, webhooks: CurlWebhookClient()))
    }
}
