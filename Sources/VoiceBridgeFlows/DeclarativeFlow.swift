import Logging
import NIOCore
import VoiceBridgeAudio
import VoiceBridgeCalls
import VoiceBridgeCarriers
import VoiceBridgeSpeech

/// Runs one flow file's steps for one call. Like the call, it lives on the call's event loop.
///
/// Audio steps (`say`, `play`, `tone`, `pause`) only queue audio, so consecutive prompts play
/// back to back and a menu's keys are heard while its prompt still plays. `gather` and `menu`
/// wait for keys; their timeout starts once their prompt has been heard (its last mark is back),
/// not when it was queued. `webhook` and `relay` wait for their answer; `redirect` and `hangup`
/// end the call once everything queued has been heard.
public final class DeclarativeFlow: CallFlow {
    public let flow: LoadedFlow
    public private(set) var variables: [String: String]
    private let environment: FlowEnvironment
    private var logger: Logger

    private var stack: [Frame] = []
    private var state: State = .running
    /// Prompts queued and not yet heard, interrupted or failed.
    private var outstanding: Set<PromptID> = []
    private var promptCounter = 0
    private var webhookCounter = 0

    /// The most steps run in a row without waiting: a `goto` loop with no audio or input in it
    /// would otherwise spin the event loop forever.
    static let stepBudget = 10_000
    static let noInputTimer = "flow.noinput"
    static let interDigitTimer = "flow.interdigit"
    /// How long a finished spoken answer waits for its transcript before it counts as no input.
    static let transcriptTimer = "flow.transcript"
    static let transcriptWaitMs = 3_000

    private struct Frame {
        var steps: [FlowStep]
        var index = 0
    }

    private enum State {
        case running
        case input(InputState)
        case webhook(Int)
        case relay(any CallFlow)
        case finished
    }

    private struct InputState {
        enum Kind {
            case gather(GatherStep)
            case menu(MenuStep)
        }
        var kind: Kind
        var location: FlowLocation
        var failures = 0
        var digits = ""
        var waitingForPrompt = true
        /// Speech-to-text hears this input's answers (words, not only "speech").
        var hearing = false
        /// Committed segments of the current spoken answer, and whether the caller has finished it.
        var heard: [String] = []
        var answerEnded = false

        var speechRequest: ListenRequest? {
            switch kind {
            case let .gather(g): g.acceptsSpeech ? ListenRequest(keyterms: g.hints) : nil
            case let .menu(m): m.phrases.isEmpty ? nil : ListenRequest(keyterms: m.choices.flatMap { m.phrases[$0.key] ?? [] })
            }
        }

        var timeout: Int {
            switch kind {
            case let .menu(m): m.timeoutMs
            case let .gather(g): g.timeoutMs
            }
        }
    }

    public init(flow: LoadedFlow, environment: FlowEnvironment = .init(), logger: Logger = Logger(label: "voicebridge.flow")) {
        self.flow = flow
        self.environment = environment
        self.variables = flow.definition.variables
        self.logger = logger
        self.logger[metadataKey: "flow"] = "\(flow.definition.name)"
    }

    /// Where the flow stands, for the live console: the input it waits for, or the step it ran
    /// last, as `menu@12` (the step and its line in the flow's file).
    public var currentStep: String {
        switch state {
        case let .input(input):
            switch input.kind {
            case .menu: return "menu@\(input.location.line)"
            case .gather: return "gather@\(input.location.line)"
            }
        case .webhook: return "webhook"
        case .relay: return "relay"
        case .finished: return "finished"
        case .running:
            guard let frame = stack.last, frame.index > 0, frame.index <= frame.steps.count else { return "start" }
            let step = frame.steps[frame.index - 1]
            return "\(step.name)@\(step.location.line)"
        }
    }

    // MARK: - CallFlow

    public func start(_ call: any CallControl) {
        for (k, v) in call.parameters { variables[k] = v }
        variables["CallSid"] = variables["CallSid"] ?? call.callID
        logger[metadataKey: "callSid"] = "\(call.callID)"
        guard let block = flow.definition.block(named: flow.definition.start) else {
            logger.error("the flow's start block is missing", metadata: ["start": "\(flow.definition.start)"])
            return call.hangUp()
        }
        stack = [Frame(steps: block.steps)]
        run(call)
    }

    public func handle(_ event: FlowEvent, _ call: any CallControl) {
        if case let .relay(sub) = state {
            sub.handle(event, call)
            return
        }
        switch event {
        case let .promptFinished(id), let .promptInterrupted(id, _), let .promptFailed(id, _):
            if case let .promptFailed(_, reason) = event {
                logger.warning("a prompt could not be spoken", metadata: ["prompt": "\(id)", "reason": "\(reason)"])
            }
            outstanding.remove(id)
            armInputTimerIfHeard(call)
        case let .digit(d, _):
            receiveDigit(d, call)
        case .callerSpeechStarted:
            guard case let .input(input) = state else { return }
            if input.hearing {
                // The caller is answering: the words decide, once heard.
                call.cancelTimer(Self.noInputTimer)
                call.cancelTimer(Self.transcriptTimer)
                return
            }
            guard case let .gather(g) = input.kind, g.acceptsSpeech else { return }
            call.cancelTimer(Self.noInputTimer)
            call.cancelTimer(Self.interDigitTimer)
            completeGather(g, value: "speech", call)
        case .callerSpeechStopped:
            guard case var .input(input) = state, input.hearing else { return }
            input.answerEnded = true
            state = .input(input)
            call.setTimer(Self.transcriptTimer, afterMs: Self.transcriptWaitMs)
        case let .transcript(transcript):
            heard(transcript, call)
        case let .timer(name):
            inputTimerFired(name, call)
        case .ended:
            state = .finished
            stack = []
        case .promptStarted:
            break
        }
    }

    // MARK: - Running steps

    private func run(_ call: any CallControl) {
        var budget = Self.stepBudget
        while case .running = state {
            guard var frame = stack.popLast() else {
                // Falling off the end of the flow ends the call, after the last prompt is heard.
                state = .finished
                return call.hangUp()
            }
            guard frame.index < frame.steps.count else { continue }
            let step = frame.steps[frame.index]
            frame.index += 1
            stack.append(frame)
            budget -= 1
            guard budget > 0 else {
                logger.error("the flow ran \(Self.stepBudget) steps without waiting for anything; ending the call", metadata: ["at": "\(step.location)"])
                state = .finished
                return call.hangUp()
            }
            execute(step, call)
        }
    }

    private func execute(_ step: FlowStep, _ call: any CallControl) {
        switch step.kind {
        case let .say(say):
            let text = FlowTemplate.render(say.text, variables)
            let id = nextPromptID(step)
            outstanding.insert(id)
            call.play(.text(text), id: id, interruptible: say.interruptible, voice: say.voice)
        case let .play(play):
            playPrompt(play, step, call)
        case let .tone(tone):
            enqueueAudio(Self.toneAudio(tone), text: "", step, tone.interruptible, call)
        case let .pause(ms):
            enqueueAudio([UInt8](repeating: 0xFF, count: ms * 8), text: "", step, .any, call)
        case let .gather(gather):
            beginInput(.init(kind: .gather(gather), location: step.location), prompt: gather.prompt, call)
        case let .menu(menu):
            beginInput(.init(kind: .menu(menu), location: step.location), prompt: menu.prompt, call)
        case let .set(pairs):
            for (name, value) in pairs { variables[name] = FlowTemplate.render(value, variables) }
        case let .goto(name):
            jump(to: name, from: step.location, call)
        case let .webhook(webhook):
            callWebhook(webhook, step, call)
        case let .redirect(redirect):
            logger.info("redirecting the call", metadata: ["at": "\(step.location)"])
            state = .finished
            if let dial = redirect.dial {
                call.transfer(to: .dial(FlowTemplate.render(dial, variables)))
            } else if let twiml = redirect.twiml {
                call.transfer(to: .markup(FlowTemplate.render(twiml, variables)))
            } else {
                call.redirect()
            }
        case let .relay(relay):
            startRelay(relay, step, call)
        case .hangup:
            state = .finished
            call.hangUp()
        }
    }

    private func jump(to name: String, from location: FlowLocation, _ call: any CallControl) {
        guard let block = flow.definition.block(named: name) else {
            // `flows check` reports this; a flow that loads anyway ends the call politely.
            logger.error("goto names a missing block; ending the call", metadata: ["block": "\(name)", "at": "\(location)"])
            state = .finished
            return call.hangUp()
        }
        stack = [Frame(steps: block.steps)]
    }

    private func run(_ target: FlowTarget, from location: FlowLocation, _ call: any CallControl) {
        switch target {
        case let .block(name, _): jump(to: name, from: location, call)
        case let .steps(steps): stack.append(Frame(steps: steps))
        }
    }

    // MARK: - Audio

    private func nextPromptID(_ step: FlowStep) -> PromptID {
        promptCounter += 1
        return "\(step.name)@\(step.location.line)#\(promptCounter)"
    }

    private func playPrompt(_ play: PlayStep, _ step: FlowStep, _ call: any CallControl) {
        switch play.source {
        case let .wav(path):
            guard let audio = flow.wavAudio[path] else {
                logger.error("WAV file not loaded; skipping", metadata: ["file": "\(path)", "at": "\(step.location)"])
                return
            }
            enqueueAudio(audio, text: "", step, play.interruptible, call)
        case let .prompt(id):
            let text = environment.prompts?.text(forPrompt: id)
            if let audio = environment.prompts?.audio(forPrompt: id) {
                enqueueAudio(audio, text: text ?? "", step, play.interruptible, call)
            } else if let text {
                // Not built yet: speak the catalogue's text live, at the cost of TTS latency.
                let promptID = nextPromptID(step)
                outstanding.insert(promptID)
                call.play(.text(FlowTemplate.render(text, variables)), id: promptID, interruptible: play.interruptible, voice: nil)
            } else {
                logger.error("unknown prompt; skipping", metadata: ["prompt": "\(id)", "at": "\(step.location)"])
            }
        }
    }

    private func enqueueAudio(_ audio: [UInt8], text: String, _ step: FlowStep, _ mode: Interruptible, _ call: any CallControl) {
        guard !audio.isEmpty else { return }
        let id = nextPromptID(step)
        outstanding.insert(id)
        call.play(.audio(audio, text: text), id: id, interruptible: mode)
    }

    static func toneAudio(_ tone: ToneStep) -> [UInt8] {
        switch tone.sound {
        case .beep: return ToneGenerator.ulaw(ToneGenerator.pcm(.beep, durationMs: tone.durationMs ?? 500))
        case .ringback: return ToneGenerator.ulaw(ToneGenerator.pcm(.ringback, durationMs: tone.durationMs ?? 4_000))
        case .busy: return ToneGenerator.ulaw(ToneGenerator.pcm(.busy, durationMs: tone.durationMs ?? 3_000))
        case let .dtmf(digits): return dtmfAudio(digits, toneMs: tone.durationMs ?? 100)
        }
    }

    /// DTMF digits as μ-law, `w` being half a second of silence (as in Twilio's `sendDigits`).
    static func dtmfAudio(_ digits: String, toneMs: Int) -> [UInt8] {
        var pcm: [Int16] = []
        var run = ""
        func flush() {
            if !run.isEmpty, let tones = try? ToneGenerator.dtmf(run.uppercased(), toneMs: toneMs, gapMs: 100) { pcm += tones }
            run = ""
        }
        for c in digits {
            if c == "w" {
                flush()
                pcm += [Int16](repeating: 0, count: 4_000)
            } else {
                run.append(c)
            }
        }
        flush()
        return ToneGenerator.ulaw(pcm)
    }

    // MARK: - Input: gather and menu

    private func beginInput(_ input: InputState, prompt: [FlowStep], _ call: any CallControl) {
        var input = input
        if let request = input.speechRequest { input.hearing = call.listen(request) }
        state = .input(input)
        for step in prompt { execute(step, call) }
        armInputTimerIfHeard(call)
    }

    /// Starts the no-input timer once nothing the flow queued is still to be heard.
    private func armInputTimerIfHeard(_ call: any CallControl) {
        guard case var .input(input) = state, input.waitingForPrompt, outstanding.isEmpty else { return }
        input.waitingForPrompt = false
        state = .input(input)
        if input.digits.isEmpty {
            call.setTimer(Self.noInputTimer, afterMs: input.timeout)
        }
    }

    private func receiveDigit(_ digit: Character, _ call: any CallControl) {
        guard case var .input(input) = state else {
            logger.debug("key pressed while no input is awaited", metadata: ["digit": "\(digit)"])
            return
        }
        call.cancelTimer(Self.noInputTimer)
        call.cancelTimer(Self.interDigitTimer)
        switch input.kind {
        case let .menu(menu):
            if let choice = menu.choices.first(where: { $0.key == digit }) {
                variables["choice"] = String(digit)
                leaveInput(call)
                run(choice.target, from: input.location, call)
                run(call)
            } else {
                retry(input, handler: menu.noMatch, call)
            }
        case let .gather(gather):
            if digit == gather.finishOnKey {
                return completeGather(gather, value: input.digits, call)
            }
            input.digits.append(digit)
            if input.digits.count >= gather.maxDigits {
                return completeGather(gather, value: input.digits, call)
            }
            state = .input(input)
            call.setTimer(Self.interDigitTimer, afterMs: gather.interDigitTimeoutMs)
        }
    }

    private func inputTimerFired(_ name: String, _ call: any CallControl) {
        guard case let .input(input) = state else { return }
        switch (name, input.kind) {
        case (Self.noInputTimer, let .menu(menu)):
            retry(input, handler: menu.noInput, call)
        case (Self.noInputTimer, let .gather(gather)) where input.digits.isEmpty:
            retry(input, handler: gather.reprompt, call)
        case (Self.interDigitTimer, let .gather(gather)):
            completeGather(gather, value: input.digits, call)
        case (Self.transcriptTimer, _) where input.answerEnded:
            logger.info("no transcript for a spoken answer in time; treating it as no input", metadata: ["at": "\(input.location)"])
            answered(with: input.heard.joined(separator: " "), input, call)
        default:
            break
        }
    }

    private func completeGather(_ gather: GatherStep, value: String, _ call: any CallControl) {
        guard case let .input(input) = state else { return }
        if value != "speech" && value.count < gather.minDigits {
            return retry(input, handler: gather.reprompt, call)
        }
        variables[gather.into] = value
        leaveInput(call)
        run(call)
    }

    /// Input is over: back to running steps, and speech-to-text stops (nothing listens).
    private func leaveInput(_ call: any CallControl) {
        if case let .input(input) = state, input.hearing { call.stopListening() }
        state = .running
    }

    // MARK: - Input by voice

    private func heard(_ transcript: Transcript, _ call: any CallControl) {
        guard case var .input(input) = state, input.hearing else { return }
        switch transcript {
        case .partial:
            return
        case let .committed(commit):
            if !commit.text.isEmpty { input.heard.append(commit.text) }
            if let confidence = commit.confidence { variables["confidence"] = String(format2(confidence)) }
            state = .input(input)
            if input.answerEnded { answered(with: input.heard.joined(separator: " "), input, call) }
        case .commitIgnored:
            if input.answerEnded { answered(with: input.heard.joined(separator: " "), input, call) }
        case .unavailable:
            // Keys still work; speech goes back to meaning only "speech".
            input.hearing = false
            state = .input(input)
        }
    }

    /// A finished spoken answer: the gather's value, or the menu choice its words pick.
    private func answered(with text: String, _ input: InputState, _ call: any CallControl) {
        call.cancelTimer(Self.transcriptTimer)
        var input = input
        input.heard = []
        input.answerEnded = false
        state = .input(input)
        let spoken = text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        variables["speech"] = spoken
        switch input.kind {
        case let .gather(gather):
            guard !spoken.isEmpty else { return retry(input, handler: gather.reprompt, call) }
            // Words, not digits: `min`/`max` don't apply; the sentence's final stop is dropped so
            // the value reads well inside a prompt ("Thank you, {{name}}.").
            variables[gather.into] = spoken.last.map { ".!?".contains($0) } == true ? String(spoken.dropLast()) : spoken
            leaveInput(call)
            run(call)
        case let .menu(menu):
            guard !spoken.isEmpty else { return retry(input, handler: menu.noInput, call) }
            // "Uh-huh" while the menu talks is the caller listening, not an answer: keep waiting.
            if SpokenWords.isBackchannel(SpokenWords.words(spoken)) {
                if !input.waitingForPrompt { call.setTimer(Self.noInputTimer, afterMs: input.timeout) }
                return
            }
            guard let key = MenuSpeechMatcher.choice(for: spoken, keys: menu.choices.map(\.key), phrases: menu.phrases),
                let choice = menu.choices.first(where: { $0.key == key })
            else {
                logger.info("spoken answer matched no choice", metadata: ["at": "\(input.location)"])
                return retry(input, handler: menu.noMatch, call)
            }
            variables["choice"] = String(key)
            leaveInput(call)
            run(choice.target, from: input.location, call)
            run(call)
        }
    }

    private func format2(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
    }

    /// One more attempt: the handler's audio, then the prompt again; or, when the attempts are
    /// used up, the `exhausted` target (hang up if there is none).
    private func retry(_ input: InputState, handler: [FlowStep], _ call: any CallControl) {
        var input = input
        input.failures += 1
        input.digits = ""
        let (retries, prompt, exhausted): (Int, [FlowStep], FlowTarget?) =
            switch input.kind {
            case let .menu(m): (m.retries, m.prompt, m.exhausted)
            case let .gather(g): (g.retries, g.prompt, g.exhausted)
            }
        guard input.failures <= retries else {
            logger.info("no valid input after every attempt", metadata: ["at": "\(input.location)"])
            leaveInput(call)
            if let exhausted {
                run(exhausted, from: input.location, call)
            } else {
                for step in handler { execute(step, call) }
                stack = [Frame(steps: [FlowStep(.hangup, at: input.location)])]
            }
            return run(call)
        }
        input.waitingForPrompt = true
        state = .input(input)
        for step in handler + prompt { execute(step, call) }
        armInputTimerIfHeard(call)
    }

    // MARK: - Webhook

    private func callWebhook(_ step: WebhookStep, _ flowStep: FlowStep, _ call: any CallControl) {
        guard let client = environment.webhooks else {
            logger.error("no webhook client; skipping", metadata: ["at": "\(flowStep.location)"])
            return webhookFailed(step, flowStep, reason: "no webhook client", call)
        }
        webhookCounter += 1
        let token = webhookCounter
        state = .webhook(token)
        let url = FlowTemplate.render(step.url, variables)
        let body = FlowWebhookRequest(flow: flow.definition.name, call: call, variables: variables, step: flowStep.location).json
        let loop = call.eventLoop
        let deliver = environment.deliver
        let me = OnCallLoop(value: (self, call))
        let timeout = step.timeoutMs
        logger.debug("webhook", metadata: ["url": "\(url)", "at": "\(flowStep.location)"])
        Task {
            let outcome: Result<(status: Int, body: [UInt8]), any Error>
            do {
                outcome = .success(try await client.post(url: url, json: body, timeoutMs: timeout))
            } catch {
                outcome = .failure(error)
            }
            let result = OnCallLoop(value: outcome)
            deliver(loop) {
                let (flow, call) = me.value
                flow.webhookReplied(token, result.value, step, flowStep, call)
            }
        }
    }

    private func webhookReplied(
        _ token: Int, _ outcome: Result<(status: Int, body: [UInt8]), any Error>, _ step: WebhookStep, _ flowStep: FlowStep, _ call: any CallControl
    ) {
        guard case .webhook(token) = state else { return }  // the call ended or moved on meanwhile
        switch outcome {
        case let .failure(error):
            webhookFailed(step, flowStep, reason: "\(error)", call)
        case let .success((status, _)) where !(200..<300).contains(status):
            webhookFailed(step, flowStep, reason: "HTTP \(status)", call)
        case let .success((_, body)):
            let text = String(decoding: body, as: UTF8.self)
            var parser = FlowParser(file: "webhook reply from \(FlowTemplate.render(step.url, variables))")
            let steps = text.trimmingCharacters(in: " \n\r\t").isEmpty ? [] : parser.parseSteps(text)
            let replyVariables = parser.parseReplyVariables(text)
            if let problem = parser.diagnostics.first {
                return webhookFailed(step, flowStep, reason: problem.description, call)
            }
            for (k, v) in replyVariables { variables[k] = v }
            state = .running
            if !steps.isEmpty { stack.append(Frame(steps: steps)) }
            run(call)
        }
    }

    private func webhookFailed(_ step: WebhookStep, _ flowStep: FlowStep, reason: String, _ call: any CallControl) {
        logger.warning("webhook failed", metadata: ["at": "\(flowStep.location)", "reason": "\(reason)"])
        variables["webhookError"] = reason
        state = .running
        if let onError = step.onError { stack.append(Frame(steps: onError)) }
        run(call)
    }

    // MARK: - Relay

    private func startRelay(_ step: RelayStep, _ flowStep: FlowStep, _ call: any CallControl) {
        var rendered = step
        rendered.url = FlowTemplate.render(step.url, variables)
        rendered.options = step.options.mapValues { FlowTemplate.render($0, variables) }
        let request = FlowRelayRequest(step: rendered, variables: variables) { [weak self] result in
            guard let self, case .relay = self.state else { return }
            for (k, v) in result { self.variables[k] = v }
            self.state = .running
            self.run(call)
        }
        guard let sub = environment.relay?(request, call) else {
            logger.error("relay step, but no relay is available; going on", metadata: ["at": "\(flowStep.location)"])
            variables["relayStatus"] = "failed"
            return
        }
        state = .relay(sub)
        sub.start(call)
    }
}
