import NIOCore
import Synchronization

/// What one client did: the request line, headers and every message, with credentials redacted.
public struct ElevenLabsEmulatorRequestRecord: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case webSocket
        case http
    }

    /// Order of arrival, from 1.
    public var id: Int
    public var kind: Kind
    public var method: String
    /// The request target as sent, with credential query values replaced by `<redacted>`.
    public var uri: String
    public var path: String
    /// Query parameters (credential values redacted). A repeated name keeps its last value.
    public var query: [String: String]
    /// Headers with lower-cased names, credentials redacted. Repeated names are joined with ", ".
    public var headers: [String: String]
    /// WebSocket text messages from the client, in order, credentials redacted.
    public var messages: [String]
    /// The HTTP request body, credentials redacted.
    public var body: String?
    /// The HTTP status the emulator answered with.
    public var status: Int?
    /// The close code and reason (full text, before the wire cut) the emulator sent, if it closed
    /// the socket; or 1006 when it dropped the connection on purpose.
    public var closeCode: Int?
    public var closeReason: String?
    /// Audio messages (WebSocket) or chunks (HTTP) sent.
    public var audioMessagesSent: Int
}

/// Totals over the emulator's life.
public struct ElevenLabsEmulatorCounters: Sendable, Equatable {
    public var webSocketConnections = 0
    public var httpRequests = 0
    public var messagesReceived = 0
    public var audioMessagesSent = 0
    /// Audio bytes sent, in the output format, before base64.
    public var audioBytesSent = 0
    public var finalMessagesSent = 0
    public var generations = 0
    public var injectedDisconnects = 0
    public var injectedTooManyConcurrent = 0
    public var injectedSystemBusy = 0
    public var injectedServerErrors = 0
    /// The most HTTP text-to-speech requests ever streaming at once (admitted, not refused).
    public var peakConcurrentHTTP = 0
    public var singleUseTokensIssued = 0
    /// WebSocket closes the emulator initiated, by code.
    public var closesByCode: [Int: Int] = [:]
    /// Realtime speech-to-text sockets that got `session_started`.
    public var transcriptionSessions = 0
    /// Audio received on them, in seconds.
    public var transcriptionAudioSeconds: Double = 0
    public var partialTranscriptsSent = 0
    /// `committed_transcript` messages (the timestamped twins not counted).
    public var committedTranscriptsSent = 0
    /// Speech-to-text error messages sent, by `message_type`.
    public var transcriptionErrorsSent: [String: Int] = [:]

    public init() {}
}

/// The emulator's shared, thread-safe state: the request log, counters, counted faults, the
/// concurrency gauge and single-use tokens. Every event loop reports here.
final class ElevenLabsEmulatorRecorder: Sendable {
    private struct State {
        var records: [ElevenLabsEmulatorRequestRecord] = []
        var counters = ElevenLabsEmulatorCounters()
        var http429Left: Int
        var systemBusyLeft: Int
        var serverErrorsLeft: Int
        var webSocketErrorsLeft: Int
        var disconnectUsed = false
        var inFlightHTTP = 0
        var tokens: [String: NIODeadline] = [:]
        var transcriptions: [ElevenLabsEmulatorTranscriptionRecord] = []
        /// Request id → index in `transcriptions`.
        var transcriptionIndex: [Int: Int] = [:]
        var rateLimitedLeft: Int
        var transcriptionDisconnectUsed = false
    }

    private let state: Mutex<State>
    let faults: ElevenLabsEmulatorConfiguration.Faults

    init(faults: ElevenLabsEmulatorConfiguration.Faults, speechToTextFaults: ElevenLabsEmulatorConfiguration.SpeechToText.Faults = .init()) {
        self.faults = faults
        state = Mutex(State(
            http429Left: faults.http429Count,
            systemBusyLeft: faults.systemBusyCount,
            serverErrorsLeft: faults.http500Count,
            webSocketErrorsLeft: faults.webSocketServerErrorCount,
            rateLimitedLeft: speechToTextFaults.rateLimitedCount
        ))
    }

    // MARK: - Records

    /// Starts a record and returns its id.
    func begin(kind: ElevenLabsEmulatorRequestRecord.Kind, method: String, uri: String, path: String, query: [String: String], headers: [(String, String)]) -> Int {
        var redactedQuery: [String: String] = [:]
        for (name, value) in query {
            redactedQuery[name] = ElevenLabsEmulatorRedaction.secretFields.contains(name.lowercased()) ? ElevenLabsEmulatorRedaction.placeholder : value
        }
        var redactedHeaders: [String: String] = [:]
        for (name, value) in headers {
            let lower = name.lowercased()
            let shown = ElevenLabsEmulatorRedaction.secretHeaders.contains(lower) ? ElevenLabsEmulatorRedaction.placeholder : value
            if let existing = redactedHeaders[lower] {
                redactedHeaders[lower] = existing + ", " + shown
            } else {
                redactedHeaders[lower] = shown
            }
        }
        return state.withLock { state in
            let id = state.records.count + 1
            state.records.append(ElevenLabsEmulatorRequestRecord(
                id: id, kind: kind, method: method, uri: ElevenLabsEmulatorRedaction.redactURI(uri), path: path,
                query: redactedQuery, headers: redactedHeaders, messages: [], body: nil, status: nil,
                closeCode: nil, closeReason: nil, audioMessagesSent: 0
            ))
            switch kind {
            case .webSocket: state.counters.webSocketConnections += 1
            case .http: state.counters.httpRequests += 1
            }
            return id
        }
    }

    func message(_ id: Int, _ text: String) {
        let redacted = ElevenLabsEmulatorRedaction.redactJSON(text)
        state.withLock { state in
            state.records[id - 1].messages.append(redacted)
            state.counters.messagesReceived += 1
        }
    }

    func body(_ id: Int, _ text: String) {
        let redacted = ElevenLabsEmulatorRedaction.redactJSON(text)
        state.withLock { $0.records[id - 1].body = redacted }
    }

    func status(_ id: Int, _ status: Int) {
        state.withLock { $0.records[id - 1].status = status }
    }

    func closed(_ id: Int, code: Int, reason: String) {
        state.withLock { state in
            guard state.records[id - 1].closeCode == nil else { return }
            state.records[id - 1].closeCode = code
            state.records[id - 1].closeReason = reason
            state.counters.closesByCode[code, default: 0] += 1
        }
    }

    func audioSent(_ id: Int, bytes: Int) {
        state.withLock { state in
            state.records[id - 1].audioMessagesSent += 1
            state.counters.audioMessagesSent += 1
            state.counters.audioBytesSent += bytes
        }
    }

    func finalSent() {
        state.withLock { $0.counters.finalMessagesSent += 1 }
    }

    func generationStarted() {
        state.withLock { $0.counters.generations += 1 }
    }

    var records: [ElevenLabsEmulatorRequestRecord] { state.withLock { $0.records } }
    var counters: ElevenLabsEmulatorCounters { state.withLock { $0.counters } }

    // MARK: - Counted faults

    enum HTTPRefusal {
        case tooManyConcurrent
        case systemBusy
        case serverError
    }

    /// Whether this HTTP request is one of the first N to be refused, or has a text that always is.
    func takeHTTPRefusal(text: String?) -> HTTPRefusal? {
        state.withLock { state in
            if let poison = faults.failTextContaining, !poison.isEmpty, let text, text.contains(poison) {
                state.counters.injectedServerErrors += 1
                return .serverError
            }
            if state.http429Left > 0 {
                state.http429Left -= 1
                state.counters.injectedTooManyConcurrent += 1
                return .tooManyConcurrent
            }
            if state.systemBusyLeft > 0 {
                state.systemBusyLeft -= 1
                state.counters.injectedSystemBusy += 1
                return .systemBusy
            }
            if state.serverErrorsLeft > 0 {
                state.serverErrorsLeft -= 1
                state.counters.injectedServerErrors += 1
                return .serverError
            }
            return nil
        }
    }

    func takeWebSocketServerError() -> Bool {
        state.withLock { state in
            guard state.webSocketErrorsLeft > 0 else { return false }
            state.webSocketErrorsLeft -= 1
            return true
        }
    }

    /// Whether this connection, which just sent its first audio, should be dropped later.
    func takeDisconnect() -> Bool {
        guard faults.disconnectAfterMs != nil else { return false }
        return state.withLock { state in
            if state.disconnectUsed, !faults.disconnectEveryTime { return false }
            state.disconnectUsed = true
            return true
        }
    }

    func disconnected(_ id: Int) {
        state.withLock { state in
            state.counters.injectedDisconnects += 1
            if state.records[id - 1].closeCode == nil {
                state.records[id - 1].closeCode = 1006
                state.records[id - 1].closeReason = "dropped by fault injection"
            }
        }
    }

    // MARK: - Concurrency

    /// Admits an HTTP request if fewer than `limit` are in flight; returns the count including it.
    func admitHTTP(limit: Int) -> Int? {
        state.withLock { state in
            guard state.inFlightHTTP < limit else { return nil }
            state.inFlightHTTP += 1
            state.counters.peakConcurrentHTTP = max(state.counters.peakConcurrentHTTP, state.inFlightHTTP)
            return state.inFlightHTTP
        }
    }

    func releaseHTTP() {
        state.withLock { $0.inFlightHTTP -= 1 }
    }

    // MARK: - Single-use tokens

    /// A fresh token, valid for 15 minutes and for one use.
    func issueToken(now: NIODeadline = .now()) -> String {
        var generator = SystemRandomNumberGenerator()
        let hex = (0..<32).map { _ in String(UInt8.random(in: 0...15, using: &generator), radix: 16) }.joined()
        let token = "sutkn_" + hex
        state.withLock { state in
            state.tokens[token] = now + .minutes(15)
            state.counters.singleUseTokensIssued += 1
        }
        return token
    }

    /// Consumes a token: true once, within its lifetime.
    func redeemToken(_ token: String, now: NIODeadline = .now()) -> Bool {
        state.withLock { state in
            guard let expiry = state.tokens.removeValue(forKey: token) else { return false }
            return now < expiry
        }
    }
}

// MARK: - Speech-to-text sessions

extension ElevenLabsEmulatorRecorder {
    /// Starts the transcription record of WebSocket `id`; says whether this session is one of the
    /// first N turned away with `rate_limited`.
    func beginTranscription(_ id: Int) -> Bool {
        state.withLock { state in
            state.transcriptionIndex[id] = state.transcriptions.count
            state.transcriptions.append(ElevenLabsEmulatorTranscriptionRecord(requestID: id))
            guard state.rateLimitedLeft > 0 else { return false }
            state.rateLimitedLeft -= 1
            return true
        }
    }

    private func updateTranscription(_ id: Int, _ body: (inout ElevenLabsEmulatorTranscriptionRecord, inout ElevenLabsEmulatorCounters) -> Void) {
        state.withLock { state in
            guard let index = state.transcriptionIndex[id] else { return }
            body(&state.transcriptions[index], &state.counters)
        }
    }

    func transcriptionStarted(_ id: Int, sessionID: String, audioFormat: String) {
        updateTranscription(id) { record, counters in
            record.sessionID = sessionID
            record.audioFormat = audioFormat
            counters.transcriptionSessions += 1
        }
    }

    func transcriptionChunk(_ id: Int, _ chunk: ElevenLabsEmulatorTranscriptionRecord.Chunk, audio: [UInt8]?, seconds: Double) {
        updateTranscription(id) { record, counters in
            record.chunks.append(chunk)
            if let audio { record.audio += audio }
            record.audioSeconds += seconds
            counters.transcriptionAudioSeconds += seconds
            counters.messagesReceived += 1
        }
    }

    func transcriptionCommit(_ id: Int, _ commit: ElevenLabsEmulatorTranscriptionRecord.Commit) {
        updateTranscription(id) { record, _ in record.commits.append(commit) }
    }

    func transcriptionThrottled(_ id: Int) {
        updateTranscription(id) { record, _ in record.throttledCommits += 1 }
    }

    /// A message went out; counted by its type (read from the start of the text, which the
    /// emulator writes with `message_type` first).
    func transcriptionSent(_ id: Int, _ text: String) {
        let now = NIODeadline.now().uptimeNanoseconds
        updateTranscription(id) { record, counters in
            record.sent.append(text)
            record.sentAtNanos.append(now)
            let prefix = "{\"message_type\":\""
            guard text.hasPrefix(prefix) else { return }
            let type = text.dropFirst(prefix.count).prefix { $0 != "\"" }
            switch type {
            case "partial_transcript": counters.partialTranscriptsSent += 1
            case "committed_transcript": counters.committedTranscriptsSent += 1
            case "session_started", "committed_transcript_with_timestamps": break
            default: counters.transcriptionErrorsSent[String(type), default: 0] += 1
            }
        }
    }

    /// Whether this session, which reached a disconnect fault's point, should be dropped.
    func takeTranscriptionDisconnect(everyTime: Bool) -> Bool {
        state.withLock { state in
            if state.transcriptionDisconnectUsed, !everyTime { return false }
            state.transcriptionDisconnectUsed = true
            return true
        }
    }

    var transcriptions: [ElevenLabsEmulatorTranscriptionRecord] { state.withLock { $0.transcriptions } }
}
