import NIOCore
import NIOConcurrencyHelpers
import VoiceBridgeSpeech

/// Speech-to-text as a test double: records what the call asks and sends, and lets the test say
/// what the service "heard".
public final class FakeTranscription: TranscriberProvider, @unchecked Sendable {
    public private(set) var made: [FakeTranscriber] = []
    public init() {}

    public var current: FakeTranscriber? { made.last }

    public func makeTranscriber(
        _ request: ListenRequest, format: ScribeSettings.AudioFormat, on eventLoop: any EventLoop,
        onEvent: @escaping (RealtimeTranscriber.Event) -> Void
    ) -> any CallTranscriber {
        let transcriber = FakeTranscriber(request: request, format: format, onEvent: onEvent)
        made.append(transcriber)
        return transcriber
    }
}

public final class FakeTranscriber: CallTranscriber {
    public let request: ListenRequest
    public let format: ScribeSettings.AudioFormat
    private let onEvent: (RealtimeTranscriber.Event) -> Void
    public private(set) var started = false
    public private(set) var stopped = false
    public private(set) var audio: [UInt8] = []
    public private(set) var frames = 0
    /// How many bytes of audio had arrived at each commit.
    public private(set) var commits: [Int] = []

    init(request: ListenRequest, format: ScribeSettings.AudioFormat, onEvent: @escaping (RealtimeTranscriber.Event) -> Void) {
        self.request = request
        self.format = format
        self.onEvent = onEvent
    }

    public func start() { started = true }
    public func append(_ bytes: UnsafeRawBufferPointer) {
        audio += bytes
        frames += 1
    }
    public func commit() { commits.append(audio.count) }
    public func stop() { stopped = true }

    /// What the service says.
    public func emit(_ event: RealtimeTranscriber.Event) { onEvent(event) }
}
