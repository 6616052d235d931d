import VoiceBridgeCalls
import VoiceBridgeCarriers
import Yams

/// Reads one flow file (YAML) into a `FlowDefinition`, collecting every problem with its line
/// instead of stopping at the first, so `flows check` can report them all at once.
public struct FlowParser {
    /// The most DTMF digits one `tone` step sends.
    static let longestDTMF = 64

    public let file: String
    public private(set) var diagnostics: [FlowDiagnostic] = []

    public init(file: String) {
        self.file = file
    }

    /// ConversationRelay attributes a `relay` step may set (the rest come from `relay:` in the config).
    public static let relayOptions = [
        "welcomeGreeting", "welcomeGreetingInterruptible", "interruptible", "preemptible", "reportInputDuringAgentSpeech",
        "dtmfDetection", "events", "language", "partialPrompts", "hints", "transcriptionLanguage",
        "interruptSensitivity", "ignoreBackchannel",
    ]

    public static let stepNames = ["say", "play", "tone", "pause", "gather", "menu", "set", "goto", "webhook", "redirect", "relay", "hangup"]

    /// Parses a whole flow document. Returns nil when it is unusable; `diagnostics` says why.
    public mutating func parseDocument(_ yaml: String) -> FlowDefinition? {
        if let problem = YAMLNesting.problem(in: yaml) {
            diagnostics.append(FlowDiagnostic(at: .init(file: file, line: 1), "not accepted: \(problem)"))
            return nil
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            diagnostics.append(FlowDiagnostic(at: .init(file: file, line: Self.line(of: error)), "not valid YAML: \(Self.describe(error))"))
            return nil
        }
        guard let root, case let .mapping(top) = root else {
            diagnostics.append(FlowDiagnostic(at: location(root), "a flow file is a mapping with `blocks:` (see config/flows/main.yaml)"))
            return nil
        }
        var definition = FlowDefinition(
            name: baseName, file: file, numbers: [], isDefault: false, start: "", variables: [:], blocks: [],
            location: location(root)
        )
        var startNode: Node?
        for (keyNode, value) in top {
            let key = keyNode.string ?? ""
            switch key {
            case "name": definition.name = string(value, "name") ?? definition.name
            case "numbers": definition.numbers = stringList(value, "numbers")
            case "default": definition.isDefault = bool(value, "default") ?? false
            case "start":
                startNode = value
                definition.start = string(value, "start") ?? ""
            case "variables":
                guard case let .mapping(vars) = value else {
                    error(value, "`variables` must map names to values")
                    continue
                }
                for (name, v) in vars {
                    guard let n = name.string, let s = scalarText(v) else {
                        error(v, "variable values must be plain text or numbers")
                        continue
                    }
                    definition.variables[n] = s
                }
            case "blocks":
                guard case let .mapping(blocks) = value else {
                    error(value, "`blocks` must map block names to lists of steps")
                    continue
                }
                for (nameNode, stepsNode) in blocks {
                    guard let name = nameNode.string, !name.isEmpty else {
                        error(nameNode, "a block name must be text")
                        continue
                    }
                    definition.blocks.append(FlowBlock(name: name, steps: steps(stepsNode, context: "block `\(name)`"), location: location(nameNode)))
                }
            default:
                error(keyNode, "unknown key `\(key)` (expected name, numbers, default, start, variables, blocks)")
            }
        }
        if definition.blocks.isEmpty {
            error(root, "the flow has no blocks")
        }
        if definition.start.isEmpty {
            definition.start = definition.blocks.first?.name ?? ""
        } else if definition.block(named: definition.start) == nil {
            error(startNode ?? root, "`start` names the block `\(definition.start)`, which does not exist")
        }
        return definition
    }

    /// Parses a list of steps on its own: a webhook's reply uses the same syntax.
    public mutating func parseSteps(_ text: String) -> [FlowStep] {
        if let problem = YAMLNesting.problem(in: text) {
            diagnostics.append(FlowDiagnostic(at: .init(file: file, line: 1), "not accepted: \(problem)"))
            return []
        }
        do {
            guard let node = try Yams.compose(yaml: text) else { return [] }
            if case let .mapping(m) = node, let steps = m["steps"] { return self.steps(steps, context: "reply") }
            return steps(node, context: "reply")
        } catch {
            diagnostics.append(FlowDiagnostic(at: .init(file: file, line: Self.line(of: error)), "not valid JSON or YAML: \(Self.describe(error))"))
            return []
        }
    }

    /// The `variables` of a webhook reply (`{"variables": {...}, "steps": [...]}`), if any.
    public mutating func parseReplyVariables(_ text: String) -> [String: String] {
        guard YAMLNesting.problem(in: text) == nil, let node = try? Yams.compose(yaml: text), case let .mapping(m) = node, let vars = m["variables"] else { return [:] }
        guard case let .mapping(pairs) = vars else {
            error(vars, "`variables` must map names to values")
            return [:]
        }
        var out: [String: String] = [:]
        for (k, v) in pairs {
            if let name = k.string, let value = scalarText(v) { out[name] = value } else { error(v, "variable values must be plain text or numbers") }
        }
        return out
    }

    // MARK: - Steps

    private mutating func steps(_ node: Node, context: String) -> [FlowStep] {
        switch node {
        case let .sequence(items):
            return items.compactMap { step($0) }
        case .mapping, .scalar:
            // One step on its own is a list of one, which keeps short handlers short.
            if let single = step(node) { return [single] }
            return []
        }
    }

    private mutating func step(_ node: Node) -> FlowStep? {
        let at = location(node)
        let name: String
        let value: Node?
        switch node {
        case let .scalar(s):
            name = s.string
            value = nil
        case let .mapping(m):
            guard m.count == 1, let first = m.first else {
                let keys = m.keys.compactMap(\.string).joined(separator: ", ")
                error(node, "a step is a mapping with exactly one key, the step's name (found: \(keys)); indent its options under it")
                return nil
            }
            name = first.key.string ?? ""
            value = first.value
        case .sequence:
            error(node, "a step can't be a list; did you indent a list one level too deep?")
            return nil
        }
        guard Self.stepNames.contains(name) else {
            error(node, "unknown step `\(name)` (steps: \(Self.stepNames.joined(separator: ", ")))")
            return nil
        }
        let kind: FlowStep.Kind?
        switch name {
        case "say": kind = say(value, at: node)
        case "play": kind = play(value, at: node)
        case "tone": kind = tone(value, at: node)
        case "pause":
            kind = value.flatMap { duration($0, "pause") }.map { .pause(ms: $0) }
            if value == nil { error(node, "`pause` needs a duration, e.g. `pause: 500ms`") }
        case "gather": kind = gather(value, at: node)
        case "menu": kind = menu(value, at: node)
        case "set": kind = set(value, at: node)
        case "goto":
            guard let value, let target = string(value, "goto") else {
                error(node, "`goto` needs a block name")
                return nil
            }
            kind = .goto(target)
        case "webhook": kind = webhook(value, at: node)
        case "redirect": kind = redirect(value, at: node)
        case "relay": kind = relay(value, at: node)
        case "hangup":
            if let value, !(value.bool ?? true) || !(value.null != nil || value.bool != nil) {
                error(value, "`hangup` takes no options")
            }
            kind = .hangup
        default: kind = nil
        }
        return kind.map { FlowStep($0, at: at) }
    }

    private mutating func say(_ value: Node?, at node: Node) -> FlowStep.Kind? {
        guard let value else {
            error(node, "`say` needs text")
            return nil
        }
        if let text = scalarText(value) {
            return .say(SayStep(text: text, voice: nil, interruptible: .any))
        }
        guard case let .mapping(m) = value else {
            error(value, "`say` takes text, or a mapping with `text`, `voice` and `interruptible`")
            return nil
        }
        var step = SayStep(text: "", voice: nil, interruptible: .any)
        for (k, v) in m {
            switch k.string ?? "" {
            case "text": step.text = string(v, "say.text") ?? ""
            case "voice": step.voice = string(v, "say.voice")
            case "interruptible": step.interruptible = interruptible(v) ?? .any
            default: error(k, "unknown option `\(k.string ?? "")` for `say` (text, voice, interruptible)")
            }
        }
        if step.text.isEmpty { error(value, "`say` needs non-empty `text`") }
        return .say(step)
    }

    private mutating func play(_ value: Node?, at node: Node) -> FlowStep.Kind? {
        guard let value else {
            error(node, "`play` needs a prompt id or a .wav path")
            return nil
        }
        var target: String?
        var mode: Interruptible = .any
        if let s = scalarText(value) {
            target = s
        } else if case let .mapping(m) = value {
            for (k, v) in m {
                switch k.string ?? "" {
                case "prompt", "file": target = string(v, "play.\(k.string ?? "")")
                case "interruptible": mode = interruptible(v) ?? .any
                default: error(k, "unknown option `\(k.string ?? "")` for `play` (prompt, file, interruptible)")
                }
            }
        }
        guard let target, !target.isEmpty else {
            error(value, "`play` needs a prompt id or a .wav path")
            return nil
        }
        let source: PlayStep.Source = target.lowercased().hasSuffix(".wav") ? .wav(target) : .prompt(target)
        return .play(PlayStep(source: source, interruptible: mode))
    }

    private mutating func tone(_ value: Node?, at node: Node) -> FlowStep.Kind? {
        guard let value else {
            error(node, "`tone` needs a sound: beep, ringback, busy, or `dtmf: DIGITS`")
            return nil
        }
        var step = ToneStep(sound: .beep, durationMs: nil, interruptible: .any)
        func sound(_ text: String, _ n: Node) -> ToneStep.Sound? {
            switch text {
            case "beep": return .beep
            case "ringback": return .ringback
            case "busy": return .busy
            default:
                error(n, "unknown tone `\(text)` (beep, ringback, busy, or `dtmf: DIGITS`)")
                return nil
            }
        }
        if let text = scalarText(value) {
            guard let s = sound(text, value) else { return nil }
            step.sound = s
            return .tone(step)
        }
        guard case let .mapping(m) = value else {
            error(value, "`tone` takes a sound name or a mapping")
            return nil
        }
        var chosen = false
        for (k, v) in m {
            switch k.string ?? "" {
            case "sound":
                guard let text = string(v, "tone.sound"), let s = sound(text, v) else { return nil }
                step.sound = s
                chosen = true
            case "dtmf":
                guard let digits = scalarText(v), !digits.isEmpty else {
                    error(v, "`dtmf` needs digits, e.g. `dtmf: \"1234#\"`")
                    return nil
                }
                if let bad = digits.first(where: { !"0123456789*#ABCDabcdw".contains($0) }) {
                    error(v, "`\(bad)` is not a DTMF digit (0-9, *, #, A-D; `w` pauses 0.5 s)")
                }
                step.sound = .dtmf(digits)
                chosen = true
            case "duration": step.durationMs = duration(v, "tone.duration")
            case "interruptible": step.interruptible = interruptible(v) ?? .any
            default: error(k, "unknown option `\(k.string ?? "")` for `tone` (sound, dtmf, duration, interruptible)")
            }
        }
        if !chosen { error(value, "`tone` needs `sound` or `dtmf`") }
        // A tone is rendered whole before it plays: an hour-long one (a flow's or a webhook
        // reply's) would hold hundreds of MB for one call.
        if case let .dtmf(digits) = step.sound {
            if digits.count > Self.longestDTMF { error(value, "`dtmf` has \(digits.count) digits; at most \(Self.longestDTMF) are sent at once") }
            if let ms = step.durationMs, ms > 2_000 { error(value, "`tone.duration` for DTMF is per digit: at most 2s") }
        } else if let ms = step.durationMs, ms > 60_000 {
            error(value, "`tone.duration` is at most 60s")
        }
        return .tone(step)
    }

    private mutating func gather(_ value: Node?, at node: Node) -> FlowStep.Kind? {
        guard let value, case let .mapping(m) = value else {
            error(value ?? node, "`gather` needs options: prompt, into, max, timeout, finishOnKey, ...")
            return nil
        }
        var step = GatherStep(
            prompt: [], into: "digits", maxDigits: 20, minDigits: 1, finishOnKey: "#", timeoutMs: 5_000,
            interDigitTimeoutMs: 3_000, retries: 2, reprompt: [], acceptsSpeech: false, exhausted: nil
        )
        var sawMax = false
        for (k, v) in m {
            let key = k.string ?? ""
            switch key {
            case "prompt": step.prompt = promptSteps(v, "gather.prompt")
            case "into": step.into = string(v, "gather.into") ?? step.into
            case "max": step.maxDigits = positive(v, "gather.max") ?? step.maxDigits; sawMax = true
            case "min": step.minDigits = positive(v, "gather.min") ?? step.minDigits
            case "finishOnKey":
                let text = scalarText(v) ?? ""
                if text.isEmpty {
                    step.finishOnKey = nil
                } else if text.count == 1, let c = text.first, "0123456789*#".contains(c) {
                    step.finishOnKey = c
                } else {
                    error(v, "`finishOnKey` is one key (0-9, * or #), or empty for none")
                }
            case "timeout": step.timeoutMs = duration(v, "gather.timeout") ?? step.timeoutMs
            case "interDigitTimeout": step.interDigitTimeoutMs = duration(v, "gather.interDigitTimeout") ?? step.interDigitTimeoutMs
            case "retries": step.retries = count(v, "gather.retries") ?? step.retries
            case "reprompt": step.reprompt = promptSteps(v, "gather.reprompt")
            case "speech": step.acceptsSpeech = bool(v, "gather.speech") ?? false
            case "hints": step.hints = phrases(v, "gather.hints")
            case "exhausted": step.exhausted = target(v, "gather.exhausted")
            default:
                error(k, "unknown option `\(key)` for `gather` (prompt, into, max, min, finishOnKey, timeout, interDigitTimeout, retries, reprompt, speech, hints, exhausted)")
            }
        }
        if step.minDigits > step.maxDigits {
            error(value, "`min` (\(step.minDigits)) is more than `max` (\(step.maxDigits))")
        }
        if !sawMax && step.finishOnKey == nil {
            error(value, "a `gather` without `max` needs a `finishOnKey`, or it can only end by timeout")
        }
        return .gather(step)
    }

    private mutating func menu(_ value: Node?, at node: Node) -> FlowStep.Kind? {
        guard let value, case let .mapping(m) = value else {
            error(value ?? node, "`menu` needs options: prompt, choices, timeout, retries, noinput, nomatch, exhausted")
            return nil
        }
        var step = MenuStep(prompt: [], choices: [], timeoutMs: 5_000, retries: 2, noInput: [], noMatch: [], exhausted: nil)
        for (k, v) in m {
            let key = k.string ?? ""
            switch key {
            case "prompt": step.prompt = promptSteps(v, "menu.prompt")
            case "choices":
                guard case let .mapping(choices) = v else {
                    error(v, "`choices` maps keys to blocks or steps, e.g. `\"1\": billing`")
                    continue
                }
                for (keyNode, targetNode) in choices {
                    let text = scalarText(keyNode) ?? ""
                    guard text.count == 1, let c = text.first, "0123456789*#".contains(c) else {
                        error(keyNode, "a menu choice is one key: 0-9, * or # (quote it: \"1\")")
                        continue
                    }
                    if step.choices.contains(where: { $0.key == c }) {
                        error(keyNode, "the key \(c) is used twice in this menu")
                        continue
                    }
                    // `{goto: target, say: [phrases]}`: a key that may also be spoken.
                    if case let .mapping(form) = targetNode, form.count == 2, let goto = form["goto"], let say = form["say"] {
                        let spoken = phrases(say, "choice \(c).say")
                        for phrase in spoken {
                            let normal = MenuSpeechMatcher.normalized(phrase)
                            if let other = step.phrases.first(where: { $0.value.contains { MenuSpeechMatcher.normalized($0) == normal } }) {
                                error(say, "the phrase \"\(phrase)\" already chooses \(other.key)")
                            }
                        }
                        step.phrases[c] = spoken
                        if let t = target(goto, "choice \(c)") { step.choices.append((c, t)) }
                        continue
                    }
                    if let t = target(targetNode, "choice \(c)") { step.choices.append((c, t)) }
                }
            case "timeout": step.timeoutMs = duration(v, "menu.timeout") ?? step.timeoutMs
            case "retries": step.retries = count(v, "menu.retries") ?? step.retries
            case "noinput": step.noInput = promptSteps(v, "menu.noinput")
            case "nomatch": step.noMatch = promptSteps(v, "menu.nomatch")
            case "exhausted": step.exhausted = target(v, "menu.exhausted")
            default: error(k, "unknown option `\(key)` for `menu` (prompt, choices, timeout, retries, noinput, nomatch, exhausted)")
            }
        }
        if step.choices.isEmpty { error(value, "a `menu` needs at least one choice") }
        return .menu(step)
    }

    private mutating func set(_ value: Node?, at node: Node) -> FlowStep.Kind? {
        guard let value, case let .mapping(m) = value else {
            error(value ?? node, "`set` maps variable names to values")
            return nil
        }
        var pairs: [(name: String, value: String)] = []
        for (k, v) in m {
            guard let name = k.string, let text = scalarText(v) else {
                error(v, "`set` values must be plain text or numbers")
                continue
            }
            pairs.append((name, text))
        }
        return .set(pairs)
    }

    private mutating func webhook(_ value: Node?, at node: Node) -> FlowStep.Kind? {
        guard let value else {
            error(node, "`webhook` needs a URL")
            return nil
        }
        var step = WebhookStep(url: "", timeoutMs: 5_000, onError: nil)
        if let url = scalarText(value) {
            step.url = url
        } else if case let .mapping(m) = value {
            for (k, v) in m {
                switch k.string ?? "" {
                case "url": step.url = string(v, "webhook.url") ?? ""
                case "timeout": step.timeoutMs = duration(v, "webhook.timeout") ?? step.timeoutMs
                case "on_error", "onError": step.onError = steps(v, context: "webhook.on_error")
                default: error(k, "unknown option `\(k.string ?? "")` for `webhook` (url, timeout, on_error)")
                }
            }
        }
        if !(step.url.hasPrefix("http://") || step.url.hasPrefix("https://") || step.url.hasPrefix("{{")) {
            error(value, "`webhook` needs an http:// or https:// URL")
        }
        return .webhook(step)
    }

    private mutating func redirect(_ value: Node?, at node: Node) -> FlowStep.Kind? {
        var step = RedirectStep(dial: nil, twiml: nil)
        guard let value, value.null == nil else { return .redirect(step) }
        if value.bool == true { return .redirect(step) }
        guard case let .mapping(m) = value else {
            error(value, "`redirect` takes `dial: NUMBER`, `twiml: ...`, or nothing")
            return nil
        }
        for (k, v) in m {
            switch k.string ?? "" {
            case "dial": step.dial = scalarText(v)
            case "twiml": step.twiml = string(v, "redirect.twiml")
            default: error(k, "unknown option `\(k.string ?? "")` for `redirect` (dial, twiml)")
            }
        }
        if step.dial != nil && step.twiml != nil { error(value, "`redirect` takes `dial` or `twiml`, not both") }
        return .redirect(step)
    }

    private mutating func relay(_ value: Node?, at node: Node) -> FlowStep.Kind? {
        guard let value else {
            error(node, "`relay` needs the app's ws:// or wss:// URL")
            return nil
        }
        var step = RelayStep(url: "", options: [:])
        if let url = scalarText(value) {
            step.url = url
        } else if case let .mapping(m) = value {
            for (k, v) in m {
                guard let key = k.string else { continue }
                if key != "url", !Self.relayOptions.contains(key) {
                    error(k, "unknown option `\(key)` for `relay` (url, \(Self.relayOptions.joined(separator: ", ")))")
                    continue
                }
                if key == "url" {
                    step.url = string(v, "relay.url") ?? ""
                } else if let text = scalarText(v) {
                    step.options[key] = text
                } else if case let .sequence(items) = v {
                    step.options[key] = items.compactMap(\.string).joined(separator: ",")
                } else {
                    error(v, "`relay.\(key)` must be plain text, a number or a list")
                }
            }
        }
        if !(step.url.hasPrefix("ws://") || step.url.hasPrefix("wss://") || step.url.hasPrefix("{{")) {
            error(value, "`relay` needs a ws:// or wss:// URL")
        }
        return .relay(step)
    }

    // MARK: - Values

    /// Prompt-like lists: only audio steps make sense there (they play before input is awaited).
    private mutating func promptSteps(_ node: Node, _ what: String) -> [FlowStep] {
        let list = steps(node, context: what)
        for step in list where !step.isAudio {
            diagnostics.append(FlowDiagnostic(at: step.location, "`\(what)` may only hold say, play, tone and pause (found `\(step.name)`)"))
        }
        return list.filter(\.isAudio)
    }

    /// A phrase or a list of them: non-empty, with a letter or digit in each.
    private mutating func phrases(_ node: Node, _ what: String) -> [String] {
        let items: [Node]
        switch node {
        case let .sequence(s): items = Array(s)
        case .scalar: items = [node]
        default:
            error(node, "`\(what)` is a phrase or a list of phrases")
            return []
        }
        var out: [String] = []
        for item in items {
            guard let text = scalarText(item), !MenuSpeechMatcher.normalized(text).isEmpty else {
                error(item, "`\(what)`: each phrase needs words")
                continue
            }
            out.append(text)
        }
        return out
    }

    private mutating func target(_ node: Node, _ what: String) -> FlowTarget? {
        if let name = node.string, case .scalar = node {
            if Self.stepNames.contains(name) && name == "hangup" { return .steps([FlowStep(.hangup, at: location(node))]) }
            return .block(name, location(node))
        }
        let list = steps(node, context: what)
        return list.isEmpty ? nil : .steps(list)
    }

    private mutating func interruptible(_ node: Node) -> Interruptible? {
        if case .scalar = node, let b = node.bool, node.string != "none" { return b ? .any : Interruptible.none }
        if let s = node.string, let mode = Interruptible(rawValue: s) { return mode }
        error(node, "`interruptible` is any, dtmf, speech, none (or true/false)")
        return nil
    }

    /// "500ms", "6s", "1.5s", "2m" or a plain number of milliseconds.
    private mutating func duration(_ node: Node, _ what: String) -> Int? {
        guard let text = scalarText(node)?.trimmingCharacters(in: " ") else {
            error(node, "`\(what)` must be a duration such as 500ms or 5s")
            return nil
        }
        if let ms = Self.parseDuration(text) { return ms }
        error(node, "`\(what)`: `\(text)` is not a duration (e.g. 500ms, 5s, 1.5s)")
        return nil
    }

    static func parseDuration(_ text: String) -> Int? {
        let (number, scale): (Substring, Double) =
            if text.hasSuffix("ms") { (text.dropLast(2), 1) }
            else if text.hasSuffix("s") { (text.dropLast(1), 1000) }
            else if text.hasSuffix("m") { (text.dropLast(1), 60_000) }
            else { (Substring(text), 1) }
        guard let value = Double(number), value >= 0, value.isFinite, value * scale <= 86_400_000 else { return nil }
        return Int((value * scale).rounded())
    }

    private mutating func positive(_ node: Node, _ what: String) -> Int? {
        guard let n = node.scalar.flatMap({ YAMLInteger.parse($0.string) }), n > 0 else {
            error(node, "`\(what)` must be a whole number above 0")
            return nil
        }
        return n
    }

    private mutating func count(_ node: Node, _ what: String) -> Int? {
        guard let n = node.scalar.flatMap({ YAMLInteger.parse($0.string) }), n >= 0, n <= 100 else {
            error(node, "`\(what)` must be a whole number from 0 to 100")
            return nil
        }
        return n
    }

    private mutating func bool(_ node: Node, _ what: String) -> Bool? {
        guard let b = node.bool else {
            error(node, "`\(what)` must be true or false")
            return nil
        }
        return b
    }

    private mutating func string(_ node: Node, _ what: String) -> String? {
        guard let s = scalarText(node) else {
            error(node, "`\(what)` must be text")
            return nil
        }
        return s
    }

    private mutating func stringList(_ node: Node, _ what: String) -> [String] {
        if let s = scalarText(node) { return [s] }
        guard case let .sequence(items) = node else {
            error(node, "`\(what)` must be a list")
            return []
        }
        return items.compactMap { string($0, what) }
    }

    private func scalarText(_ node: Node) -> String? {
        guard case let .scalar(s) = node else { return nil }
        return s.string
    }

    // MARK: - Locations

    private var baseName: String {
        let last = file.split(separator: "/").last.map(String.init) ?? file
        return last.hasSuffix(".yaml") ? String(last.dropLast(5)) : last.hasSuffix(".yml") ? String(last.dropLast(4)) : last
    }

    private func location(_ node: Node?) -> FlowLocation {
        FlowLocation(file: file, line: node?.mark?.line ?? 1)
    }

    private mutating func error(_ node: Node, _ message: String) {
        diagnostics.append(FlowDiagnostic(at: location(node), message))
    }

    static func line(of error: any Error) -> Int {
        if let yaml = error as? YamlError {
            switch yaml {
            case let .scanner(_, _, mark, _), let .parser(_, _, mark, _), let .composer(_, _, mark, _):
                return mark.line
            default:
                return 1
            }
        }
        return 1
    }

    static func describe(_ error: any Error) -> String {
        if let yaml = error as? YamlError {
            switch yaml {
            case let .scanner(_, problem, _, _), let .parser(_, problem, _, _), let .composer(_, problem, _, _):
                return problem
            default:
                return "\(yaml)"
            }
        }
        return "\(error)"
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
