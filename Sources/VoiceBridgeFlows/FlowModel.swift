import VoiceBridgeCalls

/// Where a step came from, so `flows check` and runtime errors can name the file and line.
public struct FlowLocation: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public var description: String { "\(file):\(line)" }
}

/// One flow file: which calls it answers and the blocks of steps it runs.
public struct FlowDefinition: Sendable, Equatable {
    public var name: String
    public var file: String
    /// Called numbers (`To`) this flow answers.
    public var numbers: [String]
    /// Answers every call no other flow claims.
    public var isDefault: Bool
    public var start: String
    public var variables: [String: String]
    /// Named lists of steps; `goto` and menu choices refer to them by name. Order is the file's.
    public var blocks: [FlowBlock]
    public var location: FlowLocation

    public func block(named name: String) -> FlowBlock? { blocks.first { $0.name == name } }
}

public struct FlowBlock: Sendable, Equatable {
    public var name: String
    public var steps: [FlowStep]
    public var location: FlowLocation
}

/// What a choice, a retry handler or an ending leads to: another block, or steps of its own that
/// run in place (after them, the flow goes on after the step that ran them).
public enum FlowTarget: Sendable, Equatable {
    case block(String, FlowLocation)
    case steps([FlowStep])
}

public struct FlowStep: Sendable, Equatable {
    public var kind: Kind
    public var location: FlowLocation

    public init(_ kind: Kind, at location: FlowLocation) {
        self.kind = kind
        self.location = location
    }

    public indirect enum Kind: Sendable, Equatable {
        case say(SayStep)
        case play(PlayStep)
        case tone(ToneStep)
        case pause(ms: Int)
        case gather(GatherStep)
        case menu(MenuStep)
        case set([(name: String, value: String)])
        case goto(String)
        case webhook(WebhookStep)
        case redirect(RedirectStep)
        case relay(RelayStep)
        case hangup

        public static func == (a: Kind, b: Kind) -> Bool {
            switch (a, b) {
            case let (.say(x), .say(y)): x == y
            case let (.play(x), .play(y)): x == y
            case let (.tone(x), .tone(y)): x == y
            case let (.pause(x), .pause(y)): x == y
            case let (.gather(x), .gather(y)): x == y
            case let (.menu(x), .menu(y)): x == y
            case let (.set(x), .set(y)): x.map(\.name) == y.map(\.name) && x.map(\.value) == y.map(\.value)
            case let (.goto(x), .goto(y)): x == y
            case let (.webhook(x), .webhook(y)): x == y
            case let (.redirect(x), .redirect(y)): x == y
            case let (.relay(x), .relay(y)): x == y
            case (.hangup, .hangup): true
            default: false
            }
        }
    }

    /// The step's name as written in YAML.
    public var name: String {
        switch kind {
        case .say: "say"
        case .play: "play"
        case .tone: "tone"
        case .pause: "pause"
        case .gather: "gather"
        case .menu: "menu"
        case .set: "set"
        case .goto: "goto"
        case .webhook: "webhook"
        case .redirect: "redirect"
        case .relay: "relay"
        case .hangup: "hangup"
        }
    }

    /// Steps that only queue audio: they don't wait, so consecutive prompts play back to back.
    public var isAudio: Bool {
        switch kind {
        case .say, .play, .tone, .pause: true
        default: false
        }
    }
}

public struct SayStep: Sendable, Equatable {
    /// May hold `{{variables}}`.
    public var text: String
    public var voice: String?
    public var interruptible: Interruptible
}

public struct PlayStep: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        /// A built prompt (`voicebridge prompts build`); live TTS of its catalogue text if missing.
        case prompt(String)
        /// A WAV file, relative to the flow file's directory unless absolute.
        case wav(String)
    }
    public var source: Source
    public var interruptible: Interruptible
}

public struct ToneStep: Sendable, Equatable {
    public enum Sound: Sendable, Equatable {
        case beep, ringback, busy
        case dtmf(String)
    }
    public var sound: Sound
    public var durationMs: Int?
    public var interruptible: Interruptible
}

/// Digits into a variable. The timeout runs from the moment the prompt has been heard.
public struct GatherStep: Sendable, Equatable {
    public var prompt: [FlowStep]
    public var into: String
    public var maxDigits: Int
    public var minDigits: Int
    public var finishOnKey: Character?
    public var timeoutMs: Int
    public var interDigitTimeoutMs: Int
    /// Extra attempts after the first, on no input or too few digits.
    public var retries: Int
    /// Said before each new attempt (on top of the prompt, which plays again).
    public var reprompt: [FlowStep]
    /// Caller speech also answers: the variable is set to what the caller said (speech-to-text),
    /// or to `speech` when nobody can hear the words (no speech-to-text configured).
    public var acceptsSpeech: Bool
    /// Words to listen for in the answer (speech-to-text key terms).
    public var hints: [String] = []
    /// What runs when every attempt failed; nil hangs up.
    public var exhausted: FlowTarget?
}

public struct MenuStep: Sendable, Equatable {
    public var prompt: [FlowStep]
    public var choices: [(key: Character, target: FlowTarget)]
    public var timeoutMs: Int
    public var retries: Int
    public var noInput: [FlowStep]
    public var noMatch: [FlowStep]
    public var exhausted: FlowTarget?
    /// Spoken phrases that choose a key (`"1": {goto: billing, say: ["billing", "pay my bill"]}`).
    public var phrases: [Character: [String]] = [:]

    public static func == (a: MenuStep, b: MenuStep) -> Bool {
        a.prompt == b.prompt && a.choices.map(\.key) == b.choices.map(\.key) && a.choices.map(\.target) == b.choices.map(\.target)
            && a.phrases == b.phrases
            && a.timeoutMs == b.timeoutMs && a.retries == b.retries && a.noInput == b.noInput && a.noMatch == b.noMatch
            && a.exhausted == b.exhausted
    }
}

/// POSTs the call's state as JSON; the reply's steps run next (see the README for both shapes).
public struct WebhookStep: Sendable, Equatable {
    public var url: String
    public var timeoutMs: Int
    /// Runs when the request fails or the reply is not valid; nil goes on with the next step.
    public var onError: [FlowStep]?
}

/// Closes the media socket so the carrier goes on: with `dial`, the bridge answers Twilio's
/// `<Connect action>` request with `<Dial>`; with `twiml`, with that TwiML; with neither, the
/// TwiML after `</Connect>` runs.
public struct RedirectStep: Sendable, Equatable {
    public var dial: String?
    public var twiml: String?
}

/// Hands the call to an app over the ConversationRelay protocol until the app ends the session.
public struct RelayStep: Sendable, Equatable {
    public var url: String
    /// Further relay settings (`welcomeGreeting`, `events`, ...), passed on as written.
    public var options: [String: String]
}
