import Foundation
import VoiceBridgeCarriers
import VoiceBridgeSpeech

/// A recording read back: the header, what drives the call (inbound messages, caller actions,
/// recorded speech) and what it is expected to send. Either form — recorded by `serve --record`
/// or hand-written — reads into this.
public struct RecordedCall: Sendable {
    /// The latest time a recording may name (ms; a day): later ones would only make a replay run
    /// for days of virtual time.
    public static let longestMs: Double = 86_400_000

    public var header: RecordingHeader
    /// The header line exactly as written, kept by `--update`.
    public var headerLine: String
    public var inputs: [TimedInput]
    public var turns: [RecordedTurn]
    /// Speech-to-text events (`stt` lines), in time order.
    public var transcripts: [RecordedTranscript]
    /// Why the relay app could not be reached (`relay: refused`); a replay fails its connect too.
    public var relayRefusal: String?
    public var expected: [OutboundEvent]
    /// Where the recorded call anchored its playout grid (ms), from its `flow: start` line.
    public var gridOriginMs: Double?
    /// Every line but the header, with its time and role, for rewriting (`--update`).
    public var lines: [Line]

    public struct Line: Sendable {
        public enum Role: Sendable { case input, speech, expectation, information }
        public var number: Int
        public var t: Double
        public var role: Role
        public var text: String
    }

    /// Something that happens to the call at `t`.
    public struct TimedInput: Sendable {
        public var t: Double
        public var line: Int
        public var input: Input
    }

    public enum Input: Sendable, Equatable {
        /// An inbound text message, verbatim: it goes through the server's decoder and gate.
        case message(String)
        /// A binary frame: Asterisk's caller audio; refused by the JSON dialects.
        case binary([UInt8])
        /// The media socket closed.
        case socketClosed
        // The hand-written shorthands (a simulated carrier turns them into messages):
        case start(callSid: String?, streamSid: String?, accountSid: String?, parameters: [String: String])
        case dtmf(Character, inBand: Bool)
        /// Caller speech (a voiced, speech-like signal) for `ms`, at `levelDBm0`.
        case speech(ms: Int, levelDBm0: Double)
        /// A short burst of noise: loud, but too short to count as speech.
        case noise(ms: Int, levelDBm0: Double)
        /// The caller hangs up: `stop`, then the socket closes.
        case hangup
        /// A message from the ConversationRelay app (`relay: app`), verbatim.
        case relayApp(String)
        /// The app closed its socket.
        case relayClosed(code: Int, reason: String)
    }

    /// One speech turn as recorded: requested at `t`, with its chunks at offsets from the request.
    public struct RecordedTurn: Sendable {
        public var turn: String
        public var t: Double
        public var streamed: Bool
        public var text: String
        public var events: [SpeechEvent]
    }

    public struct SpeechEvent: Sendable {
        public enum Kind: Sendable {
            case chunk([UInt8], Alignment?, MediaFormat)
            case done
            case error(String)
        }
        /// Milliseconds after the request.
        public var offsetMs: Double
        public var kind: Kind
    }

    /// Whether the file holds any expectation at all; without one a replay has nothing to check.
    public var hasExpectations: Bool { !expected.isEmpty }

    /// The audio of the built prompts the flow played, by the text they speak (`play` decisions
    /// with `audio`): what a replay plays for a `play:` step whose text is unchanged.
    public var promptAudioByText: [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        for line in lines where line.role == .information && line.text.contains(#""audio":"#) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.text.utf8)) as? [String: Any],
                object["flow"] as? String == "play", let text = object["text"] as? String,
                let encoded = object["audio"] as? String, let data = Data(base64Encoded: encoded)
            else { continue }
            out[text] = [UInt8](data)
        }
        return out
    }

    /// Whether frames are checked: only when the file lists any (a hand-written file may list only
    /// marks, clears and the end).
    public var checksMedia: Bool { expected.contains { $0.isMedia } }

    /// The latest time in the file.
    public var lastTime: Double { lines.map(\.t).max() ?? 0 }
}

extension RecordedCall {
    /// Reads a recording. Errors name the line and what is wrong with it.
    public init(text: String) throws(RecordingError) {
        var lineNumber = 0
        var header: RecordingHeader?
        var headerLine = ""
        var inputs: [TimedInput] = []
        var turns: [RecordedTurn] = []
        var transcripts: [RecordedTranscript] = []
        var turnIndex: [String: Int] = [:]
        var expected: [OutboundEvent] = []
        var lines: [Line] = []
        var gridOriginMs: Double?
        var relayRefusal: String?
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let trimmed = raw.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("//") { continue }
            let object: [String: Any]
            do {
                guard let o = try JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: Any] else {
                    throw RecordingError(line: lineNumber, "each line must be a JSON object")
                }
                object = o
            } catch let error as RecordingError {
                throw error
            } catch {
                throw RecordingError(line: lineNumber, "not valid JSON: \(trimmed.prefix(80))")
            }
            guard header != nil else {
                header = try RecordingHeader(object: object)
                headerLine = trimmed
                continue
            }
            let r = FieldReader(object: object, line: lineNumber, context: "line")
            guard let t = try r.double("t") else { throw RecordingError(line: lineNumber, "missing \"t\" (ms since the call's start)") }
            guard t >= 0, t <= Self.longestMs else { throw RecordingError(line: lineNumber, "\"t\" must be within 0...\(Int(Self.longestMs)) (ms; a day)") }
            func add(_ role: Line.Role) { lines.append(Line(number: lineNumber, t: t, role: role, text: trimmed)) }
            func input(_ i: Input) {
                inputs.append(TimedInput(t: t, line: lineNumber, input: i))
                add(.input)
            }
            if let text = try r.string("in") {
                input(.message(text))
            } else if let b64 = try r.string("binary") {
                guard let bytes = Base64Fast.decode(b64) else { throw RecordingError(line: lineNumber, "\"binary\" must be base64") }
                input(.binary(bytes))
            } else if let socket = try r.string("socket") {
                guard socket == "closed" else { throw RecordingError(line: lineNumber, "\"socket\" must be \"closed\"") }
                input(.socketClosed)
            } else if let kind = try r.string("out") {
                expected.append(try Self.outbound(kind, t: t, reader: r))
                add(.expectation)
            } else if let kind = try r.string("tts") {
                let turn = try r.string("turn") ?? String(turns.count + 1)
                switch kind {
                case "request", "start":
                    guard turnIndex[turn] == nil else { throw RecordingError(line: lineNumber, "turn \"\(turn)\" is requested twice") }
                    turnIndex[turn] = turns.count
                    turns.append(RecordedTurn(turn: turn, t: t, streamed: kind == "start", text: try r.string("text") ?? "", events: []))
                case "text":
                    guard let i = turnIndex[turn] else { throw RecordingError(line: lineNumber, "tts text for unknown turn \"\(turn)\"") }
                    turns[i].text += try r.string("text") ?? ""
                case "chunk", "done", "error":
                    guard let i = turnIndex[turn] else { throw RecordingError(line: lineNumber, "tts \(kind) for unknown turn \"\(turn)\"") }
                    let offset = t - turns[i].t
                    switch kind {
                    case "chunk":
                        guard let b64 = try r.string("audio"), let audio = Base64Fast.decode(b64) else {
                            throw RecordingError(line: lineNumber, "tts chunk needs \"audio\": base64 audio, μ-law 8 kHz unless \"format\" says otherwise")
                        }
                        var format = MediaFormat.mulaw8kMono
                        if let name = try r.string("format") {
                            guard let named = MediaFormat(settingName: name) else {
                                throw RecordingError(line: lineNumber, "tts chunk format \"\(name)\" is not ulaw_8000, alaw_8000, l16_8000 or l16_16000")
                            }
                            format = named
                        }
                        turns[i].events.append(SpeechEvent(offsetMs: offset, kind: .chunk(audio, try Self.alignment(r), format)))
                    case "done":
                        turns[i].events.append(SpeechEvent(offsetMs: offset, kind: .done))
                    default:
                        turns[i].events.append(SpeechEvent(offsetMs: offset, kind: .error(try r.string("error") ?? "error")))
                    }
                case "finish", "cancel":
                    break  // what the call did; it does it again in the replay
                default:
                    throw RecordingError(line: lineNumber, "unknown tts kind \"\(kind)\" (request, start, text, finish, chunk, done, error, cancel)")
                }
                add(.speech)
            } else if let kind = try r.string("relay") {
                switch kind {
                case "app":
                    guard let text = try r.string("text") else { throw RecordingError(line: lineNumber, "relay app needs \"text\": the app's message") }
                    input(.relayApp(text))
                case "closed":
                    input(.relayClosed(code: try r.int("code") ?? 1006, reason: try r.string("reason") ?? ""))
                case "refused":
                    relayRefusal = try r.string("error") ?? "refused"
                    add(.speech)
                case "connect":
                    add(.speech)  // what the bridge did; it connects again in the replay
                default:
                    throw RecordingError(line: lineNumber, "unknown relay kind \"\(kind)\" (connect, app, closed, refused)")
                }
            } else if let kind = try r.string("stt") {
                if let event = try RecordedTranscript.read(kind, r, line: lineNumber) {
                    transcripts.append(RecordedTranscript(t: t, event: event))
                }
                add(.speech)
            } else if r.has("flow") || r.has("bargeIn") || r.has("cost") {
                if try r.string("flow") == "start", gridOriginMs == nil { gridOriginMs = try r.double("gridMs", in: 0...Self.longestMs) }
                add(.information)
            } else if let start = try r.object("start") {
                let s = FieldReader(object: start, line: lineNumber, context: "start")
                input(.start(
                    callSid: try s.string("callSid"), streamSid: try s.string("streamSid"),
                    accountSid: try s.string("accountSid"), parameters: try s.stringMap("parameters") ?? [:]))
            } else if r.has("start") {
                input(.start(callSid: nil, streamSid: nil, accountSid: nil, parameters: [:]))
            } else if let digits = try r.string("dtmf") {
                guard digits.count == 1, let d = digits.first, "0123456789*#ABCD".contains(d) else {
                    throw RecordingError(line: lineNumber, "\"dtmf\" must be one key: 0-9, * or #")
                }
                input(.dtmf(d, inBand: try r.bool("inband") ?? false))
            } else if r.has("speech") {
                let (ms, level) = try Self.span(r, key: "speech", defaultMs: 800, defaultLevel: -20, line: lineNumber)
                input(.speech(ms: ms, levelDBm0: level))
            } else if r.has("noise") {
                let (ms, level) = try Self.span(r, key: "noise", defaultMs: 100, defaultLevel: -20, line: lineNumber)
                input(.noise(ms: ms, levelDBm0: level))
            } else if r.has("hangup") {
                input(.hangup)
            } else if r.has("silence") {
                // The caller is silent unless told otherwise; accepted so a file can say so.
                add(.input)
            } else {
                throw RecordingError(
                    line: lineNumber,
                    "unknown line: expected one of in, socket, out, tts, stt, relay, flow, bargeIn, cost, start, dtmf, speech, noise, hangup")
            }
        }
        guard let header else { throw RecordingError(line: 1, "empty file: the first line must be the header") }
        if header.carrier == .recorded, inputs.contains(where: { !$0.input.isRecordedKind }) {
            throw RecordingError(line: 1, "a \"recorded\" file takes only raw \"in\" messages; shorthands (start, dtmf, speech, noise, hangup) need \"carrier\":\"simulated\"")
        }
        self.header = header
        self.headerLine = headerLine
        // Stable: lines at the same time keep their order in the file.
        self.inputs = inputs.enumerated().sorted { ($0.element.t, $0.offset) < ($1.element.t, $1.offset) }.map(\.element)
        self.turns = turns
        self.relayRefusal = relayRefusal
        self.transcripts = transcripts.enumerated().sorted { ($0.element.t, $0.offset) < ($1.element.t, $1.offset) }.map(\.element)
        self.expected = expected.enumerated().sorted { ($0.element.t, $0.offset) < ($1.element.t, $1.offset) }.map(\.element)
        self.lines = lines
        self.gridOriginMs = header.carrier == .recorded ? gridOriginMs : nil
    }

    public init(contentsOf path: String) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw RecordingError(line: 0, "can't read it: \((error as NSError).localizedFailureReason ?? error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw RecordingError(line: 0, "not UTF-8 text, so not a recording (JSON Lines)")
        }
        try self.init(text: text)
    }

    private static func outbound(_ kind: String, t: Double, reader r: FieldReader) throws(RecordingError) -> OutboundEvent {
        switch kind {
        case "media":
            guard let b64 = try r.string("payload"), let bytes = Base64Fast.decode(b64) else {
                throw RecordingError(line: r.line, "out media needs \"payload\": the frame, base64")
            }
            return OutboundEvent(t: t, kind: .media(bytes))
        case "mark":
            guard let name = try r.string("name") else { throw RecordingError(line: r.line, "out mark needs \"name\"") }
            return OutboundEvent(t: t, kind: .mark(name))
        case "clear":
            return OutboundEvent(t: t, kind: .clear)
        case "end":
            return OutboundEvent(t: t, kind: .end(try r.string("reason") ?? "hangUp"))
        case "close":
            guard let code = try r.int("code") else { throw RecordingError(line: r.line, "out close needs \"code\"") }
            return OutboundEvent(t: t, kind: .close(code: code, reason: try r.string("reason") ?? ""))
        case "relay":
            guard let text = try r.string("text") else { throw RecordingError(line: r.line, "out relay needs \"text\": the message to the app") }
            return OutboundEvent(t: t, kind: .relay(text))
        default:
            throw RecordingError(line: r.line, "unknown out kind \"\(kind)\" (media, mark, clear, end, close, relay)")
        }
    }

    private static func alignment(_ r: FieldReader) throws(RecordingError) -> Alignment? {
        guard let a = try r.object("alignment") else { return nil }
        let ar = FieldReader(object: a, line: r.line, context: "alignment")
        let chars = try ar.strings("chars") ?? []
        let starts = try ar.ints("startsMs") ?? []
        let durations = try ar.ints("durationsMs") ?? []
        guard chars.count == starts.count, chars.count == durations.count else {
            throw RecordingError(line: r.line, "alignment: chars, startsMs and durationsMs must have the same length")
        }
        return Alignment(chars: chars, charStartTimesMs: starts, charDurationsMs: durations)
    }

    /// `"speech": {"ms": 800, "levelDBm0": -20}`, `"speech": 800` or `"speech": true`.
    private static func span(
        _ r: FieldReader, key: String, defaultMs: Int, defaultLevel: Double, line: Int
    ) throws(RecordingError) -> (Int, Double) {
        if let o = try? r.object(key) {
            let s = FieldReader(object: o, line: line, context: key)
            let ms = try s.int("ms") ?? defaultMs
            guard ms > 0, ms <= 600_000 else { throw RecordingError(line: line, "\(key).ms must be 1...600000") }
            return (ms, try s.double("levelDBm0", in: -120...10) ?? defaultLevel)
        }
        // `true` may read as 1 on some platforms: a 1 ms span means "the default".
        if let ms = try? r.int(key), ms > 1 {
            guard ms <= 600_000 else { throw RecordingError(line: line, "\(key) must be 1...600000 ms") }
            return (ms, defaultLevel)
        }
        return (defaultMs, defaultLevel)
    }
}

extension RecordedCall.Input {
    /// What a recording holds; the rest are the hand-written shorthands.
    var isRecordedKind: Bool {
        switch self {
        case .message, .binary, .socketClosed, .relayApp, .relayClosed: true
        default: false
        }
    }
}
