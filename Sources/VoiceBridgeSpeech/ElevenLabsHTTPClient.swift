import Foundation
import Logging

/// ElevenLabs text-to-speech over HTTP streaming: `POST /v1/text-to-speech/{voice_id}/stream`
/// and `/stream/with-timestamps` (doc §3), through the process's `CurlMulti`.
///
/// Audio is handed on the moment curl reads it; nothing waits for the end of the response. The
/// status decides what a body is: only a 2xx body is ever audio. Anything else is read as an
/// error body, parsed into a typed `ElevenLabsHTTPError`, and retried when retrying can help
/// (see `ElevenLabsRetryPolicy`). Requests are retried only before their first audio, so speech
/// is never repeated.
///
/// The API key goes into the `xi-api-key` header and nowhere else: not into the URL, a log
/// line, an error, or this type's description.
public struct ElevenLabsHTTPClient: Sendable {
    public struct Configuration: Sendable {
        public static let defaultBaseURL = "https://api.elevenlabs.io"

        public var apiKey: String
        /// Scheme and host, optionally a path prefix; e.g. an emulator's `http://127.0.0.1:8089`.
        public var baseURL: String
        /// PEM bundle of CAs to trust instead of the system's, for an emulator's self-signed
        /// certificate. Verification itself is always on.
        public var caBundlePath: String?
        public var connectTimeout: Duration
        /// Abort when nothing arrives for this long, including the wait for the first byte.
        public var stallTimeout: Duration
        public var retry: ElevenLabsRetryPolicy

        public init(
            apiKey: String,
            baseURL: String = Self.defaultBaseURL,
            caBundlePath: String? = nil,
            connectTimeout: Duration = .seconds(5),
            stallTimeout: Duration = .seconds(15),
            retry: ElevenLabsRetryPolicy = ElevenLabsRetryPolicy()
        ) {
            self.apiKey = apiKey
            self.baseURL = baseURL
            self.caBundlePath = caBundlePath
            self.connectTimeout = connectTimeout
            self.stallTimeout = stallTimeout
            self.retry = retry
        }

        /// Reads `ELEVENLABS_API_KEY` (required), `ELEVENLABS_BASE_URL` (an emulator, say) and
        /// `ELEVENLABS_CA_BUNDLE` (its certificate). Surrounding whitespace is dropped from the
        /// key: a key pasted with a newline would otherwise be an invalid header.
        public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(ElevenLabsHTTPError) -> Configuration {
            let key = environment["ELEVENLABS_API_KEY"]?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            guard !key.isEmpty else {
                throw .invalidConfiguration("ELEVENLABS_API_KEY is not set")
            }
            var configuration = Configuration(apiKey: key)
            if let base = environment["ELEVENLABS_BASE_URL"]?.trimmingCharacters(in: .whitespacesAndNewlines), !base.isEmpty {
                configuration.baseURL = base
            }
            if let bundle = environment["ELEVENLABS_CA_BUNDLE"], !bundle.isEmpty {
                configuration.caBundlePath = bundle
            }
            return configuration
        }
    }

    public let configuration: Configuration
    private let engine: CurlMulti
    private let logger: Logger
    /// Shared by copies of this client: its requests in flight, for queueing on concurrency.
    private let gate = ElevenLabsConcurrencyGate()

    /// Error bodies are a few hundred bytes; more than this is not an error body worth reading.
    private static let maxErrorBody = 64 << 10

    public init(configuration: Configuration, engine: CurlMulti = .shared, logger: Logger = Logger(label: "voicebridge.speech.elevenlabs-http")) {
        self.configuration = configuration
        self.engine = engine
        self.logger = logger
    }

    /// `/stream`: the body is the audio in `request.outputFormat`, passed on byte for byte in
    /// pieces as they arrive. Events: `.response` with the headers, then `.audio` pieces.
    /// Cancel by cancelling the consuming task or dropping the stream; the transfer is aborted.
    public func stream(_ request: ElevenLabsSpeechRequest) -> AsyncThrowingStream<ElevenLabsStreamEvent<[UInt8]>, any Error> {
        run(request, withTimestamps: false, decoder: PassthroughBodyDecoder.self)
    }

    /// `/stream/with-timestamps`: each NDJSON line's `audio_base64` decoded, with its
    /// `alignment` and `normalized_alignment`.
    public func streamWithTimestamps(_ request: ElevenLabsSpeechRequest) -> AsyncThrowingStream<ElevenLabsStreamEvent<ElevenLabsTimestampedAudio>, any Error> {
        run(request, withTimestamps: true, decoder: TimestampedLineDecoder.self)
    }

    // MARK: - Requests and retries

    private enum Remedy {
        case none
        case backoff
        /// Wait until one of our other requests leaves (they were `others` in flight, and the
        /// gate's generation was `generation`, when the refusal came).
        case waitForSlot(generation: UInt64, others: Int)
    }

    private enum Outcome {
        case completed
        case refused(ElevenLabsHTTPError, Remedy)
    }

    private func run<Decoder: ElevenLabsBodyDecoder>(
        _ request: ElevenLabsSpeechRequest, withTimestamps: Bool, decoder: Decoder.Type
    ) -> AsyncThrowingStream<ElevenLabsStreamEvent<Decoder.Output>, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: ElevenLabsStreamEvent<Decoder.Output>.self, throwing: (any Error).self)
        var logger = logger
        logger[metadataKey: "voice"] = "\(request.voiceID)"
        logger[metadataKey: "model"] = "\(request.modelID)"
        logger[metadataKey: "format"] = "\(request.outputFormat)"
        logger[metadataKey: "endpoint"] = withTimestamps ? "stream/with-timestamps" : "stream"
        let task = Task { [self, logger] in
            do {
                try await perform(request, withTimestamps: withTimestamps, decoder: Decoder.self, into: continuation, logger: logger)
                continuation.finish()
            } catch is CancellationError {
                continuation.finish(throwing: CancellationError())
            } catch {
                // The caller gets the error and decides how loud it is; retries were logged as they happened.
                logger.debug("ElevenLabs request failed", metadata: ["error": "\(error)"])
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    private func perform<Decoder: ElevenLabsBodyDecoder>(
        _ request: ElevenLabsSpeechRequest, withTimestamps: Bool, decoder: Decoder.Type,
        into continuation: AsyncThrowingStream<ElevenLabsStreamEvent<Decoder.Output>, any Error>.Continuation,
        logger: Logger
    ) async throws {
        guard !configuration.apiKey.isEmpty else { throw ElevenLabsHTTPError.invalidConfiguration("no API key") }
        let http = httpRequest(for: request, withTimestamps: withTimestamps)
        let policy = configuration.retry
        let clock = ContinuousClock()
        var slotWaitLeft = policy.maxSlotWait
        var backoffs = 0
        var slotBackoffs = 0
        var slotRetries = 0
        var attempt = 0
        while true {
            attempt += 1
            slotWaitLeft -= await gate.enter(waitingAtMost: max(slotWaitLeft, .zero))
            let outcome: Outcome
            do {
                try Task.checkCancellation()
                outcome = try await send(http, attempt: attempt, decoder: Decoder.self, into: continuation, logger: logger)
            } catch {
                gate.leave()
                throw error
            }
            let generationAfterLeave = gate.leave()
            guard case .refused(let error, let remedy) = outcome else { return }
            switch remedy {
            case .none:
                throw error
            case .backoff:
                guard backoffs < policy.maxRetries else { throw error }
                let delay = policy.backoff(forRetry: backoffs)
                backoffs += 1
                logger.notice("ElevenLabs request failed; backing off", metadata: ["error": "\(error)", "attempt": "\(attempt)", "delay": "\(delay)"])
                try await Task.sleep(for: delay)
            case .waitForSlot(let generation, let others):
                guard slotWaitLeft > .zero, slotRetries < policy.maxSlotRetries else { throw error }
                slotRetries += 1
                logger.notice("ElevenLabs concurrency limit reached; waiting for a slot", metadata: ["attempt": "\(attempt)", "inFlight": "\(others)"])
                let start = clock.now
                if others > 0 {
                    // Our own request will free a slot: retry the moment one finishes. Our own
                    // leave just now counts for one; if anything else left since the refusal,
                    // a slot is already free.
                    if generationAfterLeave == generation &+ 1 {
                        await gate.waitForLeave(after: generationAfterLeave, until: start + slotWaitLeft)
                    }
                } else {
                    // The slots are held elsewhere (another process on the same key); nothing
                    // local to wait for, so poll gently.
                    try await Task.sleep(for: min(policy.backoff(forRetry: slotBackoffs), slotWaitLeft))
                    slotBackoffs += 1
                }
                try Task.checkCancellation()
                slotWaitLeft -= clock.now - start
            }
        }
    }

    /// One request: hands out the audio of a 2xx response, or says why there is none.
    private func send<Decoder: ElevenLabsBodyDecoder>(
        _ http: HTTPRequest, attempt: Int, decoder: Decoder.Type,
        into continuation: AsyncThrowingStream<ElevenLabsStreamEvent<Decoder.Output>, any Error>.Continuation,
        logger: Logger
    ) async throws -> Outcome {
        logger.debug("requesting speech", metadata: ["attempt": "\(attempt)", "bodyBytes": "\(http.body?.count ?? 0)"])
        let transfer = engine.start(http)
        var decoder = Decoder()
        var head: HTTPResponseHead?
        var succeeded: Bool { head.map { (200..<300).contains($0.status) } ?? false }
        var errorBody: [UInt8] = []
        var audioStarted = false
        var refusal: (generation: UInt64, others: Int) = (0, 0)

        do {
            for try await event in transfer.events {
                switch event {
                case .head(let received):
                    head = received
                    if let limit = received.headers["maximum-concurrent-requests"].flatMap({ Int($0) }) {
                        gate.learn(limit: limit)
                    }
                    if succeeded {
                        let info = ElevenLabsResponseInfo(status: received.status, headers: received.headers, attempts: attempt)
                        logger.debug("speech stream started", metadata: [
                            "request-id": "\(info.requestID ?? "-")", "character-cost": "\(info.characterCost.map(String.init) ?? "-")",
                            "concurrency": "\(info.currentConcurrentRequests.map(String.init) ?? "?")/\(info.maximumConcurrentRequests.map(String.init) ?? "?")",
                        ])
                        continuation.yield(.response(info))
                    } else {
                        refusal = (gate.generation, gate.inFlight - 1)
                    }
                case .body(let bytes):
                    if succeeded {
                        try decoder.feed(bytes) { item in
                            audioStarted = true
                            continuation.yield(.audio(item))
                        }
                    } else if errorBody.count < Self.maxErrorBody {
                        errorBody += bytes.prefix(Self.maxErrorBody - errorBody.count)
                    }
                }
            }
        } catch let error as HTTPTransferError {
            try Task.checkCancellation()
            // A refusal cut short is still a refusal: classify it by its status below.
            if head == nil || succeeded {
                let failure = ElevenLabsHTTPError.transport(error, attempts: attempt, afterAudio: audioStarted)
                if audioStarted { throw failure }
                return .refused(failure, configuration.retry.retriesTransportErrors ? .backoff : .none)
            }
        }
        // A cancelled consumer ends the iteration quietly; it must not pass for a complete stream.
        try Task.checkCancellation()

        guard let head else {
            let failure = HTTPTransferError(kind: .connectionLost, curlCode: 0, message: "no response")
            return .refused(.transport(failure, attempts: attempt, afterAudio: false), .backoff)
        }
        if succeeded {
            try decoder.finish { continuation.yield(.audio($0)) }
            logger.debug("speech stream finished", metadata: ["attempt": "\(attempt)"])
            return .completed
        }
        let error = ElevenLabsHTTPError.from(status: head.status, body: errorBody, headers: head.headers, attempts: attempt)
        switch error {
        case .tooManyConcurrentRequests:
            return .refused(error, .waitForSlot(generation: refusal.generation, others: refusal.others))
        case .systemBusy, .rateLimited, .serverError:
            return .refused(error, .backoff)
        default:
            return .refused(error, .none)
        }
    }

    private func httpRequest(for request: ElevenLabsSpeechRequest, withTimestamps: Bool) -> HTTPRequest {
        var base = configuration.baseURL
        while base.hasSuffix("/") { base.removeLast() }
        return HTTPRequest(
            method: "POST",
            url: base + request.pathAndQuery(withTimestamps: withTimestamps),
            headers: ["xi-api-key": configuration.apiKey, "Content-Type": "application/json"],
            body: request.jsonBody(),
            connectTimeout: configuration.connectTimeout,
            stallTimeout: configuration.stallTimeout,
            caBundlePath: configuration.caBundlePath
        )
    }
}

/// What an ElevenLabs stream hands out: the response's headers once it is known to be audio,
/// then the audio in order. After a retry before any audio, `.response` may come again.
public enum ElevenLabsStreamEvent<Audio: Sendable>: Sendable {
    case response(ElevenLabsResponseInfo)
    case audio(Audio)
}

extension ElevenLabsStreamEvent: Equatable where Audio: Equatable {}

extension ElevenLabsHTTPClient.Configuration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        "ElevenLabsHTTPClient.Configuration(baseURL: \(baseURL), apiKey: <redacted>, caBundlePath: \(caBundlePath ?? "-"), retry: \(retry))"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: ["baseURL": baseURL, "apiKey": "<redacted>", "caBundlePath": caBundlePath as Any, "retry": retry], displayStyle: .struct)
    }
}
