import Synchronization

/// Turns build events into what a person watches: a redrawn progress bar on a terminal, or one
/// plain line per prompt otherwise (logs, CI). Failures always get a line of their own.
public final class PromptBuildProgress: Sendable {
    private struct State {
        var total = 0
        var done = 0
        var running: [String] = []
    }

    private let isTerminal: Bool
    private let width: Int
    private let write: @Sendable (String) -> Void
    private let state = Mutex(State())

    public init(isTerminal: Bool, width: Int = 30, write: @escaping @Sendable (String) -> Void) {
        self.isTerminal = isTerminal
        self.width = width
        self.write = write
    }

    public func handle(_ event: PromptBuildEvent) {
        let text: String = state.withLock { state in
            switch event {
            case .planned(let total, _):
                state.total = total
                return isTerminal && total > 0 ? bar(&state) : ""
            case .started(let id):
                state.running.append(id)
                return isTerminal ? bar(&state) : ""
            case .finished(let id, let outcome):
                state.done += 1
                state.running.removeAll { $0 == id }
                let line = "[\(state.done)/\(state.total)] \(id): \(Self.describe(outcome))\n"
                if isTerminal {
                    let kept = outcome.isFailure ? "\r\u{1B}[K" + line : ""
                    let end = state.done == state.total ? "\n" : ""
                    return kept + bar(&state) + end
                }
                return line
            }
        }
        if !text.isEmpty { write(text) }
    }

    private func bar(_ state: inout State) -> String {
        let filled = state.total == 0 ? width : state.done * width / state.total
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        var line = "\r\u{1B}[K[\(bar)] \(state.done)/\(state.total)"
        if !state.running.isEmpty { line += "  " + state.running.joined(separator: ", ") }
        return line
    }

    static func describe(_ outcome: PromptOutcome) -> String {
        switch outcome {
        case .cached: "cached"
        case .synthesized: "synthesized"
        case .wouldSynthesize: "would synthesize"
        case .wouldUseCache: "cached"
        case .failed(let reason): "FAILED: \(reason)"
        }
    }
}
