import Foundation
import VoiceBridgeAudio
import VoiceBridgeCalls
import VoiceBridgeCarriers

/// The first line of a recording: what is needed to run the call again (the flow's name, the call
/// settings, the webhook parameters) and how the rest of the file is to be read.
/// See docs/recording-format.md.
public struct RecordingHeader: Sendable, Equatable {
    public static let format = "voicebridge-call"
    /// Bumped on any change a reader of an older file would misread.
    public static let currentVersion = 1

    /// Where the inbound side comes from.
    public enum Carrier: String, Sendable, Equatable {
        /// Every inbound message is in the file, as the carrier sent it (made by `serve --record`).
        case recorded
        /// The hand-written form: the replay plays the carrier from shorthand lines, with continuous
        /// caller audio and marks echoed when their audio has played.
        case simulated
    }

    public var version: Int
    public var flow: String
    public var carrier: Carrier
    /// The carrier's dialect (`twilio`, `telnyx`): how the inbound messages are read.
    public var dialect: String
    /// The CallSid the stream URL was issued for; `start.callSid` must match it. nil: any.
    public var callSid: String?
    /// When set, `start.accountSid` must equal it (the server's `twilio.account_sid`).
    public var accountSid: String?
    /// Webhook parameters the flow sees as variables (secrets redacted).
    public var parameters: [String: String]
    public var configuration: CallConfiguration
    /// How far an outbound event's time may be from the expected one. nil: one frame.
    public var toleranceMs: Double?
    /// Replay this long (ms from the start of the file's clock) at most. nil: see `ReplayEngine`.
    public var durationMs: Double?
    /// Informational: the bridge version that made the file, and when (wall clock, UTC).
    public var bridgeVersion: String?
    public var recordedAt: String?
    /// A relay session's settings as ConversationRelay attributes (`RelayConfiguration.attributes`)
    /// plus its `sessionId`, when the flow is `relay`: a replay sets up the same session.
    public var relay: [String: String]?

    public init(
        flow: String, carrier: Carrier, dialect: String = TwilioDialect.name, callSid: String? = nil, accountSid: String? = nil,
        parameters: [String: String] = [:], configuration: CallConfiguration = .init(),
        toleranceMs: Double? = nil, durationMs: Double? = nil, bridgeVersion: String? = nil, recordedAt: String? = nil,
        relay: [String: String]? = nil
    ) {
        self.version = Self.currentVersion
        self.flow = flow
        self.carrier = carrier
        self.dialect = dialect
        self.callSid = callSid
        self.accountSid = accountSid
        self.parameters = parameters
        self.configuration = configuration
        self.toleranceMs = toleranceMs
        self.durationMs = durationMs
        self.bridgeVersion = bridgeVersion
        self.recordedAt = recordedAt
        self.relay = relay
    }

    /// The tolerance in force: the header's, else one frame.
    public var effectiveToleranceMs: Double { toleranceMs ?? Double(configuration.frameMs) }

    /// The header as one JSON line.
    public var jsonLine: String {
        var line = JSONLine()
        line.string("recording", Self.format)
        line.int("version", version)
        line.string("flow", flow)
        line.string("carrier", carrier.rawValue)
        // Twilio's files predate the field and stay byte for byte as they were.
        if dialect != TwilioDialect.name { line.string("dialect", dialect) }
        line.optionalString("callSid", callSid)
        line.optionalString("accountSid", accountSid)
        if !parameters.isEmpty {
            var p = JSONLine()
            for key in parameters.keys.sorted() { p.string(key, parameters[key]!) }
            line.raw("parameters", p.json)
        }
        line.raw("config", Self.encode(configuration))
        if let relay {
            var r = JSONLine()
            for key in relay.keys.sorted() { r.string(key, relay[key]!) }
            line.raw("relay", r.json)
        }
        if let toleranceMs { line.number("toleranceMs", toleranceMs) }
        if let durationMs { line.number("durationMs", durationMs) }
        line.optionalString("bridge", bridgeVersion)
        line.optionalString("recordedAt", recordedAt)
        return line.json
    }

    static func encode(_ c: CallConfiguration) -> String {
        var line = JSONLine()
        line.int("frameMs", c.frameMs)
        line.int("leadMs", c.leadMs)
        var bargeIn = JSONLine()
        bargeIn.int("minSpeechMs", c.bargeIn.minSpeechMs)
        bargeIn.int("echoGuardMs", c.bargeIn.echoGuardMs)
        // Only when not the default, so recordings of energy barge-in keep their old header.
        if case let .words(minimum) = c.bargeIn.evidence { bargeIn.int("minWords", minimum) }
        if c.bargeIn.ignoreBackchannel { bargeIn.bool("ignoreBackchannel", true) }
        line.raw("bargeIn", bargeIn.json)
        var detector = JSONLine()
        detector.number("thresholdDBm0", c.speechDetector.thresholdDBm0)
        detector.int("minSpeechMs", c.speechDetector.minSpeechMs)
        detector.int("hangoverMs", c.speechDetector.hangoverMs)
        detector.int("maxGapMs", c.speechDetector.maxGapMs)
        line.raw("speechDetector", detector.json)
        line.int("hangUpGraceMs", c.hangUpGraceMs)
        line.int("setupBufferMs", c.setupBufferMs)
        line.optionalString("voice", c.voice)
        line.optionalString("model", c.model)
        line.optionalString("language", c.language)
        return line.json
    }

    /// Reads a header object. Every field but `recording` and `version` may be left out; the call
    /// settings missing from `config` keep `CallConfiguration`'s defaults.
    init(object: [String: Any]) throws(RecordingError) {
        let reader = FieldReader(object: object, line: 1, context: "header")
        guard try reader.string("recording") == Self.format else {
            throw RecordingError(line: 1, "the first line must be the header: {\"recording\":\"\(Self.format)\",\"version\":\(Self.currentVersion),...}")
        }
        guard let version = try reader.int("version") else { throw RecordingError(line: 1, "header: missing \"version\"") }
        guard version <= Self.currentVersion, version >= 1 else {
            throw RecordingError(line: 1, "header: version \(version) is not supported (this bridge reads 1...\(Self.currentVersion))")
        }
        self.version = version
        self.flow = try reader.string("flow") ?? "demo"
        let carrier = try reader.string("carrier") ?? Carrier.simulated.rawValue
        guard let parsed = Carrier(rawValue: carrier) else {
            throw RecordingError(line: 1, "header: carrier must be \"recorded\" or \"simulated\", got \"\(carrier)\"")
        }
        self.carrier = parsed
        let dialect = try reader.string("dialect") ?? TwilioDialect.name
        guard CarrierDialects.names.contains(dialect) else {
            let known = CarrierDialects.names.joined(separator: ", ")
            throw RecordingError(line: 1, "header: dialect must be one of \(known), got \"\(dialect)\"")
        }
        self.dialect = dialect
        self.callSid = try reader.string("callSid")
        self.accountSid = try reader.string("accountSid")
        self.parameters = try reader.stringMap("parameters") ?? [:]
        self.toleranceMs = try reader.double("toleranceMs", in: 0...60_000)
        self.durationMs = try reader.double("durationMs", in: 0...RecordedCall.longestMs)
        self.bridgeVersion = try reader.string("bridge")
        self.recordedAt = try reader.string("recordedAt")
        self.relay = try reader.stringMap("relay")
        var c = CallConfiguration()
        if let config = try reader.object("config") {
            let r = FieldReader(object: config, line: 1, context: "header config")
            if let v = try r.int("frameMs", in: 1...1_000) { c.frameMs = v }
            if let v = try r.int("leadMs", in: 0...60_000) { c.leadMs = v }
            if let b = try r.object("bargeIn") {
                let rb = FieldReader(object: b, line: 1, context: "header config.bargeIn")
                if let v = try rb.int("minSpeechMs", in: 0...60_000) { c.bargeIn.minSpeechMs = v }
                if let v = try rb.int("echoGuardMs", in: 0...60_000) { c.bargeIn.echoGuardMs = v }
                if let v = try rb.int("minWords", in: 1...1_000) { c.bargeIn.evidence = .words(minimum: v) }
                if let v = try rb.bool("ignoreBackchannel") { c.bargeIn.ignoreBackchannel = v }
            }
            if let d = try r.object("speechDetector") {
                let rd = FieldReader(object: d, line: 1, context: "header config.speechDetector")
                if let v = try rd.double("thresholdDBm0", in: -120...10) { c.speechDetector.thresholdDBm0 = v }
                if let v = try rd.int("minSpeechMs", in: 0...60_000) { c.speechDetector.minSpeechMs = v }
                if let v = try rd.int("hangoverMs", in: 0...60_000) { c.speechDetector.hangoverMs = v }
                if let v = try rd.int("maxGapMs", in: 0...60_000) { c.speechDetector.maxGapMs = v }
            }
            if let v = try r.int("hangUpGraceMs", in: 0...600_000) { c.hangUpGraceMs = v }
            if let v = try r.int("setupBufferMs", in: 0...600_000) { c.setupBufferMs = v }
            if let v = try r.string("voice") { c.voice = v }
            if let v = try r.string("model") { c.model = v }
            if let v = try r.string("language") { c.language = v }
            guard c.frameMs > 0, c.leadMs >= 0 else { throw RecordingError(line: 1, "header config: frameMs must be > 0 and leadMs >= 0") }
        }
        self.configuration = c
    }
}

/// A recording that cannot be read, with the line it is on (1 is the header).
public struct RecordingError: Error, CustomStringConvertible, Equatable {
    public var line: Int
    public var message: String

    public init(line: Int, _ message: String) {
        self.line = line
        self.message = message
    }

    /// Line 0: the file as a whole (it could not be read, or is not text).
    public var description: String { line > 0 ? "line \(line): \(message)" : message }
}

/// Typed access to one parsed JSON object, with errors that name the line and the field.
struct FieldReader {
    let object: [String: Any]
    let line: Int
    let context: String

    private func fail(_ key: String, _ expected: String) -> RecordingError {
        RecordingError(line: line, "\(context): \"\(key)\" must be \(expected)")
    }

    func has(_ key: String) -> Bool { object[key] != nil && !(object[key] is NSNull) }

    func string(_ key: String) throws(RecordingError) -> String? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let s = value as? String else { throw fail(key, "a string") }
        return s
    }

    func double(_ key: String) throws(RecordingError) -> Double? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let n = value as? NSNumber, !Self.isBool(n) else { throw fail(key, "a number") }
        let d = n.doubleValue
        // No number in a recording (times, durations, levels, codes) comes near a billion; a
        // larger one would overflow a conversion to samples or nanoseconds during the replay.
        guard d.isFinite, abs(d) <= Self.largest else { throw fail(key, "a number within ±1e9") }
        return d
    }

    static let largest = 1e9

    /// A number in `range`, or nil when absent.
    func double(_ key: String, in range: ClosedRange<Double>) throws(RecordingError) -> Double? {
        guard let d = try double(key) else { return nil }
        guard range.contains(d) else { throw fail(key, "within \(JSONLine.format(range.lowerBound))...\(JSONLine.format(range.upperBound))") }
        return d
    }

    /// A whole number in `range`, or nil when absent.
    func int(_ key: String, in range: ClosedRange<Int>) throws(RecordingError) -> Int? {
        guard let n = try int(key) else { return nil }
        guard range.contains(n) else { throw fail(key, "within \(range.lowerBound)...\(range.upperBound)") }
        return n
    }

    func int(_ key: String) throws(RecordingError) -> Int? {
        guard let d = try double(key) else { return nil }
        guard d == d.rounded(), abs(d) < 1e15 else { throw fail(key, "an integer") }
        return Int(d)
    }

    func bool(_ key: String) throws(RecordingError) -> Bool? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        if let b = value as? Bool { return b }
        throw fail(key, "true or false")
    }

    func object(_ key: String) throws(RecordingError) -> [String: Any]? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let o = value as? [String: Any] else { throw fail(key, "an object") }
        return o
    }

    func stringMap(_ key: String) throws(RecordingError) -> [String: String]? {
        guard let o = try object(key) else { return nil }
        var out: [String: String] = [:]
        for (k, v) in o {
            guard let s = v as? String else { throw fail("\(key).\(k)", "a string") }
            out[k] = s
        }
        return out
    }

    func strings(_ key: String) throws(RecordingError) -> [String]? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let a = value as? [Any], let s = a as? [String] else { throw fail(key, "an array of strings") }
        return s
    }

    func ints(_ key: String) throws(RecordingError) -> [Int]? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let a = value as? [Any] else { throw fail(key, "an array of integers") }
        var out: [Int] = []
        for item in a {
            guard let n = item as? NSNumber, !Self.isBool(n), n.doubleValue == n.doubleValue.rounded(), abs(n.doubleValue) <= Self.largest else {
                throw fail(key, "an array of integers")
            }
            out.append(n.intValue)
        }
        return out
    }

    /// JSONSerialization hands booleans over as numbers on some platforms; a `true` where a
    /// number belongs is read as 1 rather than refused.
    static func isBool(_ n: NSNumber) -> Bool { false }
}
