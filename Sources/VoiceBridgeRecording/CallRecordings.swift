import Foundation
import VoiceBridgeRelay
import NIOCore
import VoiceBridgeCalls
import VoiceBridgeCarriers
import VoiceBridgeSpeech

/// The recordings of one server: one `CallRecorder` per call, all written to `directory` by one
/// writer thread. Files are named after the CallSid (`CA….jsonl`, `CA….caller.wav`,
/// `CA….bridge.wav`), with `-2`, `-3`, … if a CallSid comes back.
public final class CallRecordings: @unchecked Sendable {
    public let directory: String
    public let writer: RecordingWriter
    private let redactor: SecretRedactor
    private let lock = NSLock()
    private var used: Set<String> = []

    /// - Parameter secrets: this server's secrets (auth token, API keys, token secret), removed
    ///   from every recording wherever they appear.
    public init(directory: String, secrets: [String?], writer: RecordingWriter = RecordingWriter()) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.directory = directory
        self.writer = writer
        self.redactor = SecretRedactor(secrets: secrets)
    }

    /// A recorder for a new call (at the media socket's open).
    public func recorder(callSid: String) -> CallRecorder {
        let safe = String(callSid.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" }.prefix(64))
        let stem = safe.isEmpty ? "call" : safe
        lock.lock()
        var name = stem
        var n = 1
        while used.contains(name) || FileManager.default.fileExists(atPath: "\(directory)/\(name).jsonl") {
            n += 1
            name = "\(stem)-\(n)"
        }
        used.insert(name)
        lock.unlock()
        return CallRecorder(basePath: "\(directory)/\(name)", writer: writer, redactor: redactor)
    }
}

/// A call's collaborators, wrapped so that everything they do is recorded.
public struct RecordedCallParts {
    public var sink: any CarrierSink
    public var speech: any SpeechSource
    public var flow: any CallFlow
    public var observer: any CallObserver
    /// Speech-to-text, recorded; nil when the call has none.
    public var transcription: (any TranscriberProvider)?

    /// Wraps the parts and writes the recording's header.
    public init(
        recorder: CallRecorder, loop: any EventLoop, flowName: String, dialect: String = TwilioDialect.name,
        callSid: String, accountSid: String?, parameters: [String: String],
        configuration: CallConfiguration, sink: any CarrierSink, speech: any SpeechSource, flow: any CallFlow,
        observer: (any CallObserver)?, transcription: (any TranscriberProvider)? = nil, bridgeVersion: String? = nil,
        relaySession: RelayFlow? = nil
    ) {
        recorder.begin(RecordingHeader(
            flow: flowName, carrier: .recorded, dialect: dialect, callSid: callSid, accountSid: accountSid, parameters: parameters,
            configuration: configuration, bridgeVersion: bridgeVersion,
            recordedAt: ISO8601DateFormatter().string(from: Date()),
            // The session's settings, when the call's flow is one (perhaps inside a wrapper).
            relay: (relaySession ?? flow as? RelayFlow)?.recordedAttributes
        ))
        self.sink = RecordingCarrierSink(sink, recorder: recorder)
        self.speech = RecordingSpeechSource(speech, recorder: recorder, loop: loop)
        self.flow = RecordingCallFlow(flow, recorder: recorder)
        self.observer = RecordingCallObserver(observer, recorder: recorder)
        self.transcription = transcription.map { RecordingTranscription($0, recorder: recorder) }
    }
}
