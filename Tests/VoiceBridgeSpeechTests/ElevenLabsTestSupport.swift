import Foundation
import Logging
import Synchronization
import VoiceBridgeSpeech

/// Answers in ElevenLabs' shapes (docs/elevenlabs.md §3), for the test server's handlers.
enum ElevenLabsReply {
    static let successHeaders: [(String, String)] = [
        ("Request-Id", "req-7f3a"), ("character-cost", "42"),
        ("current-concurrent-requests", "1"), ("maximum-concurrent-requests", "5"),
        ("x-trace-id", "trace-9"),
    ]

    /// 200 with the audio in chunked pieces, each after `gap`. `beforeEnd` runs after the last
    /// piece and before the end of the body, as a server frees a concurrency slot before the
    /// client can see the response complete.
    static func audio(
        _ responder: Responder, _ pieces: [[UInt8]], gap: Duration = .zero, headers: [(String, String)] = successHeaders,
        beforeEnd: @Sendable () -> Void = {}
    ) async {
        do {
            defer { beforeEnd() }
            // The spec's content type is audio/mpeg whatever the format; clients must not care.
            try await responder.head(status: 200, headers: [("content-type", "audio/mpeg")] + headers)
            for piece in pieces {
                if gap > .zero { try await Task.sleep(for: gap) }
                try await responder.chunk(piece)
            }
        } catch {
            return  // The client went away: what the cancellation tests are about.
        }
        try? await responder.end()
    }

    /// An error in the current shape (`code` plus its legacy mirror `status`), or in the legacy
    /// shape with `status` only.
    static func error(_ responder: Responder, status: Int, code: String, message: String, legacy: Bool = false) async {
        let detail: [String: Any] =
            legacy
            ? ["status": code, "message": message]
            : ["type": "error", "code": code, "status": code, "message": message, "request_id": "req-err-1"]
        await responder.respond(status: status, body: json(["detail": detail]))
    }

    static func validationError(_ responder: Responder) async {
        let detail: [[String: Any]] = [["loc": ["body", "text"], "msg": "Field required", "type": "missing"]]
        await responder.respond(status: 422, body: json(["detail": detail]))
    }

    static func json(_ object: Any) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    /// One with-timestamps NDJSON line, newline included.
    static func line(audio: [UInt8], characters: [String]?, starts: [Double] = [], ends: [Double] = []) -> String {
        var object: [String: Any] = ["audio_base64": Data(audio).base64EncodedString()]
        if let characters {
            let alignment: [String: Any] = [
                "characters": characters, "character_start_times_seconds": starts, "character_end_times_seconds": ends,
            ]
            object["alignment"] = alignment
            object["normalized_alignment"] = alignment
        } else {
            object["alignment"] = NSNull()
            object["normalized_alignment"] = NSNull()
        }
        return json(object) + "\n"
    }

    /// A stand-in voice: 5 ms (40 μ-law bytes) per character, each byte derived from the character,
    /// so a test can tell exactly which audio belongs to which text.
    static func audio(for text: String) -> [UInt8] {
        text.unicodeScalars.flatMap { scalar in
            (0..<40).map { UInt8(truncatingIfNeeded: Int(scalar.value) &* 31 &+ $0) }
        }
    }

    /// Speaks `text` as with-timestamps NDJSON, `perLine` characters a line, times counted from
    /// the start of the response (as pipecat reads the live service), or restarting at zero on
    /// every line (as the WebSocket counts) when `relative`.
    static func timestamped(_ responder: Responder, text: String, perLine: Int = 6, gap: Duration = .zero, relative: Bool = false) async {
        let characters = text.map(String.init)
        do {
            try await responder.head(status: 200, headers: [("content-type", "application/json")] + successHeaders)
            var index = 0
            while index < characters.count {
                let slice = Array(characters[index..<min(index + perLine, characters.count)])
                let starts = (0..<slice.count).map { Double((relative ? 0 : index) + $0) * 0.005 }
                let ends = starts.map { $0 + 0.005 }
                let body = line(audio: audio(for: slice.joined()), characters: slice, starts: starts, ends: ends)
                if gap > .zero { try await Task.sleep(for: gap) }
                try await responder.chunk(Array(body.utf8))
                index += perLine
            }
            try await responder.end()
        } catch {}
    }
}

/// Distinct, non-repeating test bytes that include every value a codec could trip on.
func testBytes(_ count: Int, seed: Int = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 73) ^ ($0 >> 8) &+ seed) }
}

/// Everything logged through its loggers, at every level, as text.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    var logger: Logger {
        var logger = Logger(label: "test.elevenlabs-http") { _ in Handler(capture: self) }
        logger.logLevel = .trace
        return logger
    }

    var text: String { lines.withLock { $0.joined(separator: "\n") } }
    var count: Int { lines.withLock { $0.count } }

    fileprivate func append(_ line: String) {
        lines.withLock { $0.append(line) }
    }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var metadataProvider: Logger.MetadataProvider?
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            capture.append("\(event.level) \(event.message) \(all)")
        }
    }
}

/// Collects a client stream: the responses and the audio, with arrival times.
struct CollectedStream<Audio: Sendable>: Sendable {
    var responses: [ElevenLabsResponseInfo] = []
    var audio: [(at: ContinuousClock.Instant, item: Audio)] = []
    var error: (any Error)?
}

func collect<Audio>(_ stream: AsyncThrowingStream<ElevenLabsStreamEvent<Audio>, any Error>) async -> CollectedStream<Audio> {
    var out = CollectedStream<Audio>()
    do {
        for try await event in stream {
            switch event {
            case .response(let info): out.responses.append(info)
            case .audio(let item): out.audio.append((ContinuousClock.now, item))
            }
        }
    } catch {
        out.error = error
    }
    return out
}

extension ElevenLabsRetryPolicy {
    /// Short waits, for tests.
    static func fast(maxRetries: Int = 4, maxSlotWait: Duration = .seconds(5)) -> ElevenLabsRetryPolicy {
        ElevenLabsRetryPolicy(maxRetries: maxRetries, initialBackoff: .milliseconds(80), maxBackoff: .milliseconds(400), maxSlotWait: maxSlotWait)
    }
}
