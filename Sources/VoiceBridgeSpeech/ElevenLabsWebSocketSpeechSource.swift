import Logging
import NIOCore
import Synchronization

/// A speech source that can be shut: one that holds a connection for a call, closed when the
/// call ends.
public protocol ClosableSpeechSource: SpeechSource {
    /// Connects ahead of the first turn, where there is something to connect. Optional.
    func prepare()
    /// Ends every turn still speaking and lets go of the connection. Idempotent.
    func close()
}

extension ClosableSpeechSource {
    public func prepare() {}
}

/// ElevenLabs' multi-context WebSocket as a `SpeechSource` ("elevenlabs-ws").
///
/// One source is one socket: make one per call (they share one `ElevenLabsWebSocketClient`), and
/// `close()` it when the call ends. Each turn is one context on it (see
/// `ElevenLabsWebSocketSession` for the context, keep-alive and reconnect rules). Streamed text
/// goes through a `TextChunker`; a whole text (`speak`) goes in one message with the flush.
///
/// The μ-law bytes reach the call exactly as the service sent them, with the alignment that came
/// with each chunk (chunk-relative, as the service counts). The socket's voice and model are fixed
/// when it opens, so a turn's `voice`, `model` and `language` options are not used here.
public final class ElevenLabsWebSocketSpeechSource: ClosableSpeechSource {
    public let name = "elevenlabs-ws"
    public let client: ElevenLabsWebSocketClient
    private let session: NIOLoopBoundBox<ElevenLabsWebSocketSession>
    private let loop: any EventLoop
    private let nextKey = Atomic<Int>(1)
    /// How this source's chunks reached the call: directly on the socket's loop, or by a hop.
    public let deliveries = SpeechDeliveryCounters()

    /// - Parameters:
    ///   - eventLoop: where the socket lives: the call's own loop, so that each chunk reaches the
    ///     call in the event-loop turn it arrived in. nil: the client's next loop.
    ///   - onMetrics: called on the socket's event loop once per turn, when it ends.
    public init(
        client: ElevenLabsWebSocketClient,
        eventLoop: (any EventLoop)? = nil,
        logger: Logger = Logger(label: "voicebridge.speech.elevenlabs-ws"),
        onMetrics: (@Sendable (ElevenLabsTurnMetrics) -> Void)? = nil
    ) {
        self.client = client
        let loop = eventLoop ?? client.nextEventLoop()
        self.loop = loop
        session = .makeBoxSendingValue(
            ElevenLabsWebSocketSession(client: client, loop: loop, logger: logger, onMetrics: onMetrics),
            eventLoop: loop
        )
    }

    /// Opens the socket now rather than at the first turn (a call's first words then don't wait
    /// for the handshake).
    public func prepare() {
        let session = session
        loop.execute { session.value.prepare() }
    }

    public func startTurn(_ options: TurnOptions) -> any SpeechTurn {
        makeTurn(options.id)
    }

    public func voiceName(for options: TurnOptions) -> String { client.configuration.voiceID }

    public func speak(_ text: String, options: TurnOptions) -> any SpeechTurn {
        let turn = makeTurn(options.id)
        let session = session
        let key = turn.key
        loop.execute { session.value.speak(key: key, text: text) }
        return turn
    }

    public func close() {
        let session = session
        loop.execute { session.value.close() }
    }

    /// A source nobody holds can't be closed later: its socket (kept alive by keep-alives) goes now.
    deinit {
        let session = session
        loop.execute { session.value.close() }
    }

    private func makeTurn(_ id: String) -> ElevenLabsWebSocketTurn {
        let key = nextKey.add(1, ordering: .relaxed).oldValue
        let turn = ElevenLabsWebSocketTurn(id: id, key: key, session: session, loop: loop, counters: deliveries)
        let session = session
        let (queue, sent) = (turn.queue, turn.sent)
        loop.execute { session.value.startTurn(key: key, id: id, queue: queue, sent: sent) }
        return turn
    }
}

/// One turn: every call hops to the socket's loop, in order.
final class ElevenLabsWebSocketTurn: SpeechTurn {
    let id: String
    let key: Int
    let queue: SpeechChunkQueue
    let sent = SpeechCharacterCount()
    var charactersSent: Int { sent.value }
    private let session: NIOLoopBoundBox<ElevenLabsWebSocketSession>
    private let loop: any EventLoop

    init(id: String, key: Int, session: NIOLoopBoundBox<ElevenLabsWebSocketSession>, loop: any EventLoop, counters: SpeechDeliveryCounters) {
        self.queue = SpeechChunkQueue(counters: counters)
        self.id = id
        self.key = key
        self.session = session
        self.loop = loop
    }

    var chunks: AsyncThrowingStream<SpeechChunk, any Error> {
        AsyncThrowingStream { [self] in
            try await withTaskCancellationHandler {
                try await queue.next()
            } onCancel: {
                cancel()  // A consumer that stops listening is a barge-in too.
            }
        }
    }

    /// Chunks reach `receiver` on `loop`: one hop each from the producing thread, none when the
    /// producer runs on `loop` itself (the ElevenLabs socket on the call's loop).
    func deliver(on loop: any EventLoop, to receiver: @escaping (SpeechDelivery) -> Void) {
        queue.deliver(on: loop, to: receiver)
    }

    func send(text: String) {
        let (session, key) = (session, key)
        loop.execute { session.value.send(key: key, text: text) }
    }

    func finish() {
        let (session, key) = (session, key)
        loop.execute { session.value.finish(key: key) }
    }

    func cancel() {
        queue.cancel()  // Nothing reaches the consumer from now on, whatever is in flight.
        let (session, key) = (session, key)
        loop.execute { session.value.cancel(key: key) }
    }
}
