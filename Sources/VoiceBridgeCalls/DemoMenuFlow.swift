/// The flow a fresh `voicebridge serve` runs: greet, offer a DTMF menu, react to keys and to
/// barge-in, say goodbye and hang up once the goodbye has been heard.
/// Declarative flows from config/ replace it when configured.
public final class DemoMenuFlow: CallFlow {
    public struct Script: Sendable, Equatable {
        public var greeting = "Welcome to VoiceBridge. Press 1 to hear how this bridge works. Press 2 to hear a test tone. Press 3 for a long answer, streamed word by word. Press 9 to end the call."
        public var menu = "Press 1 to hear how this bridge works, 2 for a test tone, 3 for a streamed answer, or 9 to end the call."
        /// Sent one word at a time, like a language model's reply, while the first words already play.
        public var streamed = "Here is a long answer that arrives one word at a time, the way a language model writes it. The bridge hands the words to the voice as they come, so you hear the first sentence while the rest is still being written. Press any key to interrupt me."
        /// The pace of the streamed answer: one word every this many milliseconds.
        public var streamedTokenMs = 30
        public var about = "VoiceBridge cuts speech into twenty millisecond frames and paces them on a drift free clock. When you press a key or speak, it stops talking at once."
        public var tone = "Here is a test tone."
        public var invalid = "Sorry, that is not an option."
        public var spoken = "I heard you, but I only understand your keypad."
        public var noInput = "I did not hear a key press."
        public var goodbye = "Thank you for calling VoiceBridge. Goodbye."
        public var noInputTimeoutMs = 8_000
        public var maxNoInput = 2
        public init() {}
    }

    public let script: Script
    private var noInputCount = 0
    private var awaitingKey = false
    private var saidGoodbye = false
    /// Tone audio for digit 2 (μ-law); supplied by whoever builds the flow, so this type stays pure.
    private let toneAudio: [UInt8]
    private var stream: (prompt: any StreamedPrompt, words: ArraySlice<Substring>)?

    public init(script: Script = .init(), toneAudio: [UInt8] = []) {
        self.script = script
        self.toneAudio = toneAudio
    }

    public func start(_ call: any CallControl) {
        call.play(.text(script.greeting), id: "greeting", interruptible: .any)
    }

    public func handle(_ event: FlowEvent, _ call: any CallControl) {
        guard !saidGoodbye else { return }
        switch event {
        case let .digit(d, _):
            call.cancelTimer("noinput")
            if stream != nil {
                stream = nil
                call.cancelTimer("stream")
            }
            awaitingKey = false
            noInputCount = 0
            switch d {
            case "1":
                call.play(.text(script.about), id: "about", interruptible: .any)
                offerMenu(call)
            case "2":
                call.play(.text(script.tone), id: "tone-intro", interruptible: .any)
                if !toneAudio.isEmpty { call.play(.audio(toneAudio, text: ""), id: "tone", interruptible: .any) }
                offerMenu(call)
            case "3":
                startStreamedAnswer(call)
            case "9", "#":
                goodbye(call)
            default:
                call.play(.text(script.invalid), id: "invalid", interruptible: .any)
                offerMenu(call)
            }
        case .callerSpeechStarted(interrupted: true):
            call.cancelTimer("noinput")
            call.play(.text(script.spoken), id: "spoken", interruptible: .dtmf)
            offerMenu(call)
        case let .promptFinished(id) where id == "menu" || id == "greeting":
            awaitingKey = true
            call.setTimer("noinput", afterMs: script.noInputTimeoutMs)
        case .timer("stream"):
            sendNextWord(call)
        case let .promptInterrupted(id, _) where id == "streamed":
            stream = nil
            call.cancelTimer("stream")
        case .timer("noinput"):
            guard awaitingKey else { return }
            noInputCount += 1
            if noInputCount > script.maxNoInput {
                goodbye(call)
            } else {
                call.play(.text(script.noInput), id: "noinput", interruptible: .any)
                offerMenu(call)
            }
        case let .promptFailed(id, _) where id == "goodbye":
            call.hangUp()
        default:
            break
        }
    }

    /// A reply whose text is still being written: one word per timer tick into a streamed prompt.
    private func startStreamedAnswer(_ call: any CallControl) {
        let prompt = call.startStreamedPrompt(id: "streamed", interruptible: .any)
        stream = (prompt, ArraySlice(script.streamed.split(separator: " ")))
        sendNextWord(call)
    }

    private func sendNextWord(_ call: any CallControl) {
        guard var (prompt, words) = stream else { return }
        guard let word = words.popFirst() else {
            prompt.finish()
            stream = nil
            return offerMenu(call)
        }
        prompt.send(text: (words.count == script.streamed.split(separator: " ").count - 1 ? "" : " ") + word)
        stream = (prompt, words)
        call.setTimer("stream", afterMs: script.streamedTokenMs)
    }

    private func offerMenu(_ call: any CallControl) {
        call.play(.text(script.menu), id: "menu", interruptible: .any)
    }

    private func goodbye(_ call: any CallControl) {
        saidGoodbye = true
        call.cancelTimer("noinput")
        call.play(.text(script.goodbye), id: "goodbye", interruptible: .none)
        call.hangUp()
    }
}
