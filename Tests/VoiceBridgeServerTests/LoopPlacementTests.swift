import Foundation
import NIOCore
import NIOPosix
import NIOWebSocket
import Testing
@testable import VoiceBridgeServer

/// Calls spread over every event loop, whatever order their connections come in.
@Suite struct LoopPlacementTests {
    /// The pattern that defeated NIO's round-robin: each call opens a short webhook connection,
    /// then its media socket. By load, media sockets alternate between loops.
    @Test func webhookThenMediaAlternatesLoops() {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let placement = LoopPlacement(group: group)
        for _ in 0..<100 {
            let webhook = placement.placeConnection()
            let media = placement.placeConnection()
            placement.callStarted(onLoop: media)
            placement.connectionClosed(onLoop: webhook)
        }
        #expect(placement.callsPerLoop == [50, 50])
        #expect(placement.connectionsPerLoop == [50, 50])
    }

    @Test func endedCallsFreeTheirLoop() {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 3)
        defer { try? group.syncShutdownGracefully() }
        let placement = LoopPlacement(group: group)
        let first = (0..<3).map { _ in placement.placeConnection() }
        #expect(Set(first) == [0, 1, 2])
        placement.connectionClosed(onLoop: 1)
        #expect(placement.placeConnection() == 1, "the emptied loop takes the next connection")
        #expect(placement.index(of: group.next()) != nil)
        let other = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? other.syncShutdownGracefully() }
        #expect(placement.index(of: other.next()) == nil)
    }

    @Test func quotaParsing() {
        #expect(CPUBudget.quota(cpuMax: "max 100000") == nil)
        #expect(CPUBudget.quota(cpuMax: "200000 100000") == 2)
        #expect(CPUBudget.quota(cpuMax: "150000 100000") == 2, "a part-CPU quota rounds up")
        #expect(CPUBudget.quota(microseconds: -1, period: 100000) == nil, "cgroup v1's unlimited")
        #expect(CPUBudget.count(cpuList: "0-3,8,10-11") == 7)
        #expect(CPUBudget.count(cpuList: "5") == 1)
        #expect(CPUBudget.count(cpuList: "x") == nil)
        #expect(CPUBudget.available >= 1)
        #expect(CPUBudget.available <= System.coreCount)
        if let affinity = CPUBudget.affinityCount() { #expect(CPUBudget.available <= affinity) }
    }

    @Test func eventLoopsComeFromConfigAndEnvironment() throws {
        var configuration = BridgeConfiguration()
        #expect(configuration.eventLoops == nil)
        try configuration.apply(environment: ["VOICEBRIDGE_EVENT_LOOPS": "3"])
        #expect(configuration.eventLoops == 3)
        try configuration.apply(environment: ["VOICEBRIDGE_EVENT_LOOPS": "0"])
        #expect(configuration.eventLoops == nil, "0 means one per usable CPU")
        #expect(throws: ConfigurationError.self) { try configuration.apply(environment: ["VOICEBRIDGE_EVENT_LOOPS": "-1"]) }
    }

    /// Acceptance: N media connections, each after its own webhook, end up on all loops with
    /// none above the mean + 10 %; `/metrics` shows calls per loop.
    @Test(arguments: [2, 3, 4])
    func liveCallsSpreadOverEveryLoop(loops: Int) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: loops)
        let calls = 10 * loops
        try await LiveServer.with(eventLoopGroup: group) { server in
            var sockets: [MediaSocket] = []
            for i in 0..<calls {
                let sid = String(format: "CA%032d", i)
                sockets.append(try await server.startCall(callSid: sid, streamSid: String(format: "MZ%032d", i)))
            }
            try await server.waitForActiveCalls(calls)
            let perLoop = server.server.placement.callsPerLoop
            let mean = Double(calls) / Double(loops)
            #expect(perLoop.count == loops)
            #expect(perLoop.allSatisfy { $0 > 0 }, "\(perLoop)")
            #expect(perLoop.allSatisfy { Double($0) <= mean * 1.1 }, "\(perLoop)")
            let metrics = try await server.http("GET", "/metrics")
            for (i, n) in perLoop.enumerated() {
                #expect(metrics.body.contains(#"voicebridge_loop_calls{loop="\#(i)"} \#(n)"#), "\(metrics.body)")
            }
            for socket in sockets { await socket.close() }
            try await server.waitForActiveCalls(0)
            #expect(server.server.placement.callsPerLoop == Array(repeating: 0, count: loops))
        }
        try await group.shutdownGracefully()
    }
}

@Suite struct BridgeListenerTests {
    @Test func dateHeaderIsIMFFixdate() {
        #expect(HTTPDate.format(secondsSince1970: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(secondsSince1970: 1_796_400_000) == "Fri, 04 Dec 2026 16:00:00 GMT")
    }

    @Test func answersCarryADateHeader() async throws {
        try await LiveServer.with { server in
            let health = try await server.http("GET", "/healthz")
            #expect(health.status == 200)
            #expect(health.headers.contains { $0.0.lowercased() == "date" && $0.1.hasSuffix(" GMT") }, "\(health.headers)")
        }
    }

    @Test func aPortInUseIsAClearError() async throws {
        try await LiveServer.with { server in
            #expect(throws: ListenerError.self) { _ = try ListeningSocket(host: "127.0.0.1", port: server.port, backlog: 16) }
        }
    }
}

@Suite struct WebSocketUnmaskingTests {
    @Test func matchesNIOsUnmaskForEveryLengthAndOffset() {
        let key = WebSocketMaskingKey([0x12, 0x9A, 0xFF, 0x01])!
        for length in 0..<41 {
            let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            var expected = ByteBuffer(bytes: payload)
            expected.webSocketUnmask(key)
            var out = ByteBuffer(bytes: [0xAA])  // written after what is already there
            WebSocketUnmasking.write(ByteBuffer(bytes: payload), maskedWith: .init(key), into: &out)
            #expect(out.readInteger(as: UInt8.self) == 0xAA)
            #expect(out == expected, "length \(length)")
        }
    }
}
