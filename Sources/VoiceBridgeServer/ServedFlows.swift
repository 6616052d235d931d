import Foundation
import Logging
import VoiceBridgeCalls
import VoiceBridgeFlows
import VoiceBridgePrompts
import VoiceBridgeRelay
import VoiceBridgeSpeech

/// The declarative flows `serve` runs (config/flows), with what their steps need.
public struct ServedFlows: Sendable {
    public var library: FlowLibrary
    /// Prompts, webhook client and relay.
    public var environment: FlowEnvironment

    public init(library: FlowLibrary, environment: FlowEnvironment = .init()) {
        self.library = library
        self.environment = environment
    }

    /// Picks each call's flow by its called number (`To`); the demo menu when none answers it.
    func provider(
        relay: @escaping @Sendable (String) -> RelayConfiguration,
        connector: any RelayConnector = RelayWebSocketClient.shared,
        unclaimed: CallFlowProvider? = nil,
        logger: Logger
    ) -> CallFlowProvider {
        var environment = self.environment
        if environment.relay == nil {
            let prompts = environment.prompts
            environment.relay = { request, _ in
                Self.relayFlow(for: request, base: relay(request.step.url), prompts: prompts, connector: connector, logger: logger)
            }
        }
        let library = self.library
        let env = environment
        return { context in
            // A flow that lists the called number wins; `unclaimed` (the relay app) replaces
            // only the default flow.
            if let unclaimed, library.flow(claimingNumber: context.parameters["To"]) == nil { return unclaimed(context) }
            guard let flow = library.flow(forCalledNumber: context.parameters["To"]) else {
                logger.warning("no flow answers this number; running the demo menu", metadata: ["to": "\(context.parameters["To"] ?? "")"])
                return DemoCalls.demoFlow(context)
            }
            return DeclarativeFlow(flow: flow, environment: env, logger: context.logger)
        }
    }
}

extension ServedFlows {
    /// The relay session a flow's `relay` step starts: the configured relay settings, overridden
    /// by the step's options. When it ends, the flow goes on with its result as variables.
    static func relayFlow(
        for request: FlowRelayRequest, base: RelayConfiguration, prompts: (any FlowPromptSource)?,
        connector: any RelayConnector, logger: Logger
    ) -> any CallFlow {
        var c = base
        // Mid-call the call is already answered, as in a second ConversationRelay session.
        c.callStatus = "IN_PROGRESS"
        do {
            try c.apply(attributes: request.step.options)
        } catch {
            // `flows check` refuses these; a flow loaded some other way keeps the server's value.
            logger.warning("relay step attribute ignored", metadata: ["error": "\(error)"])
        }
        let play = prompts.map { p in { @Sendable (id: String) in p.audio(forPrompt: id) } }
        return RelayFlow(configuration: c, prompts: play, onEnd: { result, _ in
            request.finished([
                "relayStatus": result.status.rawValue,
                "handoffData": result.handoffData ?? "",
                "relaySessionId": result.sessionId,
                "relayErrorCode": result.errorCode.map(String.init) ?? "",
            ])
        }, connector: connector, logger: logger)
    }

    /// The flows the configuration names, checked; nil when no flow directory is configured or
    /// it doesn't exist (the demo menu runs). A flow with errors stops `serve` from starting,
    /// with every error and its line.
    public static func load(configuration: BridgeConfiguration, logger: Logger) throws(ConfigurationError) -> ServedFlows? {
        guard let directory = configuration.flowsDirectory, !directory.isEmpty else { return nil }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            logger.warning("flow directory not found; running the demo menu", metadata: ["dir": "\(directory)"])
            return nil
        }
        let prompts = try loadPrompts(configuration: configuration, logger: logger)
        let library: FlowLibrary
        do {
            library = try FlowLibrary.load(directory: directory, knownPrompts: prompts.catalogIDs)
        } catch {
            throw ConfigurationError("flows in \(directory) have errors:\n\(error.description)")
        }
        for warning in library.warnings { logger.warning("\(warning.description)") }
        let names = library.flows.map(\.definition.name).joined(separator: ", ")
        logger.info("flows loaded", metadata: ["dir": "\(directory)", "flows": "\(names)"])
        return ServedFlows(library: library, environment: FlowEnvironment(prompts: prompts.library, webhooks: CurlWebhookClient()))
    }

    /// The built prompts and the catalogue's texts. A damaged build or catalogue stops `serve`:
    /// playing the wrong audio is worse than not starting.
    static func loadPrompts(configuration: BridgeConfiguration, logger: Logger) throws(ConfigurationError) -> (library: PromptLibrary, catalogIDs: Set<String>?) {
        var catalog: PromptCatalog?
        if let path = configuration.promptCatalogPath, !path.isEmpty, FileManager.default.fileExists(atPath: path) {
            do {
                catalog = try PromptCatalog.load(path: path)
            } catch {
                throw ConfigurationError("prompts.catalog: \(error.description)")
            }
        }
        let library: PromptLibrary
        do {
            library = try configuration.promptDirectory.map { dir throws(PromptLibraryError) in try PromptLibrary(directory: dir, catalog: catalog) }
                ?? PromptLibrary(texts: Dictionary(uniqueKeysWithValues: (catalog?.prompts ?? []).map { ($0.id, $0.text) }))
        } catch {
            throw ConfigurationError("prompts.dir: \(error.description)")
        }
        let built = library.builtIDs.count
        logger.info("prompts", metadata: [
            "built": "\(built) of \(library.ids.count)",
            "dir": "\(configuration.promptDirectory ?? "none")",
            "live": built < library.ids.count ? "the rest are spoken live until `voicebridge prompts build`" : "none",
        ])
        return (library, catalog.map { Set($0.ids) })
    }
}

extension PromptLibrary: FlowPromptSource {
    public func audio(forPrompt id: String) -> [UInt8]? { audio(for: id) }
    public func text(forPrompt id: String) -> String? { text(for: id) }
}
