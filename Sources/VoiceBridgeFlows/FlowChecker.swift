/// Whole-flow checks the parser can't make line by line: references between blocks, prompts
/// that don't exist, blocks nothing leads to, steps after an ending, and numbers claimed twice.
public struct FlowChecker {
    /// Prompt ids from the catalogue (config/prompts.yaml); nil skips the prompt check.
    public var knownPrompts: Set<String>?

    public init(knownPrompts: Set<String>? = nil) {
        self.knownPrompts = knownPrompts
    }

    public func check(_ flows: [FlowDefinition]) -> [FlowDiagnostic] {
        var out: [FlowDiagnostic] = []
        for flow in flows { out += check(flow) }
        let defaults = flows.filter(\.isDefault)
        if defaults.count > 1 {
            for flow in defaults.dropFirst() {
                out.append(FlowDiagnostic(at: flow.location, "more than one flow is `default: true` (also \(defaults[0].file))"))
            }
        }
        var owners: [String: FlowDefinition] = [:]
        for flow in flows {
            for number in flow.numbers {
                let key = FlowLibrary.normalize(number)
                if let owner = owners[key], owner.file != flow.file {
                    out.append(FlowDiagnostic(at: flow.location, "the number \(number) is also claimed by \(owner.file)"))
                }
                owners[key] = flow
            }
        }
        var names: [String: FlowDefinition] = [:]
        for flow in flows {
            if let other = names[flow.name] {
                out.append(FlowDiagnostic(at: flow.location, "the flow name `\(flow.name)` is also used by \(other.file)"))
            }
            names[flow.name] = flow
        }
        return out
    }

    public func check(_ flow: FlowDefinition) -> [FlowDiagnostic] {
        var out: [FlowDiagnostic] = []
        var seen: Set<String> = []
        for block in flow.blocks {
            if !seen.insert(block.name).inserted {
                out.append(FlowDiagnostic(at: block.location, "the block `\(block.name)` is defined twice"))
            }
        }
        for block in flow.blocks { checkSteps(block.steps, in: flow, &out) }

        // Reachability from `start`, through gotos, choices and handlers.
        var reached: Set<String> = []
        var pending = [flow.start]
        while let name = pending.popLast() {
            guard reached.insert(name).inserted, let block = flow.block(named: name) else { continue }
            pending += Self.targets(of: block.steps)
        }
        for block in flow.blocks where !reached.contains(block.name) {
            out.append(FlowDiagnostic(at: block.location, "the block `\(block.name)` is unreachable: no goto, choice or handler leads to it from `\(flow.start)`"))
        }
        return out
    }

    private func checkSteps(_ steps: [FlowStep], in flow: FlowDefinition, _ out: inout [FlowDiagnostic]) {
        for (i, step) in steps.enumerated() {
            if i > 0, Self.endsList(steps[i - 1]) {
                out.append(FlowDiagnostic(at: step.location, "this `\(step.name)` never runs: the `\(steps[i - 1].name)` before it leaves this list of steps"))
            }
            switch step.kind {
            case let .goto(name):
                reference(name, at: step.location, in: flow, &out)
            case let .play(play):
                if case let .prompt(id) = play.source, let known = knownPrompts, !known.contains(id) {
                    out.append(FlowDiagnostic(at: step.location, "unknown prompt `\(id)`: not in the prompt catalogue"))
                }
            case let .gather(g):
                checkSteps(g.prompt, in: flow, &out)
                checkSteps(g.reprompt, in: flow, &out)
                target(g.exhausted, in: flow, &out)
            case let .menu(m):
                checkSteps(m.prompt, in: flow, &out)
                checkSteps(m.noInput, in: flow, &out)
                checkSteps(m.noMatch, in: flow, &out)
                for choice in m.choices { target(choice.target, in: flow, &out) }
                target(m.exhausted, in: flow, &out)
            case let .webhook(w):
                if let onError = w.onError { checkSteps(onError, in: flow, &out) }
            default:
                break
            }
        }
    }

    private func target(_ target: FlowTarget?, in flow: FlowDefinition, _ out: inout [FlowDiagnostic]) {
        switch target {
        case let .block(name, location)?: reference(name, at: location, in: flow, &out)
        case let .steps(steps)?: checkSteps(steps, in: flow, &out)
        case nil: break
        }
    }

    private func reference(_ name: String, at location: FlowLocation, in flow: FlowDefinition, _ out: inout [FlowDiagnostic]) {
        guard flow.block(named: name) == nil else { return }
        let names = flow.blocks.map(\.name).joined(separator: ", ")
        out.append(FlowDiagnostic(at: location, "no block named `\(name)` (blocks: \(names))"))
    }

    /// A step after which the rest of its list can't run.
    static func endsList(_ step: FlowStep) -> Bool {
        switch step.kind {
        case .goto, .hangup, .redirect: true
        default: false
        }
    }

    /// Every block name the steps can lead to.
    static func targets(of steps: [FlowStep]) -> [String] {
        var names: [String] = []
        func add(_ target: FlowTarget?) {
            switch target {
            case let .block(name, _)?: names.append(name)
            case let .steps(steps)?: names += Self.targets(of: steps)
            case nil: break
            }
        }
        for step in steps {
            switch step.kind {
            case let .goto(name): names.append(name)
            case let .gather(g): add(g.exhausted)
            case let .menu(m):
                for choice in m.choices { add(choice.target) }
                add(m.exhausted)
            case let .webhook(w): names += targets(of: w.onError ?? [])
            default: break
            }
        }
        return names
    }
}
