import Foundation
import NIOCore
import VoiceBridgeAudio

/// The protocol of one realtime speech-to-text socket (shared/docs/elevenlabs-stt.md §1–§3), as
/// a state machine with no I/O. It takes the handshake, the client's messages and the clock, and
/// queues what the server says, each message at the time it is due (the emulated latency). The
/// handler asks `advance(to:)` for what is due and carries it out.
///
/// Segments: the text heard since the last commit. Each word the transcriber completes extends
/// the segment and queues a cumulative `partial_transcript`; a commit (the client's
/// `commit: true`, server VAD, or too much uncommitted audio) queues the segment's
/// `committed_transcript` and starts a new one. A commit in the middle of a word commits the
/// letters heard so far; the rest of that word opens the next segment.
///
/// Every message is queued no earlier than the one before it, so partials never overtake one
/// another or the commit that ends their segment. Errors that end the session are followed by a
/// close; a fault's drop cuts ahead of everything still queued.
struct ElevenLabsEmulatorTranscriptionSession {
    enum Output: Equatable {
        case send(String)
        case close(code: Int, reason: String)
        /// Drop the TCP connection without a close frame (fault injection).
        case drop
    }

    enum Credential: Equatable {
        case valid
        case invalid
        case missing
    }

    struct Setup {
        var settings: Result<ElevenLabsEmulatorTranscriptionSettings, ElevenLabsEmulatorTranscriptionSettings.Problem>
        var credential: Credential
        var configuration: ElevenLabsEmulatorConfiguration.SpeechToText
        var sessionID: String
        /// This session is one of the first N that are turned away with `rate_limited`.
        var rateLimited: Bool
        var recorder: ElevenLabsEmulatorRecorder
        var recordID: Int
    }

    private let setup: Setup
    private var configuration: ElevenLabsEmulatorConfiguration.SpeechToText { setup.configuration }
    private var faults: ElevenLabsEmulatorConfiguration.SpeechToText.Faults { setup.configuration.faults }
    private var recorder: ElevenLabsEmulatorRecorder { setup.recorder }
    private var settings: ElevenLabsEmulatorTranscriptionSettings?
    private var transcriber: ElevenLabsEmulatorTranscriber?

    private var queue: [(due: NIODeadline, output: Output)] = []
    /// When the last message in the queue is due: the next one may not come earlier.
    private var lastDue: NIODeadline
    private var lastClientMessage: NIODeadline
    private var lastSent: NIODeadline
    /// No more input is processed: a close or drop is queued.
    private var ending = false
    private var finished = false
    private var chunksReceived = 0

    // The open segment.
    private var words: [SpokenWord] = []
    /// Letters of the word in progress that an earlier commit already carried.
    private var committedLetters = 0
    private var committedInputSamples = 0
    private var lastPartial = ""
    /// Server VAD: the 8 kHz sample at which silence has lasted `vad_silence_threshold_secs`.
    private var vadCommitAt: Int?
    private var partialsQueued = 0
    private var disconnectChecked = false

    init(_ setup: Setup, now: NIODeadline) {
        self.setup = setup
        lastDue = now
        lastClientMessage = now
        lastSent = now
    }

    /// The session is over: a close or a drop was handed out, or the client went away.
    var isFinished: Bool { finished }

    // MARK: - Start

    /// Queues the answer to the handshake: `session_started`, or an error and a close.
    mutating func start(now: NIODeadline) {
        switch setup.credential {
        case .valid: break
        case .invalid: return fail(ElevenLabsEmulatorTranscriptionProtocol.authError, ElevenLabsEmulatorTranscriptionProtocol.invalidAPIKeyError, now: now)
        case .missing: return fail(ElevenLabsEmulatorTranscriptionProtocol.authError, ElevenLabsEmulatorTranscriptionProtocol.missingCredentialsError, now: now)
        }
        let settings: ElevenLabsEmulatorTranscriptionSettings
        switch setup.settings {
        case .success(let parsed): settings = parsed
        case .failure(let problem): return fail(ElevenLabsEmulatorTranscriptionProtocol.invalidRequest, problem.message, now: now)
        }
        if setup.rateLimited {
            return fail(ElevenLabsEmulatorTranscriptionProtocol.rateLimited, ElevenLabsEmulatorTranscriptionProtocol.rateLimitedError, now: now)
        }
        self.settings = settings
        // Server VAD's knobs mapped onto the bridge's detector: vad_threshold 0.1–0.9 spans
        // -50 to -10 dBm0 (the default 0.4 is the bridge's own -35). [EMULATOR]
        let vad = SpeechDetectorConfiguration(
            thresholdDBm0: -55 + 50 * settings.vadThreshold,
            minSpeechMs: settings.minSpeechDurationMs,
            hangoverMs: settings.minSilenceDurationMs
        )
        transcriber = ElevenLabsEmulatorTranscriber(format: settings.audioFormat, vad: vad)
        recorder.transcriptionStarted(setup.recordID, sessionID: setup.sessionID, audioFormat: settings.audioFormat.name)
        queue(.send(ElevenLabsEmulatorTranscriptionProtocol.sessionStarted(sessionID: setup.sessionID, settings: settings)), at: now)
    }

    // MARK: - Input

    /// A text frame from the client.
    mutating func receive(_ frame: UnsafeRawBufferPointer, now: NIODeadline) {
        guard !ending, let settings, let transcriber else { return }
        lastClientMessage = now
        let chunk: ElevenLabsEmulatorAudioChunk
        switch ElevenLabsEmulatorAudioChunk.parse(frame) {
        case .success(let parsed): chunk = parsed
        case .failure(let problem): return fail(ElevenLabsEmulatorTranscriptionProtocol.inputError, problem.message, now: now)
        }
        let first = chunksReceived == 0
        chunksReceived += 1
        if chunk.previousText != nil, !first {
            return fail(ElevenLabsEmulatorTranscriptionProtocol.inputError, ElevenLabsEmulatorTranscriptionProtocol.previousTextError, now: now)
        }
        if let rate = chunk.sampleRate, rate != settings.audioFormat.sampleRate {
            return fail(
                ElevenLabsEmulatorTranscriptionProtocol.inputError,
                ElevenLabsEmulatorTranscriptionProtocol.sampleRateError(sent: rate, format: settings.audioFormat.name), now: now
            )
        }
        let chunkSeconds = Double(transcriber.samples(inBytes: chunk.audio.count)) / Double(settings.audioFormat.sampleRate)
        if chunkSeconds > configuration.maxChunkSeconds {
            return fail(
                ElevenLabsEmulatorTranscriptionProtocol.chunkSizeExceeded,
                ElevenLabsEmulatorTranscriptionProtocol.chunkSizeExceededError(seconds: chunkSeconds, maximumSeconds: configuration.maxChunkSeconds),
                now: now
            )
        }
        if faults.quotaExceeded {
            return fail(ElevenLabsEmulatorTranscriptionProtocol.quotaExceeded, ElevenLabsEmulatorTranscriptionProtocol.quotaExceededError, now: now)
        }

        var events: [ElevenLabsEmulatorTranscriber.Event] = []
        chunk.audio.withUnsafeBytes { transcriber.hear($0) { events.append($0) } }
        recorder.transcriptionChunk(
            setup.recordID,
            ElevenLabsEmulatorTranscriptionRecord.Chunk(
                audioBytes: chunk.audio.count, commit: chunk.commit, sampleRate: chunk.sampleRate,
                previousText: chunk.previousText, audioEndMs: Int((transcriber.secondsReceived * 1000).rounded())
            ),
            audio: configuration.recordsAudio ? chunk.audio : nil,
            seconds: chunkSeconds
        )
        for event in events {
            guard !ending else { return }
            hear(event, now: now)
        }
        guard !ending else { return }
        if let due = vadCommitAt, transcriber.samplesHeard >= due { commit(.vad, now: now) }
        if let limit = faults.disconnectAfterAudioMs, !disconnectChecked, transcriber.secondsReceived * 1000 >= Double(limit) {
            disconnectChecked = true
            if recorder.takeTranscriptionDisconnect(everyTime: faults.disconnectEveryTime) {
                return drop(now: now)
            }
        }
        if let automatic = configuration.autoCommitSeconds, uncommittedSeconds >= automatic {
            commit(.automatic, now: now)
        }
        if chunk.commit {
            if uncommittedSeconds < configuration.minCommitSeconds {
                recorder.transcriptionThrottled(setup.recordID)
                let text = ElevenLabsEmulatorTranscriptionProtocol.commitThrottledError(
                    uncommittedSeconds: uncommittedSeconds, minimumSeconds: configuration.minCommitSeconds
                )
                queue(.send(ElevenLabsEmulatorTranscriptionProtocol.errorMessage(ElevenLabsEmulatorTranscriptionProtocol.commitThrottled, text)), at: now)
            } else {
                commit(.manual, now: now)
            }
        }
    }

    /// A binary frame: the protocol has none.
    mutating func receiveBinary(now: NIODeadline) {
        guard !ending, settings != nil else { return }
        lastClientMessage = now
        fail(ElevenLabsEmulatorTranscriptionProtocol.inputError, ElevenLabsEmulatorTranscriptionProtocol.binaryFrameError, now: now)
    }

    /// The client closed or went away: nothing more is sent.
    mutating func clientGone() {
        ending = true
        finished = true
        queue.removeAll()
    }

    private var uncommittedSeconds: Double {
        guard let transcriber else { return 0 }
        return Double(transcriber.inputSamples - committedInputSamples) / Double(transcriber.format.sampleRate)
    }

    private mutating func hear(_ event: ElevenLabsEmulatorTranscriber.Event, now: NIODeadline) {
        switch event {
        case .word(let word):
            if let due = vadCommitAt, word.startSample >= due { commit(.vad, now: now) }
            add(word, now: now)
        case .utteranceEnded:
            break  // Its last word came just before.
        case .speechStarted(let onset):
            if let due = vadCommitAt, onset >= due { commit(.vad, now: now) }
            vadCommitAt = nil
        case .speechStopped(let lastLoud):
            guard let settings, settings.commitStrategy == .vad else { return }
            vadCommitAt = lastLoud + Int((settings.vadSilenceThresholdSecs * 8000).rounded())
        }
    }

    private mutating func add(_ heard: SpokenWord, now: NIODeadline) {
        var word = heard
        if committedLetters > 0 {
            // The start of this word went out with the last commit.
            word.text = String(word.text.dropFirst(committedLetters))
            committedLetters = 0
            guard !word.text.isEmpty else { return }
        }
        words.append(word)
        lastPartial = words.map(\.text).joined(separator: " ")
        partialsQueued += 1
        let due = now + .milliseconds(Int64(configuration.partialLatencyMs))
        if partialsQueued == 1, faults.disconnectAtFirstPartial, recorder.takeTranscriptionDisconnect(everyTime: faults.disconnectEveryTime) {
            // The caller has started speaking; the client never sees a word of it.
            ending = true
            queue(.drop, at: due)
            return
        }
        queue(.send(ElevenLabsEmulatorTranscriptionProtocol.partialTranscript(lastPartial)), at: due)
    }

    // MARK: - Commits

    private mutating func commit(_ trigger: ElevenLabsEmulatorTranscriptionRecord.Commit.Trigger, now: NIODeadline) {
        guard let settings, let transcriber else { return }
        var committed = words
        if let pending = transcriber.pendingWord, pending.text.count > committedLetters {
            // Committed mid-word: the letters heard so far count; the rest opens the next segment.
            var fragment = pending
            fragment.text = String(pending.text.dropFirst(committedLetters))
            committed.append(fragment)
            committedLetters = pending.text.count
        }
        let text = committed.map(\.text).joined(separator: " ")
        recorder.transcriptionCommit(
            setup.recordID,
            ElevenLabsEmulatorTranscriptionRecord.Commit(trigger: trigger, text: text, audioEndMs: Int((transcriber.secondsReceived * 1000).rounded()))
        )
        words.removeAll()
        lastPartial = ""
        vadCommitAt = nil
        committedInputSamples = transcriber.inputSamples

        let due = now + .milliseconds(Int64(configuration.commitLatencyMs + faults.commitDelayMs))
        let plain = ElevenLabsEmulatorTranscriptionProtocol.committedTranscript(text)
        // The language the emulated model "detected": the configured one, else English in ISO 639-3.
        let language = settings.includeLanguageDetection ? (settings.languageCode ?? "eng") : nil
        if settings.includeTimestamps {
            // Sent in addition to the plain message, after it (§2.2.5).
            queue(.send(plain), at: due)
            let timed = ElevenLabsEmulatorTranscriptionProtocol.committedTranscriptWithTimestamps(text, languageCode: language, words: Self.timed(committed))
            queue(.send(timed), at: due)
        } else if settings.includeLanguageDetection {
            // Detection alone: words is null, and this message comes first (pipecat 91be1bd94).
            queue(.send(ElevenLabsEmulatorTranscriptionProtocol.committedTranscriptWithTimestamps(text, languageCode: language, words: nil)), at: due)
            queue(.send(plain), at: due)
        } else {
            queue(.send(plain), at: due)
        }
    }

    /// The words with the spacing between them, times in seconds from the session's first audio.
    static func timed(_ words: [SpokenWord]) -> [ElevenLabsEmulatorTranscriptionProtocol.TimedWord] {
        var timed: [ElevenLabsEmulatorTranscriptionProtocol.TimedWord] = []
        for (index, word) in words.enumerated() {
            if index > 0 {
                timed.append(.init(text: " ", start: seconds(words[index - 1].endSample), end: seconds(word.startSample), kind: .spacing, logprob: 0))
            }
            // A clean symbol has confidence 1: logprob 0. Noise and distortion lower it.
            let logprob = (log(max(word.confidence, 1e-6)) * 10_000).rounded() / 10_000
            timed.append(.init(text: word.text, start: seconds(word.startSample), end: seconds(word.endSample), kind: .word, logprob: logprob == 0 ? 0 : logprob))
        }
        return timed
    }

    private static func seconds(_ sample: Int) -> Double {
        Double((sample + 4) / 8) / 1000
    }

    // MARK: - Time

    /// Everything due by `now`, in order, after applying the idle close and keep-alives.
    mutating func advance(to now: NIODeadline) -> [Output] {
        if !ending, let settings {
            if now >= lastClientMessage + idleTimeout {
                ending = true
                queue(.close(code: ElevenLabsEmulatorTranscriptionProtocol.idleCloseCode,
                             reason: ElevenLabsEmulatorTranscriptionProtocol.idleCloseReason(seconds: configuration.idleTimeoutSeconds)), at: now)
            } else if let interval = settings.keepaliveIntervalMs.map({ TimeAmount.milliseconds(Int64($0)) }),
                      queue.isEmpty, now >= lastSent + interval, now < lastClientMessage + interval + interval {
                // Keep-alive partials only while the client streams (§2.3): a repeat of the last one, or "".
                queue(.send(ElevenLabsEmulatorTranscriptionProtocol.partialTranscript(lastPartial)), at: now)
            }
        }
        var due: [Output] = []
        while let first = queue.first, first.due <= now, !finished {
            queue.removeFirst()
            switch first.output {
            case .send(let text):
                lastSent = now
                recorder.transcriptionSent(setup.recordID, text)
            case .close(let code, let reason):
                finished = true
                recorder.closed(setup.recordID, code: code, reason: reason)
            case .drop:
                finished = true
                recorder.disconnected(setup.recordID)
            }
            due.append(first.output)
        }
        if finished { queue.removeAll() }
        return due
    }

    /// When `advance(to:)` next has something to do.
    var nextDeadline: NIODeadline? {
        guard !finished else { return nil }
        var next = queue.first?.due
        if !ending, settings != nil {
            next = min(next ?? .distantFuture, lastClientMessage + idleTimeout)
            if let interval = settings?.keepaliveIntervalMs.map({ TimeAmount.milliseconds(Int64($0)) }), queue.isEmpty,
               lastSent + interval < lastClientMessage + interval + interval {
                next = min(next ?? .distantFuture, lastSent + interval)
            }
        }
        return next
    }

    private var idleTimeout: TimeAmount {
        .nanoseconds(Int64(configuration.idleTimeoutSeconds * 1_000_000_000))
    }

    // MARK: - Queue

    private mutating func queue(_ output: Output, at due: NIODeadline) {
        let at = max(due, lastDue)
        lastDue = at
        queue.append((at, output))
    }

    /// An error message, then the close.
    private mutating func fail(_ type: String, _ error: String, now: NIODeadline) {
        ending = true
        queue(.send(ElevenLabsEmulatorTranscriptionProtocol.errorMessage(type, error)), at: now)
        queue(.close(code: ElevenLabsEmulatorTranscriptionProtocol.errorCloseCode, reason: error), at: now)
    }

    /// The connection dies now: whatever is still queued is lost.
    private mutating func drop(now: NIODeadline) {
        ending = true
        queue.removeAll()
        queue.append((now, .drop))
    }
}
