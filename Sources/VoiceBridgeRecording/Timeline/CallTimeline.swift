import Foundation
import NIOCore
import VoiceBridgeAudio
import VoiceBridgeCarriers
import VoiceBridgeSpeech

/// One call laid out on its own clock (ms): both directions' audio and everything that happened,
/// built from a recording and its replay. Rendering is `TimelineHTML`'s; this type only decides
/// what sits where, so tests check times without a browser.
///
/// What the bridge did comes from the replay (`actual`, `information`), what the caller and the
/// speech service did from the recording, so a failed replay shows today's bridge against the
/// caller it was recorded with.
public struct CallTimeline: Sendable {
    public enum Verdict: String, Sendable { case passed, failed, noExpectations = "no-expectations" }

    public struct Word: Sendable, Equatable {
        public var text: String
        public var startMs: Double
        public var endMs: Double
    }

    public struct Prompt: Sendable, Equatable {
        public enum Outcome: String, Sendable { case finished, interrupted, failed, unfinished }
        public var id: String
        public var text: String
        public var interruptible: String?
        public var streamed: Bool
        /// When the flow decided to play it; it starts when its first frame goes out.
        public var decidedMs: Double
        public var startMs: Double
        public var endMs: Double
        public var outcome: Outcome
        /// What the caller heard of an interrupted prompt, as the call worked it out.
        public var heard: String?
        /// The speech turn that spoke it, when the recording has one.
        public var turn: String?
        public var words: [Word]
    }

    public struct Mark: Sendable, Equatable {
        public enum Echo: Sendable, Equatable {
            /// Its audio finished playing at the carrier.
            case played(Double)
            /// A clear dropped it before its audio played.
            case cleared(Double)
            /// The call ended first.
            case none
        }
        public var name: String
        public var sentMs: Double
        public var echo: Echo
    }

    public struct Key: Sendable, Equatable {
        public var digit: String
        public var t: Double
        public var inBand: Bool
    }

    /// A span of caller sound: what a hand-written file plays (`speech`, `noise`), or what the
    /// bridge's detector heard (`speech-detected`).
    public struct Span: Sendable, Equatable {
        public var kind: String
        public var startMs: Double
        public var endMs: Double
    }

    public struct BargeIn: Sendable, Equatable {
        public var t: Double
        public var accepted: Bool
        public var reason: String
        public var latencyMs: Double?
    }

    public struct FlowStep: Sendable, Equatable {
        public var t: Double
        /// `play`, `setTimer`, …; events are `event:<name>` (`event:digit`).
        public var step: String
        public var detail: String
    }

    public struct Transcript: Sendable, Equatable {
        public var t: Double
        public var kind: String
        public var text: String
    }

    /// A ConversationRelay message, to the app (what the replay sent) or from it (recorded).
    public struct RelayMessage: Sendable, Equatable {
        public var t: Double
        public var toApp: Bool
        /// The message's `type` (`prompt`, `interrupt`, `text`, …).
        public var type: String
        public var text: String
    }

    public struct SpeechRequest: Sendable, Equatable {
        public var turn: String
        public var t: Double
        public var text: String
        public var streamed: Bool
        public var source: String?
        public var firstChunkMs: Double?
        public var doneMs: Double?
        public var cancelledMs: Double?
        public var error: String?
        /// Time to first byte: request to first chunk.
        public var ttfbMs: Double? { firstChunkMs.map { $0 - t } }
        /// Where its bar ends: done, cancelled, failed or (never answered) the request itself.
        public var endMs: Double { [doneMs, cancelledMs, firstChunkMs].compactMap { $0 }.max() ?? t }
    }

    public struct End: Sendable, Equatable {
        public var t: Double
        public var reason: String
        /// The server refused a message (a WebSocket close code) rather than the call ending.
        public var closeCode: Int?
    }

    public struct DivergenceMark: Sendable, Equatable {
        public var t: Double
        /// 1-based, as the replay's report counts.
        public var number: Int
        public var reason: String
        public var expected: String?
        public var expectedMs: Double?
        public var actual: String?
        public var actualMs: Double?
    }

    public var name: String
    public var flow: String
    public var dialect: String
    public var carrier: String
    public var verdict: Verdict
    /// The replay's report, as `voicebridge replay` prints it.
    public var report: String
    public var durationMs: Double
    public var caller: TimelineAudio
    public var bridge: TimelineAudio
    public var prompts: [Prompt] = []
    public var marks: [Mark] = []
    public var clears: [Double] = []
    public var keys: [Key] = []
    public var callerSpans: [Span] = []
    public var bargeIns: [BargeIn] = []
    public var flowSteps: [FlowStep] = []
    public var transcripts: [Transcript] = []
    public var relayMessages: [RelayMessage] = []
    public var requests: [SpeechRequest] = []
    public var ends: [End] = []
    public var divergence: DivergenceMark?
    /// Characters sent to the speech service, heard and wasted, as the call ended.
    public var cost: String?
}

extension CallTimeline {
    public init(_ result: ReplayResult) {
        let recording = result.recording
        name = result.path.map { ($0 as NSString).lastPathComponent } ?? "recording"
        flow = recording.header.flow
        dialect = recording.header.dialect
        carrier = recording.header.carrier == .recorded ? "recorded" : "simulated"
        verdict = !result.hasExpectations ? .noExpectations : result.passed ? .passed : .failed
        report = result.report
        caller = TimelineAudio()
        bridge = TimelineAudio()
        durationMs = 0

        let format = readCaller(recording)
        let frames = placeBridge(result.actual, format: format)
        readInformation(result.information)
        if let recorded = recording.lines.last(where: { $0.role == .information && $0.text.contains(#""cost":"#) }) {
            cost = Self.cost(recorded.text)
        }
        readSpeech(recording)
        readRelay(recording.inputs, actual: result.actual)
        alignWords(recording: recording, frames: frames, actual: result.actual)
        transcripts = recording.transcripts.map(Self.transcript)
        if let d = result.divergence {
            divergence = DivergenceMark(
                t: d.expected?.t ?? d.actual?.t ?? 0, number: d.index + 1,
                reason: d.inRelayStream ? "in the messages to the relay app: \(d.reason)" : d.reason,
                expected: d.expected?.summary, expectedMs: d.expected?.t, actual: d.actual?.summary, actualMs: d.actual?.t)
        }

        // A hand-written file replays 10 s past its last line; a call that ended sooner ends its timeline.
        let lastEvent = [result.actual.last?.t, recording.lastTime, ends.last?.t].compactMap { $0 }.max() ?? 0
        let callEnd = recording.header.carrier == .simulated && !ends.isEmpty ? lastEvent + 200 : result.virtualMs
        durationMs = max(callEnd, lastEvent, 1).rounded(.up)
        let count = Int(durationMs) * TimelineAudio.samplesPerMs
        caller.resize(to: count)
        bridge.resize(to: count)
    }

    // MARK: - Caller

    /// Lays the caller's audio on the timeline and notes the keys; returns the stream's format
    /// (the bridge sends in it too).
    private mutating func readCaller(_ recording: RecordedCall) -> MediaFormat {
        switch recording.header.carrier {
        case .simulated:
            readSimulatedCaller(recording.inputs)
            return .mulaw8kMono
        case .recorded:
            guard let dialect = CarrierDialects.named(recording.header.dialect) else { return .mulaw8kMono }
            func read<D: CarrierDialect>(_: D.Type) -> MediaFormat {
                var decoder = D.makeDecoder(maxMessageBytes: TwilioMediaStreamDecoder.defaultMaxMessageBytes)
                return readRecordedCaller(recording.inputs) { try decoder.decode($0) }
            }
            return read(dialect)
        }
    }

    /// A hand-written caller: silence, with speech, noise and in-band keys where the file puts
    /// them (the same signals the replay's simulated carrier plays).
    private mutating func readSimulatedCaller(_ inputs: [RecordedCall.TimedInput]) {
        func mix(_ ulaw: [UInt8], at t: Double) {
            caller.write(G711.decode(ulaw, law: .ulaw), atSample: Int((t * Double(TimelineAudio.samplesPerMs)).rounded()))
        }
        for input in inputs {
            switch input.input {
            case let .dtmf(digit, inBand):
                keys.append(Key(digit: String(digit), t: input.t, inBand: inBand))
                if inBand { mix(CallerSignal.dtmf(digit), at: input.t) }
            case let .speech(ms, level):
                callerSpans.append(Span(kind: "speech", startMs: input.t, endMs: input.t + Double(ms)))
                mix(CallerSignal.speech(ms: ms, levelDBm0: level), at: input.t)
            case let .noise(ms, level):
                callerSpans.append(Span(kind: "noise", startMs: input.t, endMs: input.t + Double(ms)))
                mix(CallerSignal.noise(ms: ms, levelDBm0: level), at: input.t)
            default:
                continue
            }
        }
    }

    /// A recorded caller: each media message carries the audio of the frame before it arrived.
    /// Arrival jitters by a few ms, so frames run on back to back unless one lands more than a
    /// frame away from where the clock says, which keeps the audio free of clicks.
    private mutating func readRecordedCaller(
        _ inputs: [RecordedCall.TimedInput], decode: (CarrierFrame) throws -> CarrierEvent?
    ) -> MediaFormat {
        var format = MediaFormat.mulaw8kMono
        var cursor: Int?
        messages: for input in inputs {
            let frame: CarrierFrame
            switch input.input {
            case let .message(text): frame = .text(ByteBuffer(string: text))
            case let .binary(bytes): frame = .binary(ByteBuffer(bytes: bytes))
            default: continue
            }
            let decoded: CarrierEvent?
            do {
                decoded = try decode(frame)
            } catch {
                // The server closes the socket on a message it cannot read; nothing after it counts.
                break messages
            }
            switch decoded {
            case let .start(start):
                format = start.mediaFormat
            case let .media(media):
                let pcm = Self.linear8k(Array(media.payload.readableBytesView), format: format)
                let ideal = Int(((input.t * Double(TimelineAudio.samplesPerMs)).rounded())) - pcm.count
                let frameSamples = 20 * TimelineAudio.samplesPerMs
                let at = cursor.map { abs(ideal - $0) <= frameSamples ? $0 : ideal } ?? ideal
                caller.write(pcm, atSample: max(0, at))
                cursor = max(0, at) + pcm.count
            case let .dtmf(press):
                keys.append(Key(digit: String(press.digit), t: input.t, inBand: false))
            default:
                continue
            }
        }
        return format
    }

    /// The relay app's side of the call: what it sent (recorded inputs) and what the replayed
    /// bridge sent it, in time order.
    private mutating func readRelay(_ inputs: [RecordedCall.TimedInput], actual: [OutboundEvent]) {
        for input in inputs {
            switch input.input {
            case let .relayApp(text):
                relayMessages.append(RelayMessage(t: input.t, toApp: false, type: Self.relayType(text), text: text))
            case let .relayClosed(code, reason):
                relayMessages.append(RelayMessage(t: input.t, toApp: false, type: "closed \(code)", text: reason))
            default:
                continue
            }
        }
        for event in actual {
            guard case let .relay(text) = event.kind else { continue }
            relayMessages.append(RelayMessage(t: event.t, toApp: true, type: Self.relayType(text), text: text))
        }
        relayMessages.sort { $0.t < $1.t }
    }

    /// The tokens of the relay app's talk cycle that began at `t`: its `text` messages from then
    /// up to the one with `last: true`.
    func relayCycleText(from t: Double) -> String? {
        var text = ""
        for message in relayMessages where !message.toApp && message.type == "text" && message.t >= t {
            guard let data = message.text.data(using: .utf8),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
            else { continue }
            text += object["token"] as? String ?? ""
            if object["last"] as? Bool == true { break }
        }
        return text.isEmpty ? nil : text
    }

    /// `"type":"…"` of a relay message (the protocol puts it in every message).
    static func relayType(_ text: String) -> String {
        guard let start = text.range(of: #""type":""#) else { return "message" }
        return String(text[start.upperBound...].prefix { $0 != "\"" })
    }

    /// Linear samples at 8 kHz: wideband audio is averaged in pairs, which is enough to see and
    /// hear it.
    static func linear8k(_ bytes: [UInt8], format: MediaFormat) -> [Int16] {
        let pcm = format.decode(bytes)
        guard format.sampleRate == 16000 else { return pcm }
        var out: [Int16] = []
        out.reserveCapacity(pcm.count / 2)
        var i = 0
        while i + 1 < pcm.count {
            out.append(Int16((Int(pcm[i]) + Int(pcm[i + 1])) / 2))
            i += 2
        }
        return out
    }

    // MARK: - Bridge

    /// Where each frame the bridge sent played at the carrier: in order at real time, so a frame
    /// sent ahead (the lead) waits its turn, and a clear drops what had not played.
    struct PlacedFrame {
        var index: Int
        var sentMs: Double
        var playMs: Double
        var durationMs: Double
    }

    private mutating func placeBridge(_ actual: [OutboundEvent], format: MediaFormat) -> [PlacedFrame] {
        var cursor = 0.0
        var placed: [PlacedFrame] = []
        var pending: [(name: String, sentMs: Double, dueMs: Double)] = []
        func settle(before t: Double) {
            for mark in pending where mark.dueMs <= t {
                marks.append(Mark(name: mark.name, sentMs: mark.sentMs, echo: .played(mark.dueMs)))
            }
            pending.removeAll { $0.dueMs <= t }
        }
        for (index, event) in actual.enumerated() {
            switch event.kind {
            case let .media(bytes):
                let pcm = Self.linear8k(bytes, format: format)
                let start = max(event.t, cursor)
                bridge.write(pcm, atSample: Int((start * Double(TimelineAudio.samplesPerMs)).rounded()))
                cursor = start + Double(pcm.count) / Double(TimelineAudio.samplesPerMs)
                placed.append(PlacedFrame(index: index, sentMs: event.t, playMs: start, durationMs: cursor - start))
            case let .mark(name):
                pending.append((name, event.t, max(event.t, cursor)))
            case .clear:
                settle(before: event.t)
                for mark in pending { marks.append(Mark(name: mark.name, sentMs: mark.sentMs, echo: .cleared(event.t))) }
                pending.removeAll()
                clears.append(event.t)
                bridge.silence(from: Int((event.t * Double(TimelineAudio.samplesPerMs)).rounded()))
                cursor = min(cursor, event.t)
            case let .end(reason):
                ends.append(End(t: event.t, reason: reason, closeCode: nil))
            case let .close(code, reason):
                ends.append(End(t: event.t, reason: reason, closeCode: code))
            case .relay:
                continue  // the relay app's lane (`readRelay`), not the carrier's playout
            }
        }
        // The socket closed: marks still waiting for their audio never come back.
        let closedAt = ends.first?.t ?? .infinity
        settle(before: closedAt)
        for mark in pending { marks.append(Mark(name: mark.name, sentMs: mark.sentMs, echo: .none)) }
        marks.sort { $0.sentMs < $1.sentMs }
        if let closedAt = ends.first?.t {
            bridge.silence(from: Int((closedAt * Double(TimelineAudio.samplesPerMs)).rounded()))
        }
        return placed
    }

    // MARK: - The replay's record: flow decisions, prompt events, barge-in verdicts

    private mutating func readInformation(_ lines: [String]) {
        var pending: [Prompt] = []
        for line in lines {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let t = Self.number(object["t"])
            else { continue }
            if let verdict = object["bargeIn"] as? String {
                bargeIns.append(BargeIn(
                    t: t, accepted: verdict == "accepted", reason: object["reason"] as? String ?? verdict,
                    latencyMs: Self.number(object["latencyMs"])))
                // An accepted barge-in drops the call's queue: what was waiting will never start.
                if verdict == "accepted" { pending.removeAll() }
            } else if object["cost"] != nil {
                continue  // the replay's voice bills nothing: the recording's own cost line is shown
            } else if let step = object["flow"] as? String {
                readFlow(step, object, t: t, pending: &pending)
            }
        }
        let end = ends.first?.t
        for i in prompts.indices where prompts[i].outcome == .unfinished {
            prompts[i].endMs = max(prompts[i].startMs, end ?? prompts[i].startMs)
        }
    }

    /// `pending`: prompts the flow decided to play that have not started yet.
    private mutating func readFlow(_ step: String, _ object: [String: Any], t: Double, pending: inout [Prompt]) {
        let id = object["id"] as? String
        guard step == "event", let event = object["event"] as? String else {
            if step == "stopSpeaking" { pending.removeAll() }
            if step == "play" || step == "stream" {
                // Not on the timeline until its first frame goes out (`promptStarted`).
                pending.append(Prompt(
                    id: id ?? "", text: object["text"] as? String ?? "", interruptible: object["interruptible"] as? String,
                    streamed: step == "stream", decidedMs: t, startMs: t, endMs: t, outcome: .unfinished, heard: nil, turn: nil, words: []))
            }
            flowSteps.append(FlowStep(t: t, step: step, detail: Self.detail(object, skipping: ["t", "flow", "audio"])))
            return
        }
        switch event {
        case "promptStarted":
            if let i = pending.firstIndex(where: { $0.id == id }) {
                var prompt = pending.remove(at: i)
                prompt.startMs = t
                prompt.endMs = t
                prompts.append(prompt)
            }
            return
        case "promptFinished", "promptInterrupted", "promptFailed":
            guard let i = prompts.firstIndex(where: { $0.id == id && $0.outcome == .unfinished }) else { break }
            prompts[i].endMs = t
            prompts[i].outcome = event == "promptFinished" ? .finished : event == "promptInterrupted" ? .interrupted : .failed
            prompts[i].heard = object["heard"] as? String
            if event != "promptFailed" { return }
        case "callerSpeechStopped":
            if let ms = Self.number(object["durationMs"]) {
                callerSpans.append(Span(kind: "speech-detected", startMs: max(0, t - ms), endMs: t))
            }
        default:
            break
        }
        flowSteps.append(FlowStep(t: t, step: "event:" + event, detail: Self.detail(object, skipping: ["t", "flow", "event"])))
    }

    /// "speech characters: 397 sent, 197 heard, 200 wasted", from a `cost` line.
    static func cost(_ line: String) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let cost = object["cost"] as? [String: Any]
        else { return nil }
        let parts = ["sent", "heard", "wasted"].map { "\(number(cost[$0]).map { Int($0) } ?? 0) \($0)" }
        return "speech characters: " + parts.joined(separator: ", ")
    }

    /// `key=value` pairs of a line's other fields, in a stable order.
    private static func detail(_ object: [String: Any], skipping: Set<String>) -> String {
        object.keys.filter { !skipping.contains($0) }.sorted().map { key -> String in
            let value = object[key]
            if let s = value as? String { return "\(key)=\(s)" }
            if let value, isBoolean(value), let b = value as? Bool { return "\(key)=\(b)" }
            if let n = number(value) { return "\(key)=\(JSONLine.format(n))" }
            return "\(key)=…"
        }.joined(separator: " ")
    }

    private static func number(_ value: Any?) -> Double? {
        guard let value, !isBoolean(value) else { return nil }
        return (value as? NSNumber)?.doubleValue
    }

    /// JSON's true and false. `is Bool` will not do: Foundation bridges every 0 and 1 to Bool,
    /// while the booleans it parses have a type of their own (`__NSCFBoolean`).
    private static func isBoolean(_ value: Any) -> Bool {
        type(of: value) == Bool.self || String(describing: type(of: value)).contains("Boolean")
    }

    // MARK: - Speech: requests upstream, and the words of each prompt

    private mutating func readSpeech(_ recording: RecordedCall) {
        var cancels: [String: Double] = [:]
        var sources: [String: String] = [:]
        for line in recording.lines where line.role == .speech && line.text.contains(#""tts""#) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.text.utf8)) as? [String: Any],
                let turn = object["turn"] as? String
            else { continue }
            if object["tts"] as? String == "cancel", cancels[turn] == nil { cancels[turn] = line.t }
            if let source = object["source"] as? String { sources[turn] = source }
        }
        for turn in recording.turns {
            var request = SpeechRequest(
                turn: turn.turn, t: turn.t, text: turn.text, streamed: turn.streamed, source: sources[turn.turn],
                cancelledMs: cancels[turn.turn])
            for event in turn.events {
                switch event.kind {
                case .chunk:
                    if request.firstChunkMs == nil { request.firstChunkMs = turn.t + event.offsetMs }
                case .done:
                    request.doneMs = turn.t + event.offsetMs
                case let .error(message):
                    request.error = message
                    request.doneMs = turn.t + event.offsetMs
                }
            }
            requests.append(request)
        }
    }

    /// Puts each prompt's words where the caller heard them: the alignment of its speech turn's
    /// chunks (or the stand-in voice's, for a hand-written file) from where its first frame played.
    private mutating func alignWords(recording: RecordedCall, frames: [PlacedFrame], actual: [OutboundEvent]) {
        var used = Set<String>()
        for i in prompts.indices {
            let prompt = prompts[i]
            var chunks: [(alignment: Alignment?, ms: Double)] = []
            if let turn = recording.turns.first(where: {
                !used.contains($0.turn) && $0.streamed == prompt.streamed && (prompt.streamed || $0.text == prompt.text)
            }) {
                used.insert(turn.turn)
                prompts[i].turn = turn.turn
                if prompt.streamed { prompts[i].text = turn.text }
                for event in turn.events {
                    if case let .chunk(audio, alignment, format) = event.kind {
                        chunks.append((alignment, Double(format.nanoseconds(ofBytes: audio.count)) / 1_000_000))
                    }
                }
            } else if prompt.streamed, prompt.text.isEmpty, let text = relayCycleText(from: prompt.decidedMs) {
                // A relay talk cycle with no recorded speech: its words are the app's tokens.
                prompts[i].text = text
            } else if recording.header.carrier == .simulated, !prompt.streamed, !prompt.text.isEmpty {
                chunks = StandInVoice.chunks(for: prompt.text, turnID: prompt.id).map { ($0.alignment, $0.durationMs) }
            }
            guard !chunks.isEmpty else { continue }
            let first = Self.firstFrame(of: prompts[i], frames: frames, actual: actual)
            var letters: [(text: String, startMs: Double, endMs: Double)] = []
            var offset = 0.0
            for chunk in chunks {
                if let a = chunk.alignment {
                    for k in a.chars.indices {
                        let start = Self.playTime(ofAudioMs: offset + Double(a.charStartTimesMs[k]), from: first, frames: frames, fallback: prompt.startMs)
                        letters.append((a.chars[k], start, start + Double(a.charDurationsMs[k])))
                    }
                }
                offset += chunk.ms
            }
            prompts[i].words = Self.words(letters).filter { $0.startMs < prompts[i].endMs }.map {
                Word(text: $0.text, startMs: $0.startMs, endMs: min($0.endMs, prompts[i].endMs))
            }
        }
    }

    /// When the caller heard the audio `ms` into a prompt: a streamed answer can run dry and
    /// resume, so its audio is found frame by frame rather than from where it started.
    static func playTime(ofAudioMs ms: Double, from first: Int?, frames: [PlacedFrame], fallback: Double) -> Double {
        guard let first else { return fallback + ms }
        var index = first
        var remaining = ms
        while index + 1 < frames.count, remaining >= frames[index].durationMs, frames[index].durationMs > 0 {
            remaining -= frames[index].durationMs
            index += 1
        }
        return frames[index].playMs + remaining
    }

    /// The prompt's first frame, as an index into `frames`. The frames of one tick go out
    /// together, so a prompt that follows another in the same tick starts after the other's
    /// closing mark.
    static func firstFrame(of prompt: Prompt, frames: [PlacedFrame], actual: [OutboundEvent]) -> Int? {
        guard let first = frames.firstIndex(where: { $0.sentMs >= prompt.startMs - 0.5 }) else { return nil }
        let tick = frames[first].sentMs
        var start = first
        var index = frames[first].index
        while index < actual.count, abs(actual[index].t - tick) < 0.5 {
            if case let .mark(name) = actual[index].kind, name.split(separator: ".").first.map(String.init) != prompt.turn,
                let next = frames.firstIndex(where: { $0.index > index })
            {
                start = next
            }
            index += 1
        }
        return start
    }

    /// Letters to words: whitespace separates them.
    static func words(_ letters: [(text: String, startMs: Double, endMs: Double)]) -> [Word] {
        var out: [Word] = []
        var current: Word?
        for letter in letters {
            if letter.text.allSatisfy(\.isWhitespace) {
                if let word = current { out.append(word) }
                current = nil
            } else if current == nil {
                current = Word(text: letter.text, startMs: letter.startMs, endMs: letter.endMs)
            } else {
                current!.text += letter.text
                current!.endMs = max(current!.endMs, letter.endMs)
            }
        }
        if let word = current { out.append(word) }
        return out
    }

    private static func transcript(_ recorded: RecordedTranscript) -> Transcript {
        let t = recorded.t
        switch recorded.event {
        case let .started(id): return Transcript(t: t, kind: "started", text: id)
        case let .partial(text): return Transcript(t: t, kind: "partial", text: text)
        case let .committed(commit): return Transcript(t: t, kind: "committed", text: commit.text)
        case .commitIgnored: return Transcript(t: t, kind: "ignored", text: "")
        case let .trouble(error): return Transcript(t: t, kind: "trouble", text: "\(error.kind.rawValue): \(error.message)")
        case let .failed(error): return Transcript(t: t, kind: "failed", text: "\(error.kind.rawValue): \(error.message)")
        }
    }
}
