import NIOCore
import NIOEmbedded
import Synchronization
import VoiceBridgeCalls
import VoiceBridgeSpeech

/// Test doubles at the call's two transport boundaries, shared by the test targets that drive a
/// `Call` on an `EmbeddedEventLoop`.

/// The carrier socket as a recording: every command with the virtual time it went out.
public final class RecordingSink: CarrierSink {
    public enum Sent: Equatable {
        case media([UInt8], at: Int64)
        case mark(String, at: Int64)
        case clear(at: Int64)
    }
    public let loop: EmbeddedEventLoop
    public var sent: [Sent] = []
    public var closed: [CallEndReason] = []
    public var flushes = 0
    public var isWritable = true
    /// False plays a carrier that drops pending marks on a clear without echoing them (Plivo).
    public var echoesMarksOnClear = true

    public init(loop: EmbeddedEventLoop) { self.loop = loop }

    public var now: Int64 { Int64(loop.now.uptimeNanoseconds) }
    public func sendMedia(_ frame: UnsafeRawBufferPointer) { sent.append(.media(Array(frame), at: now)) }
    public func sendMark(_ name: String) { sent.append(.mark(name, at: now)) }
    public func sendClear() { sent.append(.clear(at: now)) }
    public func flush() { flushes += 1 }
    public func close(_ reason: CallEndReason) { closed.append(reason) }
    public private(set) var transfers: [CallTransfer] = []
    public func transfer(to destination: CallTransfer) { transfers.append(destination) }

    public var mediaTimes: [Int64] { sent.compactMap { if case let .media(_, t) = $0 { t } else { nil } } }
    public var mediaFrames: [[UInt8]] { sent.compactMap { if case let .media(b, _) = $0 { b } else { nil } } }
    public var mediaBytes: [UInt8] { mediaFrames.flatMap { $0 } }
    public var marks: [String] { sent.compactMap { if case let .mark(n, _) = $0 { n } else { nil } } }
    /// When each `clear` went out.
    public var clears: [Int64] { sent.compactMap { if case let .clear(t) = $0 { t } else { nil } } }
}

/// A speech source whose audio the test hands to the call itself, at chosen virtual times.
/// It sits at the transport boundary: the call sees an ordinary `SpeechSource`.
public final class ManualSpeechSource: SpeechSource, @unchecked Sendable {
    public let name = "manual"
    public let turns = Mutex<[ManualTurn]>([])
    public init() {}
    public func startTurn(_ options: TurnOptions) -> any SpeechTurn {
        let t = ManualTurn(id: options.id)
        turns.withLock { $0.append(t) }
        return t
    }
    public func turn(_ id: String) -> ManualTurn? { turns.withLock { $0.first { $0.id == id } } }
}

public final class ManualTurn: SpeechTurn, @unchecked Sendable {
    public let id: String
    public let chunks: AsyncThrowingStream<SpeechChunk, any Error>
    private let continuation: AsyncThrowingStream<SpeechChunk, any Error>.Continuation
    private let state = Mutex<(text: String, finished: Bool, cancelled: Bool)>(("", false, false))
    public init(id: String) {
        self.id = id
        (chunks, continuation) = AsyncThrowingStream.makeStream()
    }
    public func send(text: String) { state.withLock { $0.text += text } }
    public func finish() { state.withLock { $0.finished = true } }
    /// Marks the turn cancelled. The stream is left open: ending it would make the call's
    /// consumer hop onto the embedded loop from another thread. Audio reaches the call directly.
    public func cancel() { state.withLock { $0.cancelled = true } }
    public var text: String { state.withLock { $0.text } }
    public var finished: Bool { state.withLock { $0.finished } }
    public var cancelled: Bool { state.withLock { $0.cancelled } }
}
