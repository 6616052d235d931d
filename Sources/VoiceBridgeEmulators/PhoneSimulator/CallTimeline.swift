import Histogram

/// What happened on one simulated call; `--timeline` writes `{"aggregate": AggregateStatistics,
/// "calls": [CallTimeline, …]}` (see ``SimulationOutput``). Every `…Ms` time is
/// milliseconds since the simulator sent `start` (the call's origin), to the microsecond;
/// durations are in ms too. ``PlayoutStatistics`` defines gap, lead, underrun and heard segment.
/// Percentiles come from two-significant-digit histograms (±1 %); every `maxMs` is exact.
///
/// ```json
/// {
///   "callSid": "CA…", "accountSid": "AC…", "streamSid": "MZ…",
///   "webhookURL": "http://127.0.0.1:8080/voice", "streamURL": "ws://127.0.0.1:8080/media",
///   "webhookMs": 3.1, "connectMs": 1.2, "firstMediaMs": 212.4,
///   "mediaSent": 250, "sendLateness": {"count": 250, "p50Ms": 0.06, "p99Ms": 0.2, "maxMs": 0.31},
///   "mediaReceived": 180,
///   "gaps": {"count": 170, "p50Ms": 20.0, "p99Ms": 21.4, "maxMs": 22.9},
///   "lead": {"count": 180, "p50Ms": 60.0, "p99Ms": 80.0, "maxMs": 80.0},
///   "underruns": {"count": 1, "totalMs": 12.5, "intervals": [{"startMs": 1400.0, "endMs": 1412.5}]},
///   "marks": [{"name": "1.1", "sentAtMs": 900.2, "echoedAtMs": 2120.0, "outcome": "played"}],
///   "clears": [{"atMs": 3000.4, "droppedMs": 60.0}],
///   "heardSegments": [{"startMs": 212.5, "endMs": 2120.0}],
///   "dtmf": [{"atMs": 2500.0, "digit": "1", "mode": "event"}],
///   "violationCount": 0, "violations": [{"atMs": 0.0, "message": "…"}],
///   "close": {"initiator": "server", "code": 1000, "reason": "bye"},
///   "endReason": "serverClosed", "twimlAfterStream": ["<Say>Goodbye</Say>"], "durationMs": 5000.0
/// }
/// ```
/// `outcome` is `played`, `cleared` or `pending`; `endReason` is `hangup`, `maxDuration`,
/// `serverClosed`, `connectionLost` or `failed`; `initiator` is `server` or `caller`. Absent values
/// (no media yet, no close frame, no error…) are left out of the JSON rather than written as null.
public struct CallTimeline: Codable, Sendable, Equatable {
    public struct Distribution: Codable, Sendable, Equatable {
        public var count: Int
        public var p50Ms: Double?
        public var p99Ms: Double?
        public var maxMs: Double?
    }

    public struct Span: Codable, Sendable, Equatable {
        public var startMs: Double
        public var endMs: Double
    }

    public struct Underruns: Codable, Sendable, Equatable {
        public var count: Int
        public var totalMs: Double
        public var intervals: [Span]
    }

    public struct Mark: Codable, Sendable, Equatable {
        public enum Outcome: String, Codable, Sendable {
            /// Echoed after its audio played out (or at once, nothing being queued).
            case played
            /// Echoed because a `clear` flushed it.
            case cleared
            /// Never echoed: the call ended first.
            case pending
        }

        public var name: String
        /// When the server's `mark` arrived.
        public var sentAtMs: Double
        /// When the simulator echoed it.
        public var echoedAtMs: Double?
        public var outcome: Outcome
    }

    public struct Clear: Codable, Sendable, Equatable {
        public var atMs: Double
        /// Queued audio the clear dropped.
        public var droppedMs: Double
    }

    public struct DTMF: Codable, Sendable, Equatable {
        public enum Mode: String, Codable, Sendable {
            /// A Twilio `dtmf` event.
            case event
            /// A tone mixed into the caller's media (`--dtmf-inband`).
            case inband
        }

        public var atMs: Double
        public var digit: String
        public var mode: Mode
    }

    public struct Violation: Codable, Sendable, Equatable {
        public var atMs: Double
        public var message: String
    }

    public struct Close: Codable, Sendable, Equatable {
        /// Who sent the first close frame: `server` or `caller`. No close frame at all leaves ``CallTimeline/close`` nil.
        public var initiator: String
        public var code: Int?
        public var reason: String?
    }

    public enum EndReason: String, Codable, Sendable {
        /// `--hangup-at` passed: the caller sent `stop` and closed.
        case hangup
        /// `--max-duration` passed: same as a hang-up.
        case maxDuration
        /// The server closed the socket (Twilio would go on with the TwiML after `</Connect>`).
        case serverClosed
        /// The connection dropped without a close handshake.
        case connectionLost
        /// The call never got its stream up (webhook, TwiML or handshake failure).
        case failed
    }

    public var callSid: String
    public var accountSid: String
    public var streamSid: String?
    public var webhookURL: String
    public var streamURL: String?
    /// Webhook POST round trip.
    public var webhookMs: Double?
    /// TCP connect plus WebSocket handshake.
    public var connectMs: Double?
    /// From `start` sent to the first server `media` received.
    public var firstMediaMs: Double?
    public var mediaSent: Int
    /// How late each caller media frame was sent against its absolute deadline `t0 + k × 20 ms`.
    /// Large values mean the simulator itself was overloaded and the other numbers are suspect.
    public var sendLateness: Distribution
    public var mediaReceived: Int
    public var gaps: Distribution
    public var lead: Distribution
    public var underruns: Underruns
    public var marks: [Mark]
    public var clears: [Clear]
    public var heardSegments: [Span]
    public var dtmf: [DTMF]
    public var violationCount: Int
    /// The first ``maxViolationsKept`` violations.
    public var violations: [Violation]
    public var close: Close?
    public var endReason: EndReason
    /// The TwiML verbs after `</Connect>`, rendered: what Twilio would run once the stream ends
    /// (the simulator does not run them).
    public var twimlAfterStream: [String]
    public var error: String?
    /// From `start` sent to the end of the call.
    public var durationMs: Double

    public static let maxViolationsKept = 100

    /// True when the call ran and the server broke no rule.
    /// Streamed to its end: not failed, no rule broken, no socket error, and not refused by the
    /// server (a close from the server with any code but 1000).
    public var passed: Bool {
        endReason != .failed && violationCount == 0 && error == nil && !refusedByServer
    }

    public var refusedByServer: Bool {
        guard let close, close.initiator == "server" else { return false }
        return (close.code ?? 1000) != 1000
    }

    static func failed(callSid: String, accountSid: String, webhookURL: String, error: String) -> CallTimeline {
        CallTimeline(
            callSid: callSid, accountSid: accountSid, streamSid: nil, webhookURL: webhookURL, streamURL: nil,
            webhookMs: nil, connectMs: nil, firstMediaMs: nil, mediaSent: 0, sendLateness: Distribution(count: 0),
            mediaReceived: 0,
            gaps: Distribution(count: 0), lead: Distribution(count: 0),
            underruns: Underruns(count: 0, totalMs: 0, intervals: []), marks: [], clears: [], heardSegments: [],
            dtmf: [], violationCount: 0, violations: [], close: nil, endReason: .failed, twimlAfterStream: [], error: error,
            durationMs: 0)
    }
}

extension CallTimeline.Distribution {
    init(count: Int) { self.init(count: count, p50Ms: nil, p99Ms: nil, maxMs: nil) }

    /// From a histogram of microseconds.
    init(microseconds h: Histogram<UInt32>) {
        guard h.totalCount > 0 else {
            self.init(count: 0)
            return
        }
        self.init(
            count: Int(h.totalCount), p50Ms: Self.ms(h.valueAtPercentile(50)), p99Ms: Self.ms(h.valueAtPercentile(99)),
            maxMs: Self.ms(h.max))
    }

    static func ms(_ us: UInt64) -> Double { Double(us) / 1000 }
}

/// Milliseconds with microsecond resolution, for JSON.
func milliseconds(nanos: Int64) -> Double { Double(nanos / 1000) / 1000 }
func milliseconds(sample: Int64) -> Double { Double(sample) / 8 }
