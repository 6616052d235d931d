import CCurl
import Foundation
import Synchronization

/// The process's HTTP engine: one thread that runs libcurl's multi interface and owns every easy
/// handle.
///
/// libcurl blocks per easy handle, so it must never run on an event loop or in a Swift task. One
/// thread polls all transfers together with `curl_multi_poll`, which also keeps curl's connection
/// cache (TCP, TLS sessions) shared by every request: the second request to a host skips the
/// handshake, which is most of the latency of a short prompt.
///
/// Any thread may start or cancel a transfer. The request goes into a locked inbox and
/// `curl_multi_wakeup` interrupts the poll; only the curl thread ever touches a handle. Body bytes
/// are handed to the caller's stream as curl reads them, so audio flows on while the transfer
/// is still running.
public final class CurlMulti: Sendable {
    /// The one engine. A process never needs two: the thread is cheap when idle, and one thread
    /// means one connection cache.
    public static let shared = CurlMulti()

    /// `curl_global_init` must run once, before any other curl call and not concurrently with one.
    /// A static `let` is initialised exactly once (swift_once), on the first use of the engine.
    private static let globalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

    /// Calls `curl_global_init` now if nothing has yet. The executable may call it at start-up,
    /// while it is still single-threaded; everything else gets it implicitly.
    public static func initializeGlobally() {
        precondition(globalInit == CURLE_OK, "curl_global_init failed: \(String(cString: curl_easy_strerror(globalInit)))")
    }

    private let multi: MultiHandle
    private let inbox = Mutex(Inbox())
    private let nextID = Atomic<Int>(1)

    private init() {
        Self.initializeGlobally()
        guard let handle = curl_multi_init() else { preconditionFailure("curl_multi_init failed") }
        multi = MultiHandle(pointer: handle)
        NamedThread.start("vb-curl") { [self] in
            CurlLoop(multi: multi.pointer).run { inbox.withLock { $0.take() } }
        }
    }

    /// Starts a transfer and returns at once. Its events arrive on `transfer.events`; iterate them
    /// from one task. Dropping the stream, or cancelling the task iterating it, cancels the transfer.
    public func start(_ request: HTTPRequest) -> HTTPTransfer {
        let id = nextID.add(1, ordering: .relaxed).oldValue
        let (events, continuation) = AsyncThrowingStream.makeStream(of: HTTPTransferEvent.self, throwing: (any Error).self)
        continuation.onTermination = { [self] termination in
            if case .cancelled = termination { cancel(id) }
        }
        inbox.withLock { $0.starts.append(Submission(id: id, request: request, continuation: continuation)) }
        wake()
        return HTTPTransfer(id: id, events: events, engine: self)
    }

    /// Runs a transfer to its end and returns the whole body. For small replies (error bodies,
    /// JSON); streams of audio should use `start` so the bytes flow as they arrive.
    public func perform(_ request: HTTPRequest) async throws -> (head: HTTPResponseHead, body: [UInt8]) {
        var head: HTTPResponseHead?
        var body: [UInt8] = []
        for try await event in start(request).events {
            switch event {
            case .head(let h): head = h
            case .body(let bytes): body += bytes
            }
        }
        try Task.checkCancellation()  // A cancelled consumer sees the stream end early, not throw.
        guard let head else { throw HTTPTransferError(kind: .connectionLost, curlCode: 0, message: "no response") }
        return (head, body)
    }

    /// Aborts a transfer on the curl thread. Unknown or finished ids are ignored.
    func cancel(_ id: Int) {
        inbox.withLock { $0.cancels.append(id) }
        wake()
    }

    private func wake() {
        // Thread-safe by contract: the one multi call allowed from any thread.
        _ = curl_multi_wakeup(multi.pointer)
    }
}

/// A running transfer, as seen from the outside: its events and a way to stop it.
public final class HTTPTransfer: Sendable {
    public let id: Int
    /// The response head, then the body as it arrives. Finishes after the last byte; throws an
    /// `HTTPTransferError`, or `CancellationError` after `cancel()`. When the task iterating it
    /// is cancelled the iteration simply ends, so check `Task.isCancelled` afterwards.
    public let events: AsyncThrowingStream<HTTPTransferEvent, any Error>
    private let engine: CurlMulti

    init(id: Int, events: AsyncThrowingStream<HTTPTransferEvent, any Error>, engine: CurlMulti) {
        self.id = id
        self.events = events
        self.engine = engine
    }

    /// Stops the transfer midway: the handle is removed on the curl thread, which closes its
    /// connection (a half-read response can't be reused), and `events` throws `CancellationError`.
    /// Idempotent, and harmless after the end.
    public func cancel() {
        engine.cancel(id)
    }
}

/// The multi handle, shared by the curl thread and `curl_multi_wakeup` callers. curl documents
/// `curl_multi_wakeup` as callable from any thread; every other use stays on the curl thread.
struct MultiHandle: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
}

struct Submission: Sendable {
    let id: Int
    let request: HTTPRequest
    let continuation: AsyncThrowingStream<HTTPTransferEvent, any Error>.Continuation
}

/// Work handed to the curl thread.
struct Inbox: Sendable {
    var starts: [Submission] = []
    var cancels: [Int] = []

    mutating func take() -> (starts: [Submission], cancels: [Int]) {
        defer {
            starts.removeAll(keepingCapacity: true)
            cancels.removeAll(keepingCapacity: true)
        }
        return (starts, cancels)
    }
}

/// Everything that lives on the curl thread: the multi handle's transfers.
private final class CurlLoop {
    private let multi: UnsafeMutableRawPointer
    private var transfers: [UnsafeMutableRawPointer: CurlEasyTransfer] = [:]
    private var handles: [Int: UnsafeMutableRawPointer] = [:]

    init(multi: UnsafeMutableRawPointer) {
        self.multi = multi
    }

    func run(takeWork: () -> (starts: [Submission], cancels: [Int])) -> Never {
        while true {
            let work = takeWork()
            // A cancel can only follow its start, so both may be in the same batch: such a
            // transfer never starts at all.
            let cancelled = Set(work.cancels)
            for submission in work.starts {
                if cancelled.contains(submission.id) {
                    submission.continuation.finish(throwing: CancellationError())
                } else {
                    begin(submission)
                }
            }
            for id in work.cancels { abort(id) }

            var running: Int32 = 0
            _ = curl_multi_perform(multi, &running)
            collectFinished()
            // Sleeps until a socket is ready, one of curl's own timers is due, or a wakeup.
            _ = curl_multi_poll(multi, nil, 0, 1000, nil)
        }
    }

    private func begin(_ submission: Submission) {
        let transfer: CurlEasyTransfer
        do {
            transfer = try CurlEasyTransfer(id: submission.id, request: submission.request, continuation: submission.continuation)
        } catch {
            submission.continuation.finish(throwing: error)
            return
        }
        let added = curl_multi_add_handle(multi, transfer.handle)
        guard added == CURLM_OK else {
            let message = String(cString: curl_multi_strerror(added))
            submission.continuation.finish(throwing: HTTPTransferError(kind: .other, curlCode: Int(added.rawValue), message: message))
            return
        }
        transfers[transfer.handle] = transfer
        handles[submission.id] = transfer.handle
    }

    private func abort(_ id: Int) {
        guard let handle = handles[id], let transfer = remove(handle) else { return }
        transfer.cancelled()
    }

    private func collectFinished() {
        var queued: Int32 = 0
        while let message = curl_multi_info_read(multi, &queued) {
            guard message.pointee.msg == CURLMSG_DONE, let handle = message.pointee.easy_handle else { continue }
            let result = message.pointee.data.result  // Read before the removal invalidates it.
            remove(handle)?.complete(result)
        }
    }

    /// Takes a handle out of the multi. Its easy handle is cleaned up when the transfer object
    /// goes, after the caller has finished its stream.
    @discardableResult
    private func remove(_ handle: UnsafeMutableRawPointer) -> CurlEasyTransfer? {
        guard let transfer = transfers.removeValue(forKey: handle) else { return nil }
        handles[transfer.id] = nil
        _ = curl_multi_remove_handle(multi, handle)
        return transfer
    }
}
