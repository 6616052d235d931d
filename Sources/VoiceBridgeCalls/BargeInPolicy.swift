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

    public init(minSpeechMs: Int = 200, echoGuardMs: Int = 150) {
        self.minSpeechMs = minSpeechMs
        self.echoGuardMs = echoGuardMs
    }

    public enum Input: Sendable, Equatable {
        case dtmf(Character)
        /// Speech confirmed by the detector: when it began and how long it has lasted.
        case speech(onsetNanos: Int64, durationMs: Int)
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
    }

    /// - Parameters:
    ///   - playing: whether the caller is hearing (or about to hear) our audio.
    ///   - utteranceStartNanos: when the current utterance's first frame went out.
    public func evaluate(_ input: Input, interruptible: Interruptible, playing: Bool, utteranceStartNanos: Int64?) -> Verdict {
        guard playing else { return .reject(.nothingPlaying) }
        switch input {
        case .dtmf:
            return interruptible.allowsDTMF ? .accept : .reject(.notInterruptible)
        case let .speech(onset, duration):
            guard interruptible.allowsSpeech else { return .reject(.notInterruptible) }
            guard duration >= minSpeechMs else { return .reject(.tooShort) }
            if let start = utteranceStartNanos, onset >= start, onset - start < Int64(echoGuardMs) * 1_000_000 {
                return .reject(.echoGuard)
            }
            return .accept
        }
    }
}
