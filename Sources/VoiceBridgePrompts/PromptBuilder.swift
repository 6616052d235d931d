import VoiceBridgeCarriers
import Foundation
import VoiceBridgeSpeech

/// Builds a catalogue into a directory of prompt files plus `manifest.json`.
///
/// Each prompt's audio is looked up in a content-addressed cache (`DIR/.cache/<key hash>.<format>`,
/// the audio as synthesised) before anything is requested, so an unchanged prompt costs nothing
/// even when its file was deleted, and a change to one prompt rebuilds only that one. Prompts with
/// the same key are synthesised once. At most `concurrency` requests run at a time. Every file is
/// written atomically, and the manifest is written at the end whether or not some prompts failed:
/// it lists the prompts that are built and current, so a failed prompt falls back to live speech
/// and a rerun picks up where this one stopped.
public struct PromptBuilder: Sendable {
    public struct Options: Sendable, Equatable {
        public var outputDirectory: String
        /// Requests in flight at once (at least 1).
        public var concurrency: Int
        /// Plan and count characters only: no request, no file.
        public var dryRun: Bool
        /// Every prompt in this format instead of the catalogue's.
        public var format: PromptFormat?

        public init(outputDirectory: String = "build/prompts", concurrency: Int = 2, dryRun: Bool = false, format: PromptFormat? = nil) {
            self.outputDirectory = outputDirectory
            self.concurrency = concurrency
            self.dryRun = dryRun
            self.format = format
        }
    }

    public static let cacheDirectoryName = ".cache"

    public let synthesizer: any PromptSynthesizer
    public let options: Options

    public init(synthesizer: any PromptSynthesizer, options: Options = Options()) {
        self.synthesizer = synthesizer
        self.options = options
    }

    private var cacheDirectory: String { options.outputDirectory + "/" + Self.cacheDirectoryName }

    /// One prompt with its key: what the build works on.
    private struct Job: Sendable {
        var prompt: PromptDefinition
        var hash: String
    }

    public func build(_ catalog: PromptCatalog, progress: @escaping @Sendable (PromptBuildEvent) -> Void = { _ in }) async throws(PromptBuildError) -> PromptBuildReport {
        guard options.concurrency >= 1 else { throw .invalidOptions("concurrency must be at least 1 (got \(options.concurrency))") }
        var jobs: [Job] = []
        for original in catalog.prompts {
            var prompt = original
            if let format = options.format { prompt.format = format }
            jobs.append(Job(prompt: prompt, hash: synthesizer.cacheKey(for: prompt).hash))
        }

        // The plan: which keys are cached, which need synthesis (each key once).
        var cached: [String: SynthesizedAudio] = [:]
        var toSynthesize: [Job] = []
        var planned: Set<String> = []
        for job in jobs where !planned.contains(job.hash) {
            planned.insert(job.hash)
            if let audio = cachedAudio(job) {
                cached[job.hash] = audio
            } else {
                toSynthesize.append(job)
            }
        }
        progress(.planned(total: jobs.count, toSynthesize: toSynthesize.count))
        // A dry run bills everything it would synthesize; a build only what it got (a refused
        // request is not charged).
        var billed = 0
        if synthesizer.isBilled, options.dryRun {
            for job in toSynthesize { billed += job.prompt.characters }
        }

        if options.dryRun {
            var results: [PromptResult] = []
            for job in jobs {
                let outcome: PromptOutcome = cached[job.hash] == nil ? .wouldSynthesize : .wouldUseCache
                results.append(PromptResult(id: job.prompt.id, outcome: outcome, characters: job.prompt.characters))
                progress(.finished(id: job.prompt.id, outcome))
            }
            return PromptBuildReport(results: results, source: synthesizer.source, dryRun: true, billedCharacters: billed, synthesisCount: 0, manifestPath: nil)
        }

        try makeDirectory(options.outputDirectory)
        try makeDirectory(cacheDirectory)
        let previous = previousManifest()
        let ledger = Ledger()

        // Cached prompts first: they need no waiting.
        for job in jobs {
            guard let audio = cached[job.hash] else { continue }
            ledger.record(install(job, audio: audio, outcome: .cached, into: ledger), progress: progress)
        }

        // Then synthesis, at most `concurrency` at a time; each result installs every prompt with its key.
        await synthesizeAll(toSynthesize, progress: progress) { done, result in
            var outcome = PromptOutcome.synthesized
            var audio: SynthesizedAudio?
            switch result {
            case .success(let made):
                if synthesizer.isBilled { billed += done.prompt.characters }
                do {
                    try AtomicFile.write(made.bytes, to: cachePath(done))
                    audio = made
                } catch {
                    outcome = .failed("\(error)")
                }
            case .failure(let error):
                outcome = .failed("\(error)")
            }
            for job in jobs where job.hash == done.hash {
                if let audio {
                    ledger.record(install(job, audio: audio, outcome: outcome, into: ledger), progress: progress)
                } else {
                    ledger.record(PromptResult(id: job.prompt.id, outcome: outcome, characters: job.prompt.characters), progress: progress)
                }
            }
        }

        try removeStaleFiles(previous: previous, current: ledger.manifest)
        let manifestPath = options.outputDirectory + "/" + PromptManifest.fileName
        try AtomicFile.write(ledger.manifest.encoded(), to: manifestPath)
        var results: [PromptResult] = []
        for job in jobs {
            if let result = ledger.results[job.prompt.id] { results.append(result) }
        }
        return PromptBuildReport(
            results: results, source: synthesizer.source, dryRun: false,
            billedCharacters: billed, synthesisCount: toSynthesize.count, manifestPath: manifestPath
        )
    }

    /// The build's running account: the manifest so far and each prompt's result. Used only by
    /// the building task.
    private final class Ledger {
        var manifest = PromptManifest()
        var results: [String: PromptResult] = [:]

        func record(_ result: PromptResult, progress: @Sendable (PromptBuildEvent) -> Void) {
            results[result.id] = result
            progress(.finished(id: result.id, result.outcome))
        }
    }

    /// Runs the jobs with at most `options.concurrency` in flight, handing each result to
    /// `completed` on this task as it arrives.
    private func synthesizeAll(
        _ jobs: [Job], progress: @escaping @Sendable (PromptBuildEvent) -> Void,
        completed: (Job, Result<SynthesizedAudio, any Error>) -> Void
    ) async {
        let synthesizer = synthesizer
        await withTaskGroup(of: (Job, Result<SynthesizedAudio, any Error>).self) { group in
            var next = 0
            for _ in 0..<min(options.concurrency, jobs.count) {
                progress(.started(id: jobs[next].prompt.id))
                group.addTask(operation: Self.synthesis(of: jobs[next], by: synthesizer))
                next += 1
            }
            while let finished = await group.next() {
                completed(finished.0, finished.1)
                if next < jobs.count {
                    progress(.started(id: jobs[next].prompt.id))
                    group.addTask(operation: Self.synthesis(of: jobs[next], by: synthesizer))
                    next += 1
                }
            }
        }
    }

    private static func synthesis(of job: Job, by synthesizer: any PromptSynthesizer) -> @Sendable () async -> (Job, Result<SynthesizedAudio, any Error>) {
        {
            do {
                return (job, .success(try await synthesizer.synthesize(job.prompt)))
            } catch {
                return (job, .failure(error))
            }
        }
    }

    // MARK: - Cache

    private func cachePath(_ job: Job) -> String {
        cacheDirectory + "/\(job.hash).\(job.prompt.resolvedSynthesisFormat.name)"
    }

    /// The cached audio for a key, if the entry exists and is usable audio. A damaged entry is
    /// treated as missing and overwritten by the new synthesis.
    private func cachedAudio(_ job: Job) -> SynthesizedAudio? {
        guard let bytes = AtomicFile.read(cachePath(job)) else { return nil }
        return try? PromptAudio.validated(SynthesizedAudio(format: job.prompt.resolvedSynthesisFormat, bytes: bytes))
    }

    // MARK: - Output

    /// Writes a prompt's file (unless identical bytes are already there) and its manifest entry.
    private func install(_ job: Job, audio: SynthesizedAudio, outcome: PromptOutcome, into ledger: Ledger) -> PromptResult {
        let prompt = job.prompt
        let failed = { (reason: String) in PromptResult(id: prompt.id, outcome: .failed(reason), characters: prompt.characters) }
        let bytes: [UInt8]
        let durationMs: Int
        do {
            bytes = try PromptAudio.file(from: audio, as: prompt.format)
            durationMs = try PromptAudio.durationMs(ofFile: bytes, format: prompt.format)
        } catch {
            return failed("\(error)")
        }
        let path = options.outputDirectory + "/" + prompt.fileName
        if AtomicFile.read(path) != bytes {
            do { try AtomicFile.write(bytes, to: path) } catch { return failed("\(error)") }
        }
        let synthesizerKey = synthesizer.cacheKey(for: prompt)
        ledger.manifest.prompts[prompt.id] = PromptManifest.Entry(
            file: prompt.fileName, format: prompt.format, hash: job.hash, sha256: SHA256.hex(bytes), durationMs: durationMs,
            characters: prompt.characters, voice: synthesizerKey.voice, model: synthesizerKey.model, source: synthesizer.source,
            text: prompt.text
        )
        return PromptResult(id: prompt.id, outcome: outcome, characters: prompt.characters, file: prompt.fileName, durationMs: durationMs)
    }

    private func previousManifest() -> PromptManifest? {
        guard let bytes = AtomicFile.read(options.outputDirectory + "/" + PromptManifest.fileName) else { return nil }
        // A damaged manifest is rebuilt from the catalogue; nothing in it is needed.
        return try? PromptManifest.decode(bytes)
    }

    /// Files the previous build wrote that this one doesn't list (a prompt removed, renamed,
    /// reformatted or failed): deleted, so the directory holds exactly what the manifest says.
    /// Only names the old manifest lists are touched, and only plain names inside the directory.
    private func removeStaleFiles(previous: PromptManifest?, current: PromptManifest) throws(PromptBuildError) {
        guard let previous else { return }
        let keep = Set(current.prompts.values.map(\.file))
        for entry in previous.prompts.values where !keep.contains(entry.file) {
            guard !entry.file.contains("/"), !entry.file.hasPrefix("."), entry.file != PromptManifest.fileName else { continue }
            let path = options.outputDirectory + "/" + entry.file
            if unlink(path) != 0, errno != ENOENT {
                throw .io(path: path, reason: "can't remove the stale prompt: \(String(cString: strerror(errno)))")
            }
        }
    }

    private func makeDirectory(_ path: String) throws(PromptBuildError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw .io(path: path, reason: "can't create the directory: \(error.localizedDescription)")
        }
    }
}
