import Logging
import NIOCore
import NIOEmbedded
import VoiceBridgeRelay

/// A relay session in a recording: the app's messages are inputs (`relay: app`, `relay: closed`),
/// what the bridge sent the app is expected output (`out: relay`), compared as its own stream.
///
/// `{"t":…,"relay":"connect"}`, `{"t":…,"relay":"refused","error":…}`,
/// `{"t":…,"relay":"app","text":"{\"type\":\"text\",…}"}`, `{"t":…,"relay":"closed","code":1000,"reason":…}`,
/// `{"t":…,"out":"relay","text":"{\"type\":\"setup\",…}"}`.
extension RelayFlow {
    /// The session's settings and id, for the recording's header.
    var recordedAttributes: [String: String] {
        var attributes = configuration.attributes
        attributes["sessionId"] = sessionId
        return attributes
    }
}

public struct RecordingRelayConnector: RelayConnector {
    let base: any RelayConnector
    let recorder: CallRecorder

    public init(_ base: any RelayConnector, recorder: CallRecorder) {
        self.base = base
        self.recorder = recorder
    }

    public func connect(_ configuration: RelayConfiguration, on eventLoop: any EventLoop, logger: Logger) -> EventLoopFuture<any RelayTransport> {
        recorder.speech { $0.string("relay", "connect") }
        let recorder = recorder
        return base.connect(configuration, on: eventLoop, logger: logger).map { transport -> any RelayTransport in
            RecordingRelayTransport(transport, recorder: recorder)
        }.flatMapErrorThrowing { error in
            recorder.speech { line in
                line.string("relay", "refused")
                line.string("error", recorder.redact("\(error)"))
            }
            throw error
        }
    }
}

final class RecordingRelayTransport: RelayTransport {
    private let base: any RelayTransport
    private let recorder: CallRecorder

    init(_ base: any RelayTransport, recorder: CallRecorder) {
        self.base = base
        self.recorder = recorder
    }

    func start(onEvent: @escaping (RelayTransportEvent) -> Void) {
        let recorder = recorder
        base.start { event in
            recorder.speech { line in
                switch event {
                case let .text(text):
                    line.string("relay", "app")
                    line.string("text", recorder.redactRelayMessage(text))
                case .binary:
                    // The protocol has no binary frames; the flow refuses one whatever it held.
                    line.string("relay", "app")
                    line.string("text", "<binary>")
                case let .closed(code, reason):
                    line.string("relay", "closed")
                    line.int("code", code)
                    line.string("reason", recorder.redact(reason))
                }
            }
            onEvent(event)
        }
    }

    func send(_ text: String) {
        recorder.speech { line in
            line.string("out", "relay")
            line.string("text", recorder.redactRelayMessage(text))
        }
        base.send(text)
    }

    func close(code: Int, reason: String) { base.close(code: code, reason: reason) }
}

/// The relay app in a replay: it connects at once (or fails, as recorded), takes what the flow
/// sends as the replay's output, and delivers the recorded app messages when the replay's clock
/// reaches them.
final class ReplayRelayLink: RelayConnector, @unchecked Sendable {
    private let refusal: String?
    private let sent: (String) -> Void
    private var transport: ReplayRelayTransport?

    init(refusal: String?, sent: @escaping (String) -> Void) {
        self.refusal = refusal
        self.sent = sent
    }

    func connect(_ configuration: RelayConfiguration, on eventLoop: any EventLoop, logger: Logger) -> EventLoopFuture<any RelayTransport> {
        if let refusal { return eventLoop.makeFailedFuture(RelayConnectError.connectFailed(refusal)) }
        let transport = ReplayRelayTransport(sent: sent)
        self.transport = transport
        return eventLoop.makeSucceededFuture(transport)
    }

    /// An app message or close, at its recorded time. Before the session connected it is held
    /// by the transport, as the real socket holds what arrives with the upgrade.
    func deliver(_ event: RelayTransportEvent) {
        transport?.receive(event)
    }
}

final class ReplayRelayTransport: RelayTransport, @unchecked Sendable {
    private let sent: (String) -> Void
    private var onEvent: ((RelayTransportEvent) -> Void)?
    private var held: [RelayTransportEvent] = []
    private var closed = false

    init(sent: @escaping (String) -> Void) {
        self.sent = sent
    }

    func start(onEvent: @escaping (RelayTransportEvent) -> Void) {
        self.onEvent = onEvent
        let early = held
        held = []
        for event in early { onEvent(event) }
    }

    func receive(_ event: RelayTransportEvent) {
        guard !closed else { return }
        if case .closed = event { closed = true }
        if let onEvent { onEvent(event) } else { held.append(event) }
    }

    func send(_ text: String) {
        guard !closed else { return }
        sent(text)
    }

    func close(code: Int, reason: String) { closed = true }
}
