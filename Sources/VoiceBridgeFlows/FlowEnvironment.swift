import NIOCore
import VoiceBridgeCalls

/// Built prompt audio (`voicebridge prompts build`) and the catalogue text behind each id.
public protocol FlowPromptSource: Sendable {
    /// μ-law 8 kHz bytes of a built prompt, nil when it was not built.
    func audio(forPrompt id: String) -> [UInt8]?
    /// The catalogue's text for the prompt: what live TTS says when the file is missing.
    func text(forPrompt id: String) -> String?
}

/// The HTTP side of the `webhook` step.
public protocol FlowWebhookClient: Sendable {
    func post(url: String, json: [UInt8], timeoutMs: Int) async throws -> (status: Int, body: [UInt8])
}

/// A `relay` step about to hand the call to an app.
public struct FlowRelayRequest {
    public var step: RelayStep
    public var variables: [String: String]
    /// Call it, on the call's event loop, when the app session is over; its values become flow
    /// variables (e.g. `handoffData`, `relayStatus`) and the flow goes on with the next step.
    public var finished: ([String: String]) -> Void
}

/// What a declarative flow needs from its surroundings. Everything is optional: a flow that
/// doesn't use a step doesn't need its part.
public struct FlowEnvironment: Sendable {
    public var prompts: (any FlowPromptSource)?
    public var webhooks: (any FlowWebhookClient)?
    /// Makes the flow that runs a `relay` step; nil when no relay is available.
    public var relay: (@Sendable (FlowRelayRequest, any CallControl) -> (any CallFlow)?)?
    /// Brings an async result (a webhook reply) back onto the call's loop. The default is the
    /// loop's `execute`; tests on an `EmbeddedEventLoop` pass a queue they drain themselves.
    public var deliver: @Sendable (any EventLoop, @escaping @Sendable () -> Void) -> Void

    public init(
        prompts: (any FlowPromptSource)? = nil,
        webhooks: (any FlowWebhookClient)? = nil,
        relay: (@Sendable (FlowRelayRequest, any CallControl) -> (any CallFlow)?)? = nil,
        deliver: @escaping @Sendable (any EventLoop, @escaping @Sendable () -> Void) -> Void = { loop, work in loop.execute(work) }
    ) {
        self.prompts = prompts
        self.webhooks = webhooks
        self.relay = relay
        self.deliver = deliver
    }
}

/// Carries a loop-confined value into a `@Sendable` closure that will run on that same loop.
struct OnCallLoop<Value>: @unchecked Sendable {
    let value: Value
}
