import Foundation
import VoiceBridgeCarriers

/// What ElevenLabs' realtime speech-to-text socket sends (elevenlabs-stt.md §2.2), read with the
/// byte scanner: no JSON tree, a handful of messages a second per call.
public enum ScribeServerMessage: Sendable, Equatable {
    case sessionStarted(sessionID: String)
    /// The open segment's current hypothesis: cumulative within the segment, may be revised.
    case partial(String)
    /// `final_transcript(_with_timestamps)`: settled text of a segment not yet committed. A
    /// stable partial, never the end of a turn.
    case stable(String)
    /// The final text of one segment (`committed_transcript`, or the timestamped variant).
    case committed(ScribeCommit)
    case error(ScribeError)
    /// `committed_transcript_entities` and message types this build does not know: ignored, as
    /// the Python SDK ignores them.
    case ignored(type: String)
}

/// One committed segment.
public struct ScribeCommit: Sendable, Equatable {
    public var text: String
    public var languageCode: String?
    /// Empty unless the session asked for timestamps.
    public var words: [ScribeWord]
    /// From `committed_transcript_with_timestamps`: with timestamps or language detection on,
    /// the service sends it beside the plain message, and only this one is used (§2.2.5).
    public var timestamped: Bool

    public init(text: String, languageCode: String? = nil, words: [ScribeWord] = [], timestamped: Bool = false) {
        self.text = text
        self.languageCode = languageCode
        self.words = words
        self.timestamped = timestamped
    }

    /// `exp(mean(logprob))` over the words, as LiveKit computes a confidence; nil without words.
    public var confidence: Double? {
        let probabilities = words.filter { $0.kind == .word }.map(\.logprob)
        guard !probabilities.isEmpty else { return nil }
        // A probability: a log-probability above 0 (or an absurd one) from the wire can't make it
        // more than 1, or infinite.
        let confidence = exp(probabilities.reduce(0, +) / Double(probabilities.count))
        return confidence.isFinite ? min(1, max(0, confidence)) : nil
    }
}

public struct ScribeWord: Sendable, Equatable {
    public enum Kind: String, Sendable { case word, spacing, audioEvent = "audio_event" }
    public var text: String
    /// Seconds from the start of the session's audio.
    public var start: Double
    public var end: Double
    public var kind: Kind
    public var logprob: Double

    public init(text: String, start: Double, end: Double, kind: Kind = .word, logprob: Double = 0) {
        self.text = text
        self.start = start
        self.end = end
        self.kind = kind
        self.logprob = logprob
    }
}

/// An error message from the service (§2.2.7), typed by what the bridge does about it.
public struct ScribeError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        case auth, quota, unacceptedTerms = "unaccepted_terms", invalidRequest = "invalid_request"
        case input, chunkSizeExceeded = "chunk_size_exceeded", commitThrottled = "commit_throttled"
        case rateLimited = "rate_limited", sessionTimeLimit = "session_time_limit"
        case insufficientAudio = "insufficient_audio_activity", transcriber
        /// The socket failed or closed without a message saying why.
        case connection
    }

    public var kind: Kind
    /// The service's own wording (or the socket's close reason).
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// No retry helps: the key, the account or the query is wrong. Streaming stops for the call.
    public var isFatal: Bool {
        switch kind {
        case .auth, .quota, .unacceptedTerms, .invalidRequest: true
        default: false
        }
    }

    /// The session goes on after it (the service ignored one commit).
    public var keepsSession: Bool { kind == .commitThrottled }

    public var description: String { "\(kind.rawValue): \(message)" }

    /// The kind a `message_type` names. Both spellings that drifted between spec versions are
    /// read (`quota_exceeded`/`quota_exceeded_error`, `unaccepted_terms`/`_error`); an unknown
    /// type that reads like an error is a transcriber error; anything else is not an error.
    static func kind(ofMessageType type: String) -> Kind? {
        switch type {
        case "auth_error": return .auth
        case "quota_exceeded", "quota_exceeded_error": return .quota
        case "unaccepted_terms", "unaccepted_terms_error": return .unacceptedTerms
        case "invalid_request": return .invalidRequest
        case "input_error": return .input
        case "chunk_size_exceeded": return .chunkSizeExceeded
        case "commit_throttled": return .commitThrottled
        case "rate_limited", "queue_overflow", "resource_exhausted": return .rateLimited
        case "session_time_limit_exceeded": return .sessionTimeLimit
        case "insufficient_audio_activity": return .insufficientAudio
        case "transcriber_error", "error": return .transcriber
        default:
            for suffix in ["_error", "_exceeded", "_limited", "_exhausted"] where type.hasSuffix(suffix) { return .transcriber }
            return nil
        }
    }
}

extension ScribeServerMessage: ElevenLabsServerMessage {
    public init(scanning bytes: UnsafeRawBufferPointer) throws(ElevenLabsWebSocketError) {
        do {
            var scanner = JSONScanner(bytes)
            try scanner.beginObject()
            var type: String?
            var text: String?
            var sessionID: String?
            var languageCode: String?
            var errorText: String?
            var words: [ScribeWord] = []
            var isFirst = true
            while let key = try scanner.nextKey(isFirst: &isFirst) {
                let value = try scanner.scanValue()
                if scanner.content(key, equals: "message_type") {
                    type = try Self.string(value, scanner, "message_type")
                } else if scanner.content(key, equals: "text") {
                    text = try Self.string(value, scanner, "text")
                } else if scanner.content(key, equals: "session_id") {
                    sessionID = try Self.string(value, scanner, "session_id")
                } else if scanner.content(key, equals: "language_code") {
                    languageCode = try? Self.string(value, scanner, "language_code")
                } else if scanner.content(key, equals: "error") || (errorText == nil && scanner.content(key, equals: "message")) {
                    errorText = try? Self.string(value, scanner, "error")
                } else if scanner.content(key, equals: "words"), case let .array(start) = value {
                    words = try Self.words(at: start, scanner)
                }
            }
            try scanner.expectEnd()
            guard let type else { throw ElevenLabsWebSocketError.malformedMessage("no message_type") }
            switch type {
            case "session_started":
                self = .sessionStarted(sessionID: sessionID ?? "")
            case "partial_transcript":
                self = .partial(text ?? "")
            case "final_transcript", "final_transcript_with_timestamps":
                self = .stable(text ?? "")
            case "committed_transcript":
                self = .committed(ScribeCommit(text: text ?? ""))
            case "committed_transcript_with_timestamps":
                self = .committed(ScribeCommit(text: text ?? "", languageCode: languageCode, words: words, timestamped: true))
            default:
                if let kind = ScribeError.kind(ofMessageType: type) {
                    self = .error(ScribeError(kind, errorText ?? type))
                } else {
                    self = .ignored(type: type)
                }
            }
        } catch let error as ElevenLabsWebSocketError {
            throw error
        } catch {
            let preview = String(decoding: UnsafeRawBufferPointer(rebasing: bytes.prefix(80)), as: UTF8.self)
            throw .malformedMessage("not a speech-to-text message (\(error)): \(preview)")
        }
    }

    public var errorText: String? {
        if case .error(let error) = self { return error.description }
        return nil
    }

    private static func string(_ value: JSONValueSpan, _ scanner: JSONScanner, _ field: String) throws -> String {
        guard case let .string(span) = value else { throw CarrierProtocolError.wrongType(field: field, expected: "string") }
        return try scanner.string(span, field: field)
    }

    /// `words[]`: `text`, `start`, `end`, `type`, `logprob`; `characters`, `speaker_id` and
    /// `channel_index` are skipped.
    private static func words(at start: Int, _ scanner: JSONScanner) throws -> [ScribeWord] {
        var words: [ScribeWord] = []
        try scanner.forEachElement(ofArrayAt: start) { element, s throws(CarrierProtocolError) in
            guard case let .object(objectStart) = element else { return }
            var inner = JSONScanner(s.bytes, position: objectStart)
            try inner.beginObject()
            var word = ScribeWord(text: "", start: 0, end: 0)
            var isFirst = true
            while let key = try inner.nextKey(isFirst: &isFirst) {
                let value = try inner.scanValue(depth: 2)
                if inner.content(key, equals: "text"), case let .string(span) = value {
                    word.text = try inner.string(span, field: "words.text")
                } else if inner.content(key, equals: "start") {
                    word.start = try inner.double(value, field: "words.start")
                } else if inner.content(key, equals: "end") {
                    word.end = try inner.double(value, field: "words.end")
                } else if inner.content(key, equals: "logprob"), case .number = value {
                    word.logprob = try inner.double(value, field: "words.logprob")
                } else if inner.content(key, equals: "type"), case let .string(span) = value {
                    word.kind = ScribeWord.Kind(rawValue: try inner.string(span, field: "words.type")) ?? .word
                }
            }
            words.append(word)
        }
        return words
    }
}
