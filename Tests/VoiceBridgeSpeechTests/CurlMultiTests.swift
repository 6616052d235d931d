import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing
import VoiceBridgeSpeech

/// The libcurl engine against a real loopback HTTP/1.1 server: no doubles.
@Suite(.timeLimit(.minutes(1)))
struct CurlMultiTests {
    let engine = CurlMulti.shared

    @Test func bodyArrivesInPiecesWhileTheTransferRuns() async throws {
        let pieces = (0..<6).map { testBytes(300, seed: $0) }
        let server = try await TestSpeechServer.start { _, responder in
            await ElevenLabsReply.audio(responder, pieces, gap: .milliseconds(80))
        }
        defer { Task { await server.shutdown() } }

        var status: Int?
        var received: [(ContinuousClock.Instant, [UInt8])] = []
        for try await event in engine.start(HTTPRequest(url: server.baseURL + "/audio")).events {
            switch event {
            case .head(let head): status = head.status
            case .body(let bytes): received.append((.now, bytes))
            }
        }
        let ended = ContinuousClock.now
        #expect(status == 200)
        #expect(received.flatMap(\.1) == pieces.flatMap { $0 })
        #expect(received.count >= 4, "\(received.count) pieces: the body should not come in one lump")
        // Streaming, not buffering: the first bytes came long before the last.
        #expect(ended - received[0].0 > .milliseconds(250))
    }

    @Test func responseHeadersAreFoundWhateverTheirCase() async throws {
        let server = try await TestSpeechServer.start { _, responder in
            await responder.respond(status: 200, body: "ok", headers: [("Request-Id", "r-1"), ("X-Thing", "a"), ("x-thing", "b")])
        }
        defer { Task { await server.shutdown() } }

        let (head, body) = try await engine.perform(HTTPRequest(url: server.baseURL + "/h"))
        #expect(head.status == 200)
        #expect(body == Array("ok".utf8))
        #expect(head.headers["request-id"] == "r-1")
        #expect(head.headers["REQUEST-ID"] == "r-1")
        #expect(head.headers.values(for: "x-thing") == ["a", "b"])
    }

    @Test func postSendsTheBodyByteForByteWithoutExpectContinue() async throws {
        let server = try await TestSpeechServer.start { request, responder in
            await responder.respond(status: 201, body: "\(request.body.count)")
        }
        defer { Task { await server.shutdown() } }

        let body = testBytes(70_000)  // Large enough that curl would otherwise ask for 100-continue.
        let request = HTTPRequest(method: "POST", url: server.baseURL + "/upload", headers: ["Content-Type": "application/octet-stream"], body: body)
        let (head, _) = try await engine.perform(request)
        #expect(head.status == 201)
        let seen = try #require(server.requests.first)
        #expect(seen.method == "POST")
        #expect(seen.body == body)
        #expect(seen.header("expect") == nil)
        #expect(seen.header("content-type") == "application/octet-stream")
    }

    @Test func cancelMidwayClosesTheConnectionAndEndsTheStream() async throws {
        let server = try await TestSpeechServer.start { _, responder in
            await ElevenLabsReply.audio(responder, (0..<200).map { testBytes(160, seed: $0) }, gap: .milliseconds(20))
        }
        defer { Task { await server.shutdown() } }

        let transfer = engine.start(HTTPRequest(url: server.baseURL + "/long"))
        var pieces = 0
        let error = await #expect(throws: CancellationError.self) {
            for try await event in transfer.events {
                if case .body = event {
                    pieces += 1
                    if pieces == 2 {
                        transfer.cancel()
                        transfer.cancel()  // Idempotent.
                    }
                }
            }
        }
        #expect(error != nil)
        #expect(pieces >= 2 && pieces < 20, "\(pieces) pieces after the cancel")
        let connection = try #require(server.requests.first?.connection)
        #expect(await server.waitForClose(of: connection), "the server should see the connection close")
    }

    @Test func cancellingTheConsumingTaskAbortsTheTransfer() async throws {
        let server = try await TestSpeechServer.start { _, responder in
            await ElevenLabsReply.audio(responder, (0..<200).map { testBytes(160, seed: $0) }, gap: .milliseconds(20))
        }
        defer { Task { await server.shutdown() } }

        let transfer = engine.start(HTTPRequest(url: server.baseURL + "/long"))
        let firstPiece = AsyncStream.makeStream(of: Void.self)
        let consumer = Task {
            for try await event in transfer.events {
                if case .body = event { firstPiece.continuation.yield() }
            }
        }
        for await _ in firstPiece.stream { break }
        consumer.cancel()
        _ = await consumer.result
        let connection = try #require(server.requests.first?.connection)
        #expect(await server.waitForClose(of: connection))
    }

    @Test func manyConcurrentTransfersRunOnTheOneThread() async throws {
        let server = try await TestSpeechServer.start { request, responder in
            let seed = Int(request.query["n"] ?? "0") ?? 0
            await ElevenLabsReply.audio(responder, (0..<4).map { testBytes(200, seed: seed &* 4 &+ $0) }, gap: .milliseconds(40))
        }
        defer { Task { await server.shutdown() } }

        let count = 64
        let results = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            for n in 0..<count {
                group.addTask {
                    let (head, body) = try await engine.perform(HTTPRequest(url: server.baseURL + "/n?n=\(n)"))
                    #expect(head.status == 200)
                    return (n, body)
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        #expect(results.count == count)
        for n in 0..<count {
            #expect(results[n] == (0..<4).flatMap { testBytes(200, seed: n &* 4 &+ $0) }, "transfer \(n)")
        }
        // They overlapped rather than queueing one after another...
        #expect(server.peakConcurrentRequests >= 16, "peak \(server.peakConcurrentRequests)")
        // ...and one thread drove them all.
        #expect(threadNames().filter { $0 == "vb-curl" }.count == 1, "\(threadNames())")
    }

    private func threadNames() -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8) }
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    @Test func aStalledServerTimesOut() async throws {
        let server = try await TestSpeechServer.start { _, responder in
            try? await responder.head(status: 200)
            try? await responder.chunk([1, 2, 3])
            try? await Task.sleep(for: .seconds(10))  // Then silence.
        }
        defer { Task { await server.shutdown() } }

        let start = ContinuousClock.now
        let error = await #expect(throws: HTTPTransferError.self) {
            _ = try await engine.perform(HTTPRequest(url: server.baseURL + "/stall", stallTimeout: .seconds(1)))
        }
        #expect(error?.kind == .timedOut)
        #expect(ContinuousClock.now - start < .seconds(9))  // 1 s below the floor, after curl's ~5 s speed window.
    }

    @Test func aRefusedConnectionIsATransferError() async throws {
        let port = try await unusedLoopbackPort()
        let error = await #expect(throws: HTTPTransferError.self) {
            _ = try await engine.perform(HTTPRequest(url: "http://127.0.0.1:\(port)/x", connectTimeout: .seconds(2)))
        }
        #expect(error?.kind == .couldNotConnect)
    }

    @Test func unsafeRequestsAreRefusedBeforeAnythingIsSent() async throws {
        let smuggled = await #expect(throws: HTTPTransferError.self) {
            _ = try await engine.perform(HTTPRequest(url: "http://127.0.0.1:9/x", headers: ["X-Evil": "a\r\nxi-api-key: stolen"]))
        }
        #expect(smuggled?.kind == .invalidRequest)
        let scheme = await #expect(throws: HTTPTransferError.self) {
            _ = try await engine.perform(HTTPRequest(url: "file:///etc/passwd"))
        }
        #expect(scheme?.kind == .invalidRequest)
    }

    @Test func requestDescriptionsNeverShowHeaderValues() {
        let request = HTTPRequest(method: "POST", url: "https://api.example/x", headers: ["xi-api-key": "sk_secret_123"])
        #expect(!"\(request)".contains("sk_secret_123"))
        #expect(!String(reflecting: request).contains("sk_secret_123"))
        var dumped = ""
        dump(request, to: &dumped)
        #expect(!dumped.contains("sk_secret_123"))
        #expect("\(request)".contains("xi-api-key"))
    }
}

/// A loopback port nothing listens on: bound, then released.
func unusedLoopbackPort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress?.port ?? 1
    try await channel.close()
    return port
}
