import NIOCore

/// One call's realtime speech-to-text session (elevenlabs-stt.md §5.1), on the call's event loop:
/// caller audio goes in frame by frame, transcripts come out as events on the same loop, with no
/// task, queue or lock in between.
///
/// - Frames are coalesced into chunks (`chunkMilliseconds`, 100 by default: §3.2's quickest first
///   partial at a tenth of the per-message overhead of 20 ms chunks) and passed through in the
///   session's format, μ-law untouched.
/// - Every byte since the last commit the service acknowledged is kept (up to `maxReplayMs`), so a
///   socket that drops is replaced (backoff 0.2, 0.5, 1, 2 s) and the open segment is sent again
///   whole, with the tail of the committed text as `previous_text`: committed text is never lost
///   (its audio is resent until a commit covers it) and never duplicated (audio a commit covered
///   is never resent).
/// - Only while started: a call with nobody listening opens no socket and costs nothing.
public final class RealtimeTranscriber {
    public enum Event: Sendable, Equatable {
        /// A socket is open and the service has started its session.
        case started(sessionID: String)
        /// The open segment's current hypothesis (repeats and keep-alive blanks are dropped).
        case partial(String)
        case committed(ScribeCommit)
        /// A commit the service ignored or that had under 0.3 s of audio: no text will come for
        /// it; the turn keeps what it has.
        case commitIgnored
        /// Something went wrong and the transcriber is recovering (a new socket, after backoff).
        case trouble(ScribeError)
        /// Streaming stopped for good: the key, the account or the settings are wrong, or the
        /// service stayed unreachable. Nothing more comes.
        case failed(ScribeError)
    }

    public struct Tuning: Sendable, Equatable {
        public var chunkMilliseconds = 100
        /// The service refuses chunks over about a second (`chunk_size_exceeded`).
        public var maxChunkMilliseconds = 1_000
        /// A manual commit needs this much uncommitted audio, or the service throttles it (§3.1).
        public var minCommitMilliseconds = 300
        /// Audio kept for resending after a drop: the open segment, at most this long.
        public var maxReplayMilliseconds = 10_000
        /// After a commit the bridge didn't ask for (VAD, or the service's automatic commit), how
        /// much of the latest audio is kept in case it starts the next segment.
        public var keepAfterUnaskedCommitMilliseconds = 1_000
        /// While the caller is quiet, how much of the latest audio is kept for a reconnect: a
        /// word too short for the speech detector may still be in it.
        public var keepWhileQuietMilliseconds = 2_000
        public var backoff: [TimeAmount] = [.milliseconds(200), .milliseconds(500), .seconds(1), .seconds(2)]
        /// Consecutive failed sockets (no session started) before giving up on the call.
        public var maxAttempts = 6

        public init() {}
    }

    private enum State {
        case idle
        case connecting
        case open(ElevenLabsWebSocketConnection)
        case waiting
        case stopped
        case failed
    }

    public let settings: ScribeSettings
    public let eventLoop: any EventLoop
    private let client: ElevenLabsWebSocketClient
    private let tuning: Tuning
    private let onEvent: (Event) -> Void

    private var state = State.idle
    private var generation = 0
    private var attempts = 0
    /// Every byte since the last acknowledged commit (capped); `readerIndex` is its start.
    private var audio: ByteBuffer
    /// How much of `audio` the current socket has been sent.
    private var sent = 0
    /// The end of the audio an asked-for commit covers, and whether this socket has sent it.
    private var commitMark: Int?
    private var commitSent = false
    /// The first chunk on each socket carries this (the committed text's tail).
    private var previousText = ""
    private var firstChunkOnSocket = true
    private var lastPartial = ""
    private var chunk: ByteBuffer

    private var bytesPerMs: Int { settings.audioFormat.bytesPerSecond / 1000 }

    public init(
        client: ElevenLabsWebSocketClient, settings: ScribeSettings, eventLoop: any EventLoop, tuning: Tuning = Tuning(),
        onEvent: @escaping (Event) -> Void
    ) {
        self.client = client
        self.settings = settings
        self.eventLoop = eventLoop
        self.tuning = tuning
        self.onEvent = onEvent
        let bytesPerMs = settings.audioFormat.bytesPerSecond / 1000
        audio = ByteBufferAllocator().buffer(capacity: bytesPerMs * tuning.maxReplayMilliseconds / 4)
        chunk = ByteBufferAllocator().buffer(capacity: ScribeAudioChunk.capacity(audioBytes: bytesPerMs * tuning.maxChunkMilliseconds))
    }

    public var isStarted: Bool {
        switch state {
        case .idle, .stopped, .failed: false
        default: true
        }
    }

    /// Opens the socket (once); audio appended before it opens is sent when it does.
    public func start() {
        eventLoop.assertInEventLoop()
        guard case .idle = state else { return }
        connect()
    }

    /// Caller audio in the session's format, any length (normally one 20 ms frame).
    public func append(_ bytes: UnsafeRawBufferPointer) {
        guard isStarted else { return }
        audio.writeBytes(bytes)
        let cap = bytesPerMs * tuning.maxReplayMilliseconds
        if audio.readableBytes > cap { drop(audio.readableBytes - cap) }
        sendReady()
    }

    /// The caller is not speaking. Audio the service already has, but for the latest
    /// `keepWhileQuietMilliseconds`, is silence that no reconnect needs to send again: it is let
    /// go, so a call waiting in a menu holds two seconds of audio rather than ten.
    public func callerIsQuiet() {
        guard isStarted, commitMark == nil else { return }
        let excess = min(sent, audio.readableBytes - bytesPerMs * tuning.keepWhileQuietMilliseconds)
        if excess > 0 { drop(excess) }
    }

    /// Caller audio held for a reconnect (tests and the benchmark's memory figures).
    public var heldAudioBytes: Int { audio.readableBytes }

    /// Commits the open segment: the caller's turn ended (the bridge's own detector, or the
    /// flow knows). The text comes as `.committed`, or `.commitIgnored` when there is too little.
    public func commit() {
        // In VAD mode the service ends segments on its own silence threshold; a commit of ours
        // on top would cut a segment the service is still hearing.
        guard isStarted, settings.commitStrategy == .manual else { return }
        let uncommitted = audio.readableBytes - (commitMark ?? 0)
        guard uncommitted >= bytesPerMs * tuning.minCommitMilliseconds else {
            onEvent(.commitIgnored)
            return
        }
        commitMark = audio.readableBytes
        commitSent = false
        sendReady()
    }

    /// Closes the socket (1000) and forgets the audio. Nothing more is reported.
    public func stop() {
        if case .open(let connection) = state { connection.close() }
        state = .stopped
        generation += 1
        audio.clear()
        sent = 0
        commitMark = nil
    }

    // MARK: - The socket

    private func connect() {
        state = .connecting
        generation += 1
        let generation = generation
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        client.connectTranscription(settings, on: eventLoop) { event in
            bound.value.handle(event, generation: generation)
        }.hop(to: eventLoop).whenComplete { result in
            let me = bound.value
            guard me.generation == generation else {
                if case .success(let connection) = result { connection.close() }
                return
            }
            switch result {
            case .success(let connection):
                me.state = .open(connection)
                me.sent = 0
                me.commitSent = false
                me.firstChunkOnSocket = true
                me.sendReady()
            case .failure(let error):
                me.socketFailed(Self.scribeError(error))
            }
        }
    }

    private func handle(_ event: ElevenLabsSocketEvent<ScribeServerMessage>, generation: Int) {
        guard generation == self.generation else { return }
        switch event {
        case .message(let message):
            receive(message)
        case .closed(let error):
            guard case .open = state else { return }
            socketFailed(error.map(Self.scribeError) ?? ScribeError(.connection, "the service closed the session"))
        }
    }

    private func receive(_ message: ScribeServerMessage) {
        switch message {
        case .sessionStarted(let id):
            attempts = 0
            onEvent(.started(sessionID: id))
        case .partial(let text):
            guard !text.isEmpty, text != lastPartial else { return }
            lastPartial = text
            onEvent(.partial(text))
        case .stable, .ignored:
            break
        case .committed(let commit):
            // With timestamps or language detection on, the service sends each commit twice;
            // only the timestamped one is used (§2.2.5).
            if (settings.includeTimestamps || settings.includeLanguageDetection) && !commit.timestamped { return }
            acknowledgeCommit()
            lastPartial = ""
            if !commit.text.isEmpty {
                let joined = previousText.isEmpty ? commit.text : previousText + " " + commit.text
                previousText = String(joined.suffix(ScribeAudioChunk.maxPreviousTextCharacters))
            }
            onEvent(.committed(commit))
        case .error(let error):
            if error.keepsSession {
                if commitMark != nil {
                    commitMark = nil
                    onEvent(.commitIgnored)
                }
                onEvent(.trouble(error))
            } else if error.isFatal {
                fail(error)
            } else {
                if case .open(let connection) = state { connection.close() }
                socketFailed(error)
            }
        }
    }

    /// The audio a commit covered is done with: it is never sent again.
    private func acknowledgeCommit() {
        if let mark = commitMark {
            drop(mark)
            commitMark = nil
        } else {
            // A commit the bridge didn't ask for: its audio ends somewhere in what was sent.
            drop(max(0, sent - bytesPerMs * tuning.keepAfterUnaskedCommitMilliseconds))
        }
    }

    private func drop(_ count: Int) {
        let n = min(count, audio.readableBytes)
        audio.moveReaderIndex(forwardBy: n)
        sent = max(0, sent - n)
        if let mark = commitMark { commitMark = mark > n ? mark - n : nil }
        if audio.readerIndex > audio.capacity / 2 { audio.discardReadBytes() }
    }

    private func socketFailed(_ error: ScribeError) {
        guard isStarted else { return }
        if error.isFatal {
            fail(error)
            return
        }
        attempts += 1
        guard attempts < tuning.maxAttempts else {
            fail(ScribeError(error.kind, "gave up after \(attempts) attempts: \(error.message)"))
            return
        }
        onEvent(.trouble(error))
        state = .waiting
        generation += 1
        let delay = tuning.backoff[min(attempts - 1, tuning.backoff.count - 1)]
        let generation = generation
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        eventLoop.scheduleTask(in: delay) {
            let me = bound.value
            guard me.generation == generation, case .waiting = me.state else { return }
            me.connect()
        }
    }

    private func fail(_ error: ScribeError) {
        if case .open(let connection) = state { connection.close() }
        state = .failed
        generation += 1
        audio.clear()
        sent = 0
        commitMark = nil
        onEvent(.failed(error))
    }

    /// Sends what is due: the audio up to an asked-for commit (flagged), then whole chunks.
    private func sendReady() {
        guard case .open(let connection) = state else { return }
        if let mark = commitMark, !commitSent {
            send(upTo: mark, commitAtEnd: true, on: connection)
            commitSent = true
        }
        let chunkBytes = bytesPerMs * tuning.chunkMilliseconds
        if audio.readableBytes - sent >= chunkBytes {
            send(upTo: audio.readableBytes, commitAtEnd: false, on: connection)
        }
    }

    /// Sends `audio[sent..<end]` in pieces of at most a second; an empty commit is the idiom when
    /// nothing is left to send.
    private func send(upTo end: Int, commitAtEnd: Bool, on connection: ElevenLabsWebSocketConnection) {
        let maxPiece = bytesPerMs * tuning.maxChunkMilliseconds
        repeat {
            let length = min(maxPiece, max(0, end - sent))
            let last = sent + length >= end
            audio.withUnsafeReadableBytes { all in
                chunk.clear()
                ScribeAudioChunk.write(
                    audio: UnsafeRawBufferPointer(rebasing: all[sent..<(sent + length)]), commit: commitAtEnd && last,
                    sampleRate: settings.audioFormat.sampleRate, previousText: firstChunkOnSocket ? previousText : nil, into: &chunk)
            }
            connection.send(text: chunk)
            firstChunkOnSocket = false
            sent += length
        } while sent < end
    }

    static func scribeError(_ error: any Error) -> ScribeError {
        guard let error = error as? ElevenLabsWebSocketError else { return ScribeError(.connection, "\(error)") }
        switch error {
        case .handshakeRefused(let status) where status == 401 || status == 403:
            return ScribeError(.auth, "the service refused the key (HTTP \(status))")
        case .invalidConfiguration(let why):
            return ScribeError(.invalidRequest, why)
        case .invalidAPIKey(let why):
            return ScribeError(.auth, why)
        case .quotaExceeded(let why):
            return ScribeError(.quota, why)
        default:
            return ScribeError(.connection, "\(error)")
        }
    }
}
