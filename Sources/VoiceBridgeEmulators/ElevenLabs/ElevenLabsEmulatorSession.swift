import NIOCore

/// The protocol of one text-to-speech WebSocket, as a state machine with no I/O (§1, §2, §10).
///
/// It takes the client's messages, the end of each context's audio and the clock, and answers
/// with actions: start a generation, send a message, close. The handler carries them out; the
/// audio itself never passes through here.
///
/// Contexts: stream-input has one, the default. On multi-stream-input every `context_id` names
/// one, created by the first message that mentions it (a flush or keep-alive included), and a
/// message without an id goes to the default context. Each incarnation of a context has its own
/// `instance` number, so a closed id can be reused while the old one is still finishing.
struct ElevenLabsEmulatorSession {
    enum Endpoint: Sendable, Equatable {
        case streamInput
        case multiStreamInput
    }

    /// What the handshake said about credentials.
    enum Credential: Sendable, Equatable {
        case valid
        case invalid
        /// None in the handshake: the first message must bring one.
        case missing
    }

    struct Settings {
        var endpoint: Endpoint
        var inactivityTimeout: TimeAmount
        /// The timeout in whole seconds, for the close reason.
        var inactivitySeconds: Int
        var autoMode: Bool
        var maxContexts: Int
        var tryTriggerMinimum: Int
        var strictFirstMessage: Bool
        var contextCloseDelay: TimeAmount
        /// Close with the quota reason at the first generation.
        var quotaExceeded: Bool
        var quota: Int
        var quotaRemaining: Int
        /// Close with the generic server error at the first generation.
        var serverError: Bool
        /// The format problem, if the requested output format can't be served.
        var formatProblem: ElevenLabsEmulatorOutputFormat.Problem?
        /// Checks a credential from the first message: an API key, or a Bearer value.
        var checkAPIKey: (String) -> Bool
        var checkBearer: (String) -> Bool
    }

    enum Action: Equatable {
        /// Speak `text` for this context incarnation, after any generation already queued for it.
        case generate(instance: Int, contextID: String?, text: String)
        /// Send a text frame.
        case send(String)
        /// Send a close frame (full reason; the handler cuts it for the wire) and stop everything.
        case close(code: Int, reason: String)
        /// Call `slotFreed(instance:)` after this long (an asynchronous context close).
        case freeSlot(instance: Int, after: TimeAmount)
    }

    private struct Context {
        let instance: Int
        let id: String?
        var buffer: ElevenLabsEmulatorTextBuffer
        var voiceSettings: ElevenLabsEmulatorJSON?
        var generationConfig: ElevenLabsEmulatorJSON?
        var inFlight = 0
        var closing = false
        /// Whether its close ends with `isFinal` (close_context, idle) or not (close_socket).
        var finalOnClose = true
        var lastActivity: NIODeadline
    }

    private let settings: Settings
    private var credential: Credential
    private var sawFirstMessage = false
    private var isClosed = false
    /// Stream-input after `{"text": ""}`, or multi-context after `close_socket`: finish, then close 1000.
    private var ending = false
    private var contexts: [String: Context] = [:]
    /// Incarnations that still count against the limit, by instance: open ones and closing ones
    /// not yet freed.
    private var live: Set<Int> = []
    /// Closing incarnations, by instance, until their audio is done.
    private var closingContexts: [Int: Context] = [:]
    private var nextInstance = 1
    private var lastMessage: NIODeadline
    private var generatedAny = false
    /// The socket's first message's settings, inherited by contexts created without their own.
    private var socketSchedule = ElevenLabsEmulatorTextBuffer.defaultSchedule

    init(settings: Settings, credential: Credential, now: NIODeadline) {
        self.settings = settings
        self.credential = credential
        lastMessage = now
    }

    var closed: Bool { isClosed }

    /// Actions due as soon as the socket is open: refusals that need no message.
    mutating func start() -> [Action] {
        if let problem = settings.formatProblem {
            return close(ElevenLabsEmulatorProtocol.unsupportedData, problem.reason)
        }
        if credential == .invalid {
            return close(ElevenLabsEmulatorProtocol.policyViolation, ElevenLabsEmulatorProtocol.invalidAPIKeyReason)
        }
        return []
    }

    /// When the next inactivity check is due.
    var nextDeadline: NIODeadline? {
        guard !isClosed, !ending else { return nil }
        var deadline = lastMessage + settings.inactivityTimeout
        if settings.endpoint == .multiStreamInput {
            for context in contexts.values where !context.closing {
                deadline = min(deadline, context.lastActivity + settings.inactivityTimeout)
            }
        }
        return deadline
    }

    // MARK: - Input

    mutating func receive(text frame: String, now: NIODeadline) -> [Action] {
        guard !isClosed else { return [] }
        lastMessage = now
        guard let json = ElevenLabsEmulatorJSON.parse(frame), case .object = json,
              let message = Message(json)
        else {
            return close(ElevenLabsEmulatorProtocol.policyViolation, ElevenLabsEmulatorProtocol.invalidMessageReason)
        }
        guard !ending else { return [] }  // Input is over; late messages are ignored.

        var actions: [Action] = []
        if !sawFirstMessage {
            sawFirstMessage = true
            if credential == .missing {
                credential = firstMessageCredential(message)
                guard credential == .valid else {
                    return close(ElevenLabsEmulatorProtocol.policyViolation, ElevenLabsEmulatorProtocol.invalidAPIKeyReason)
                }
            }
            if settings.endpoint == .streamInput, settings.strictFirstMessage, message.text != " " {
                return close(ElevenLabsEmulatorProtocol.policyViolation, ElevenLabsEmulatorProtocol.firstMessageReason)
            }
            if let schedule = message.schedule { socketSchedule = schedule }
        }

        switch settings.endpoint {
        case .streamInput:
            actions += receiveStreamInput(message, now: now)
        case .multiStreamInput:
            actions += receiveMulti(message, now: now)
        }
        return actions
    }

    private mutating func receiveStreamInput(_ message: Message, now: NIODeadline) -> [Action] {
        let key = ""
        var isInit = false
        if contexts[key] == nil {
            contexts[key] = newContext(id: nil, message: message, now: now)
            isInit = true
        } else if let violation = settingsViolation(message, key: key) {
            return violation
        }
        contexts[key]?.lastActivity = now
        if isInit {
            // The initialising " " is not text to speak; a flush or trigger on it has nothing to do.
            return []
        }
        if message.text == "" {
            // End of input: speak what is left, then isFinal and close 1000 once the audio is out.
            ending = true
            var actions = flushAll(key)
            actions += finishIfDone()
            return actions
        }
        return feed(message, key: key)
    }

    private mutating func receiveMulti(_ message: Message, now: NIODeadline) -> [Action] {
        if message.closeSocket {
            ending = true
            var actions: [Action] = []
            for key in Array(contexts.keys) {
                contexts[key]?.buffer.discard()
                actions += beginClosing(key, sendFinalWhenIdle: false)
            }
            return actions + finishIfDone()
        }
        let key = message.contextID ?? ""
        if message.closeContext {
            // Closing an id that isn't open is a no-op.
            guard contexts[key] != nil else { return [] }
            contexts[key]?.buffer.discard()
            return beginClosing(key, sendFinalWhenIdle: true)
        }
        var isNew = false
        if contexts[key] == nil {
            guard live.count < settings.maxContexts else {
                let text = ElevenLabsEmulatorProtocol.maxContextsMessage(limit: settings.maxContexts)
                return [.send(ElevenLabsEmulatorProtocol.errorMessage(message: text, error: "max_active_conversations", code: 1008))]
                    + close(ElevenLabsEmulatorProtocol.policyViolation, text)
            }
            contexts[key] = newContext(id: message.contextID, message: message, now: now)
            isNew = true
        } else if let violation = settingsViolation(message, key: key) {
            return violation
        }
        contexts[key]?.lastActivity = now
        if message.text == "" && !message.flush {
            return []  // Keep-alive: resets the context's clock, nothing else.
        }
        if isNew, message.text == " ", !message.flush {
            return []  // A context's initialising " ".
        }
        return feed(message, key: key)
    }

    /// Appends a message's text to a context and applies flush, auto mode and the schedule.
    private mutating func feed(_ message: Message, key: String) -> [Action] {
        guard var context = contexts[key] else { return [] }
        if let text = message.text { context.buffer.append(text) }
        var segments: [String] = []
        if message.flush || settings.autoMode {
            if let all = context.buffer.takeAll() { segments.append(all) }
        } else if let due = context.buffer.scheduled(tryTrigger: message.tryTrigger) {
            segments.append(due)
        }
        contexts[key] = context
        var actions: [Action] = []
        for segment in segments {
            actions += generate(key, segment)
            if isClosed { break }
        }
        return actions
    }

    private mutating func flushAll(_ key: String) -> [Action] {
        guard let text = contexts[key]?.buffer.takeAll() else { return [] }
        return generate(key, text)
    }

    private mutating func generate(_ key: String, _ text: String) -> [Action] {
        guard let context = contexts[key] else { return [] }
        if !generatedAny {
            generatedAny = true
            if settings.quotaExceeded {
                let reason = ElevenLabsEmulatorProtocol.quotaReason(
                    quota: settings.quota, remaining: settings.quotaRemaining, required: text.unicodeScalars.count
                )
                return close(ElevenLabsEmulatorProtocol.policyViolation, reason)
            }
            if settings.serverError {
                return close(ElevenLabsEmulatorProtocol.policyViolation, ElevenLabsEmulatorProtocol.genericErrorReason)
            }
        }
        contexts[key]?.inFlight += 1
        return [.generate(instance: context.instance, contextID: context.id, text: text)]
    }

    // MARK: - Audio finished

    /// All audio of one generation of `instance` has been sent.
    mutating func generationFinished(instance: Int) -> [Action] {
        guard !isClosed else { return [] }
        if let key = contexts.first(where: { $0.value.instance == instance })?.key {
            contexts[key]?.inFlight -= 1
            return finishIfDone()
        }
        guard var context = closingContexts[instance] else { return [] }
        context.inFlight -= 1
        closingContexts[instance] = context
        if context.inFlight == 0 {
            return closed(instance: instance, sendFinal: true) + finishIfDone()
        }
        return []
    }

    /// A closed context's slot is free again.
    mutating func slotFreed(instance: Int) {
        live.remove(instance)
    }

    // MARK: - Time

    mutating func tick(now: NIODeadline) -> [Action] {
        guard !isClosed, !ending else { return [] }
        if now >= lastMessage + settings.inactivityTimeout {
            return close(ElevenLabsEmulatorProtocol.policyViolation, ElevenLabsEmulatorProtocol.inactivityReason(seconds: settings.inactivitySeconds))
        }
        guard settings.endpoint == .multiStreamInput else { return [] }
        // A context idle for the timeout is closed as if by close_context (the doc says idle contexts
        // are closed; what the service sends then is undocumented). [UNVERIFIED]
        var actions: [Action] = []
        for (key, context) in contexts where !context.closing && now >= context.lastActivity + settings.inactivityTimeout {
            contexts[key]?.buffer.discard()
            actions += beginClosing(key, sendFinalWhenIdle: true)
        }
        return actions
    }

    // MARK: - Helpers

    private mutating func newContext(id: String?, message: Message, now: NIODeadline) -> Context {
        let instance = nextInstance
        nextInstance += 1
        live.insert(instance)
        return Context(
            instance: instance,
            id: id,
            buffer: ElevenLabsEmulatorTextBuffer(schedule: message.schedule ?? socketSchedule, tryTriggerMinimum: settings.tryTriggerMinimum),
            voiceSettings: message.voiceSettings,
            generationConfig: message.generationConfig,
            lastActivity: now
        )
    }

    /// voice_settings and generation_config may come again only unchanged (§1.4, §2.3).
    private mutating func settingsViolation(_ message: Message, key: String) -> [Action]? {
        guard let context = contexts[key] else { return nil }
        if let settings = message.voiceSettings, settings != context.voiceSettings {
            return close(ElevenLabsEmulatorProtocol.policyViolation, ElevenLabsEmulatorProtocol.voiceSettingsReason)
        }
        if let config = message.generationConfig, config != context.generationConfig {
            return close(ElevenLabsEmulatorProtocol.policyViolation, ElevenLabsEmulatorProtocol.generationConfigReason)
        }
        return nil
    }

    /// Moves a context to closing: it takes no more text; its queued audio finishes, then (for
    /// close_context) `isFinal`.
    private mutating func beginClosing(_ key: String, sendFinalWhenIdle: Bool) -> [Action] {
        guard var context = contexts.removeValue(forKey: key) else { return [] }
        context.closing = true
        context.finalOnClose = sendFinalWhenIdle
        closingContexts[context.instance] = context
        if context.inFlight == 0 {
            return closed(instance: context.instance, sendFinal: true)
        }
        return []
    }

    private mutating func closed(instance: Int, sendFinal: Bool) -> [Action] {
        guard let context = closingContexts.removeValue(forKey: instance) else { return [] }
        var actions: [Action] = []
        if sendFinal, context.finalOnClose {
            actions.append(.send(ElevenLabsEmulatorProtocol.finalMessage(contextID: context.id)))
        }
        if settings.contextCloseDelay > .zero {
            actions.append(.freeSlot(instance: instance, after: settings.contextCloseDelay))
        } else {
            live.remove(instance)
        }
        return actions
    }

    /// After end of input or close_socket: once every context's audio is out, finish the socket.
    private mutating func finishIfDone() -> [Action] {
        guard ending, !isClosed else { return [] }
        let busy = contexts.values.contains { $0.inFlight > 0 } || closingContexts.values.contains { $0.inFlight > 0 }
        guard !busy else { return [] }
        var actions: [Action] = []
        if settings.endpoint == .streamInput {
            actions.append(.send(ElevenLabsEmulatorProtocol.finalMessage(contextID: nil)))
        }
        return actions + close(ElevenLabsEmulatorProtocol.normalClosure, "")
    }

    private mutating func close(_ code: Int, _ reason: String) -> [Action] {
        guard !isClosed else { return [] }
        isClosed = true
        return [.close(code: code, reason: reason)]
    }

    private func firstMessageCredential(_ message: Message) -> Credential {
        if let key = message.apiKey { return settings.checkAPIKey(key) ? .valid : .invalid }
        if let authorization = message.authorization {
            return settings.checkBearer(authorization) ? .valid : .invalid
        }
        return .invalid
    }
}

extension ElevenLabsEmulatorSession {
    /// The fields of a client message the protocol cares about, type-checked.
    struct Message {
        var text: String?
        var flush = false
        var tryTrigger = false
        var voiceSettings: ElevenLabsEmulatorJSON?
        var generationConfig: ElevenLabsEmulatorJSON?
        var schedule: [Int]?
        var contextID: String?
        var closeContext = false
        var closeSocket = false
        var apiKey: String?
        var authorization: String?

        /// nil when a documented field has the wrong type.
        init?(_ json: ElevenLabsEmulatorJSON) {
            func string(_ name: String) -> String?? {
                guard let value = json[name], !value.isNull else { return .some(nil) }
                guard let text = value.stringValue else { return nil }
                return .some(text)
            }
            func bool(_ name: String) -> Bool? {
                guard let value = json[name], !value.isNull else { return false }
                return value.boolValue
            }
            guard let text = string("text"), let flush = bool("flush"), let tryTrigger = bool("try_trigger_generation"),
                  let closeContext = bool("close_context"), let closeSocket = bool("close_socket"),
                  let contextID = string("context_id"), let camelContextID = string("contextId"),
                  let dashKey = string("xi-api-key"), let underscoreKey = string("xi_api_key"),
                  let authorization = string("authorization")
            else { return nil }
            self.text = text
            self.flush = flush
            self.tryTrigger = tryTrigger
            self.closeContext = closeContext
            self.closeSocket = closeSocket
            self.contextID = contextID ?? camelContextID
            apiKey = dashKey ?? underscoreKey
            self.authorization = authorization
            if let settings = json["voice_settings"], !settings.isNull {
                guard case .object = settings else { return nil }
                voiceSettings = settings
            }
            // SendText's schema spells it generator_config (§1.4); accept both.
            if let config = json["generation_config"] ?? json["generator_config"], !config.isNull {
                guard case .object = config else { return nil }
                generationConfig = config
                if let schedule = config["chunk_length_schedule"], !schedule.isNull {
                    guard case .array(let items) = schedule else { return nil }
                    var values: [Int] = []
                    for item in items {
                        guard let number = item.numberValue else { return nil }
                        // "Each item should be in the range 50-500."
                        values.append(min(500, max(50, Int(number))))
                    }
                    self.schedule = values.isEmpty ? nil : values
                }
            }
        }
    }
}
