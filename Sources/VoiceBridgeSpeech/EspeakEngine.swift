import CEspeakNG
import Dispatch
import Foundation
import Synchronization
import VoiceBridgeAudio

/// The process's one espeak-ng: a dedicated thread that makes every espeak call, fed by a
/// first-in-first-out queue of jobs.
///
/// espeak-ng keeps its state in globals and is not thread-safe, so it gets a thread of its own:
/// never an event loop (synthesis blocks), never two callers at once. Jobs are a sentence each,
/// so turns from many calls interleave sentence by sentence rather than waiting for whole turns.
final class EspeakEngine: Sendable {
    enum Job: Sendable {
        /// Synthesise one sentence of a turn.
        case speak(OfflineTurn, String)
        /// The turn's last sentence is done: end its stream.
        case finish(OfflineTurn)
        /// Initialise espeak and load a voice ahead of the first turn, then report.
        case prepare(OfflineVoice.Configuration, @Sendable (OfflineVoiceError?) -> Void)
    }

    static let shared = EspeakEngine()

    private let queue = Mutex(JobQueue())
    private let available = DispatchSemaphore(value: 0)

    private init() {
        NamedThread.start("vb-espeak") { [self] in
            // Confined to this thread for the life of the process: espeak's globals and ours.
            let synthesizer = EspeakSynthesizer()
            while true {
                available.wait()
                guard let job = queue.withLock({ $0.pop() }) else { continue }
                synthesizer.run(job)
            }
        }
    }

    func submit(_ job: Job) {
        queue.withLock { $0.push(job) }
        available.signal()
    }

    private struct JobQueue {
        private var items: [Job] = []
        private var head = 0

        mutating func push(_ job: Job) { items.append(job) }

        mutating func pop() -> Job? {
            guard head < items.count else { return nil }
            let job = items[head]
            head += 1
            if head >= 64, head * 2 >= items.count {  // Drop the consumed prefix now and then.
                items.removeFirst(head)
                head = 0
            }
            return job
        }
    }
}

/// espeak-ng's global state, and everything that touches it. Lives on the engine thread only.
private final class EspeakSynthesizer {
    private struct Initialised {
        var dataPath: String?
        var sampleRate: Int
    }

    private struct Voice: Equatable {
        /// The names asked for (the first that exists is the one speaking).
        var names: [String]
        var rate: Int
        var pitch: Int
        var volume: Int
    }

    private var initialised: Initialised?
    private var voice: Voice?
    /// One resampler for every sentence: sentences run one at a time, each is flushed at its end and
    /// the resampler is reset before the next, so nothing (not even the state of a sentence cut
    /// short by a cancel) carries over from one sentence or turn to the next.
    private var resampler: Resampler?

    func run(_ job: EspeakEngine.Job) {
        switch job {
        case .speak(let turn, let text):
            guard !turn.isStopped else { return }  // Cancelled while queued: drop it.
            do {
                try speak(text, for: turn)
            } catch {
                turn.fail(error)
            }
        case .finish(let turn):
            turn.complete()
        case .prepare(let settings, let report):
            do {
                let sampleRate = try initialise(dataPath: settings.dataPath)
                try select([settings.voice], rate: settings.rate, pitch: settings.pitch, volume: settings.volume)
                _ = try resampler(from: sampleRate)
                report(nil)
            } catch {
                report(error)
            }
        }
    }

    private func speak(_ text: String, for turn: OfflineTurn) throws(OfflineVoiceError) {
        let settings = turn.settings
        let sampleRate = try initialise(dataPath: settings.dataPath)
        try select(turn.voices, rate: settings.rate, pitch: settings.pitch, volume: settings.volume)
        let resampler = try resampler(from: sampleRate)
        resampler.reset()

        let sentence = SentenceSynthesis(
            text: text, turn: turn, resampler: resampler, inputRate: sampleRate,
            estimatedMsPerCharacter: 60_000 / (max(settings.rate, 80) * 6)  // ~6 characters a word
        )
        let status = withExtendedLifetime(sentence) {
            espeak_ng_Synthesize(
                text, text.utf8.count + 1, 0, POS_CHARACTER, 0,
                UInt32(espeakCHARS_UTF8 | espeakENDPAUSE), nil,
                Unmanaged.passUnretained(sentence).toOpaque()
            )
        }
        switch status {
        case ENS_OK: sentence.complete()
        case ENS_SPEECH_STOPPED: return  // Our callback aborted it: the turn was cancelled.
        default: throw .synthesisFailed(status: status.rawValue, message: Self.message(status))
        }
    }

    /// Starts espeak once per process. A bad data path is caught here, before espeak sees it:
    /// espeak would quietly fall back to its default data instead of failing.
    private func initialise(dataPath: String?) throws(OfflineVoiceError) -> Int {
        if let initialised, initialised.dataPath == dataPath { return initialised.sampleRate }
        if let dataPath, !Self.holdsVoiceData(dataPath) { throw .dataNotFound(path: dataPath) }
        if let initialised {
            throw .dataPathConflict(active: initialised.dataPath, requested: dataPath)
        }

        espeak_ng_InitializePath(dataPath)
        var context: espeak_ng_ERROR_CONTEXT?
        var status = espeak_ng_Initialize(&context)
        espeak_ng_ClearErrorContext(&context)
        guard status == ENS_OK else {
            throw .initialisationFailed(status: status.rawValue, message: Self.message(status))
        }
        status = espeak_ng_InitializeOutput(ENOUTPUT_MODE_SYNCHRONOUS, Self.blockMs, nil)
        guard status == ENS_OK else {
            throw .initialisationFailed(status: status.rawValue, message: Self.message(status))
        }
        espeak_SetSynthCallback(synthCallback)
        let sampleRate = Int(espeak_ng_GetSampleRate())
        initialised = Initialised(dataPath: dataPath, sampleRate: sampleRate)
        return sampleRate
    }

    /// How much audio espeak hands the callback at a time, in ms: small enough that the first chunk
    /// and a cancel come promptly.
    private static let blockMs: Int32 = 40

    private static func holdsVoiceData(_ path: String) -> Bool {
        let files = FileManager.default
        return files.fileExists(atPath: path + "/phontab") || files.fileExists(atPath: path + "/espeak-ng-data/phontab")
    }

    private func select(_ names: [String], rate: Int, pitch: Int, volume: Int) throws(OfflineVoiceError) {
        let wanted = Voice(names: names, rate: rate, pitch: pitch, volume: volume)
        guard wanted != voice else { return }
        if wanted.names != voice?.names {
            voice = nil  // Whatever espeak did on a failed switch, set everything next time.
            guard names.contains(where: { espeak_ng_SetVoiceByName($0) == ENS_OK }) else {
                throw .voiceNotFound(names[0])
            }
        }
        // A voice switch may reset the parameters, so they are always set after it.
        _ = espeak_ng_SetParameter(espeakRATE, Int32(min(max(rate, 80), 450)), 0)
        _ = espeak_ng_SetParameter(espeakPITCH, Int32(min(max(pitch, 0), 100)), 0)
        _ = espeak_ng_SetParameter(espeakVOLUME, Int32(min(max(volume, 0), 200)), 0)
        voice = wanted
    }

    private func resampler(from sampleRate: Int) throws(OfflineVoiceError) -> Resampler {
        if let resampler { return resampler }
        do {
            let made = try Resampler(inputRate: sampleRate, outputRate: 8000)
            resampler = made
            return made
        } catch {
            throw .resamplerUnavailable(String(describing: error))
        }
    }

    private static func message(_ status: espeak_ng_STATUS) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        espeak_ng_GetStatusCodeMessage(status, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// espeak's synthesis callback. `user_data` carries the sentence being spoken (espeak copies it
/// into every event, including the terminator that each block's list always has).
private let synthCallback: @convention(c) (UnsafeMutablePointer<Int16>?, Int32, UnsafeMutablePointer<espeak_EVENT>?) -> Int32 = {
    samples, count, events in
    guard let events, let sentence = events.pointee.user_data else { return 0 }
    let synthesis = Unmanaged<SentenceSynthesis>.fromOpaque(sentence).takeUnretainedValue()
    return synthesis.receive(samples: samples, count: Int(count), events: events) ? 0 : 1
}
