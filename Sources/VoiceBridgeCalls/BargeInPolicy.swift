/// Which caller input may interrupt a prompt (ConversationRelay's `interruptible` values).
public enum Interruptible: String, Sendable, Equatable, Codable, CaseIterable {
    case none, dtmf, speech, any

    public var allowsDTMF: Bool { self == .dtmf || self == .any }
    public var allowsSpeech: Bool { self == .speech || self == .any }
}

/// Decides whether caller input interrupts what is playing. Pure: it sees facts, returns a verdict.
///
/// Clearing on every blip is how other bridges wipe their greetings, so speech must have lasted
/// the minimum speech time (the detector confirms that) and must not start inside the echo guard
/// window at the start of an utterance, where line echo of our own first syllables is likeliest.
public struct BargeInPolicy: Sendable, Equatable {
    public var minSpeechMs: Int
    public var echoGuardMs: Int
    /// What speech must show to interrupt.
    public var evidence: Evidence
    /// With `words`: a transcript of nothing but acknowledgements ("uh-huh", "okay") never
    /// interrupts.
    public var ignoreBackchannel: Bool

    public init(minSpeechMs: Int = 200, echoGuardMs: Int = 150, evidence: Evidence = .energy, ignoreBackchannel: Bool = false) {
        self.minSpeechMs = minSpeechMs
        self.echoGuardMs = echoGuardMs
        self.evidence = evidence
        self.ignoreBackchannel = ignoreBackchannel
    }

    public enum Evidence: Sendable, Equatable {
        /// The detector's confirmed onset (energy and voicing): fastest, needs no speech-to-text.
        case energy
        /// Words from speech-to-text, at least this many: coughs, line noise and a TV in the room
        /// stop interrupting prompts. A call nobody transcribes falls back to `energy`.
        case words(minimum: Int)
    }

    public enum Input: Sendable, Equatable {
        case dtmf(Character)
        /// Speech confirmed by the detector: when it began and how long it has lasted.
        case speech(onsetNanos: Int64, durationMs: Int)
        /// A transcript (partial or committed) of the caller's current speech, as words.
        case words([String])
    }

    public enum Verdict: Sendable, Equatable {
        case accept
        case reject(Reason)
    }

    public enum Reason: String, Sendable, Equatable {
        case nothingPlaying = "nothing playing"
        case notInterruptible = "prompt not interruptible by this input"
        case tooShort = "speech shorter than the minimum"
        case echoGuard = "speech began inside the echo guard window"
        case awaitingWords = "speech waits for words"
        case tooFewWords = "fewer words than the minimum"
        case backchannel = "an acknowledgement, not an interruption"
    }

    /// - Parameters:
    ///   - playing: whether the caller is hearing (or about to hear) our audio.
    ///   - utteranceStartNanos: when the current utterance's first frame went out.
    ///   - transcribing: whether words will come for this speech (speech-to-text is listening).
    public func evaluate(
        _ input: Input, interruptible: Interruptible, playing: Bool, utteranceStartNanos: Int64?, transcribing: Bool = false
    ) -> Verdict {
        guard playing else { return .reject(.nothingPlaying) }
        switch input {
        case .dtmf:
            return interruptible.allowsDTMF ? .accept : .reject(.notInterruptible)
        case let .words(words):
            guard interruptible.allowsSpeech else { return .reject(.notInterruptible) }
            guard case let .words(minimum) = evidence else { return .reject(.nothingPlaying) }
            if ignoreBackchannel && SpokenWords.isBackchannel(words) { return .reject(.backchannel) }
            return words.count >= minimum ? .accept : .reject(.tooFewWords)
        case let .speech(onset, duration):
            guard interruptible.allowsSpeech else { return .reject(.notInterruptible) }
            if case .words = evidence, transcribing { return .reject(.awaitingWords) }
            guard duration >= minSpeechMs else { return .reject(.tooShort) }
            if let start = utteranceStartNanos, onset >= start, onset - start < Int64(echoGuardMs) * 1_000_000 {
                return .reject(.echoGuard)
            }
            return .accept
        }
    }
}
