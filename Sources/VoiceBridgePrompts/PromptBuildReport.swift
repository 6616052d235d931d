import Foundation

/// What happened to one prompt in a build.
public enum PromptOutcome: Sendable, Equatable {
    /// Made from the cache: no request.
    case cached
    /// Synthesised now.
    case synthesized
    /// Dry run: would be synthesised (and billed, for ElevenLabs).
    case wouldSynthesize
    /// Dry run: is in the cache.
    case wouldUseCache
    case failed(String)

    public var isFailure: Bool {
        if case .failed = self { return true }
        return false
    }
}

/// Progress, in the order it happens. The builder reports from one task at a time.
public enum PromptBuildEvent: Sendable, Equatable {
    /// The plan: how many prompts there are, and how many need synthesis.
    case planned(total: Int, toSynthesize: Int)
    /// A request for this prompt went out.
    case started(id: String)
    case finished(id: String, PromptOutcome)
}

/// One prompt's line in the report.
public struct PromptResult: Sendable, Equatable {
    public var id: String
    public var outcome: PromptOutcome
    public var characters: Int
    /// The file written (relative to the output directory), when there is one.
    public var file: String?
    public var durationMs: Int?
}

/// The whole build: per prompt, in catalogue order, plus totals.
public struct PromptBuildReport: Sendable, Equatable {
    public var results: [PromptResult]
    public var source: String
    public var dryRun: Bool
    /// Characters synthesised by a billed source (or that would be, in a dry run); 0 for the
    /// offline voice.
    public var billedCharacters: Int
    /// Synthesis requests made (before the client's own retries); 0 in a dry run.
    public var synthesisCount: Int
    public var manifestPath: String?

    public var failures: [PromptResult] { results.filter(\.outcome.isFailure) }
    public var succeeded: Bool { failures.isEmpty }

    /// A few lines for a person: totals, then every failure with its reason.
    public var summary: String {
        let count = { (outcome: PromptOutcome) in results.filter { $0.outcome == outcome }.count }
        var lines: [String] = []
        if dryRun {
            let width = results.map(\.id.count).max() ?? 0
            for result in results {
                let padded = result.id.padding(toLength: width, withPad: " ", startingAt: 0)
                lines.append("  \(padded)  \(String(format: "%5d", result.characters)) characters  \(result.outcome == .wouldSynthesize ? "synthesize" : "cached")")
            }
            let bill = source == "elevenlabs" ? "\(billedCharacters) characters would be billed" : "nothing billed (offline voice)"
            lines.append("dry run: \(results.count) prompts, \(count(.wouldSynthesize)) to synthesize, \(count(.wouldUseCache)) cached; \(bill)")
            return lines.joined(separator: "\n")
        }
        var line = "\(results.count) prompts: \(count(.synthesized)) synthesized (\(source)), \(count(.cached)) from cache, \(failures.count) failed"
        if source == "elevenlabs" { line += "; \(billedCharacters) characters billed" }
        lines.append(line)
        if let manifestPath { lines.append("manifest: \(manifestPath)") }
        if !failures.isEmpty {
            lines.append("failed:")
            for failure in failures {
                if case .failed(let reason) = failure.outcome { lines.append("  \(failure.id): \(reason)") }
            }
            lines.append("rerun the same command to retry them; finished prompts are cached")
        }
        return lines.joined(separator: "\n")
    }
}

/// A build that could not run at all (as opposed to prompts that failed).
public enum PromptBuildError: Error, Sendable, Equatable, CustomStringConvertible {
    case io(path: String, reason: String)
    case invalidOptions(String)

    public var description: String {
        switch self {
        case .io(let path, let reason): "\(path): \(reason)"
        case .invalidOptions(let why): why
        }
    }
}
