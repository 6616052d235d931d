import NIOCore
import VoiceBridgeCalls
import VoiceBridgeFlows

/// One entry of a call's recent history on the console.
struct ConsoleCallEvent: Sendable, Equatable {
    enum Kind: String, Sendable {
        /// A prompt's last mark came back: heard whole.
        case played
        /// A prompt was cut off; `detail` is what the caller heard of it.
        case cleared
        case digit
        /// The barge-in policy's verdict; `subject` is accepted or rejected, `detail` the reason.
        case bargeIn = "barge-in"
        case failed
    }

    var kind: Kind
    /// Since the media socket opened.
    var atMs: Int
    /// The prompt, the key, or the verdict.
    var subject: String
    var detail: String
}

/// A call's recent history for the console (its last marks, keys, barge-in verdicts and the
/// heard text of cut prompts) and what the console says about it that the call does not know
/// (its flow's name, its speech source).
///
/// Fed from the call's own event paths: flow events through `ConsoleFlow`, verdicts through the
/// call's metrics observer. It is kept whether or not a page is open, because these events come
/// a few times a minute (never per frame) and a page opened after a barge-in should still show
/// it; the ring keeps it bounded however long the call runs. Confined to the call's loop, where
/// the console also reads it.
final class CallConsoleLog {
    static let capacity = 12

    private let eventLoop: any EventLoop
    private let openedAt: NIODeadline
    private var ring: [ConsoleCallEvent] = []
    /// The slot the next event overwrites once the ring is full.
    private var next = 0
    /// The ring oldest first, remade when an event comes (rarely), not when the console reads
    /// it (twice a second).
    private(set) var events: [ConsoleCallEvent] = []
    /// Bumped by every event, so a reader copies the ring only when it changed.
    private(set) var version: UInt64 = 0
    var flowName = ""
    var speechSource = ""
    /// From and To of the webhook, read once: the console reads every call twice a second.
    var from = ""
    var to = ""
    /// The declarative flow behind the call, for the step it stands at; other flows have none.
    var declarativeFlow: DeclarativeFlow?
    /// The prompt that started last (`say@12#3`): the step, for flows that cannot say.
    private(set) var lastPrompt = ""

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        self.openedAt = eventLoop.now
        ring.reserveCapacity(Self.capacity)
    }

    var step: String {
        if let declarativeFlow { return declarativeFlow.currentStep }
        return lastPrompt
    }

    func note(_ event: FlowEvent) {
        switch event {
        case let .promptStarted(id):
            lastPrompt = id
        case let .promptFinished(id):
            append(.played, id, "")
        case let .promptInterrupted(id, heard):
            append(.cleared, id, heard.text)
        case let .promptFailed(id, reason):
            append(.failed, id, reason)
        case let .digit(d, interrupted):
            append(.digit, String(d), interrupted ? "interrupted" : "")
        default:
            break
        }
    }

    func noteBargeIn(accepted: Bool, reason: String) {
        append(.bargeIn, accepted ? "accepted" : "rejected", accepted ? "" : reason)
    }

    private func append(_ kind: ConsoleCallEvent.Kind, _ subject: String, _ detail: String) {
        let atMs = Int((eventLoop.now - openedAt).nanoseconds / 1_000_000)
        let event = ConsoleCallEvent(kind: kind, atMs: atMs, subject: subject, detail: detail)
        if ring.count < Self.capacity {
            ring.append(event)
        } else {
            ring[next] = event
            next = (next + 1) % Self.capacity
        }
        version &+= 1
        events = ring.count < Self.capacity ? ring : Array(ring[next...] + ring[..<next])
    }
}

/// Passes every flow event on, noting the ones the console shows in the call's log first.
final class ConsoleFlow: CallFlow {
    let base: any CallFlow
    let log: CallConsoleLog

    init(_ base: any CallFlow, log: CallConsoleLog) {
        self.base = base
        self.log = log
        log.declarativeFlow = base as? DeclarativeFlow
    }

    func start(_ call: any CallControl) { base.start(call) }

    func handle(_ event: FlowEvent, _ call: any CallControl) {
        log.note(event)
        base.handle(event, call)
    }
}
