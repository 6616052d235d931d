/// The flow a fresh `voicebridge serve` runs: greet, offer a DTMF menu, react to keys and to
/// barge-in, say goodbye and hang up once the goodbye has been heard.
/// Declarative flows from config/ replace it when configured.
public final class DemoMenuFlow: CallFlow {
    public struct Script: Sendable, Equatable {
        public var greeting = "Welcome to VoiceBridge. Press 1 to hear how this bridge works. Press 2 to hear a test tone. Press 9 to end the call."
        public var menu = "Press 1 to hear how this bridge works, 2 for a test tone, or 9 to end the call."
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
