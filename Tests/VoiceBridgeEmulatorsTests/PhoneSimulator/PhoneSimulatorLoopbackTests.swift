import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing
import VoiceBridgeAudio
import VoiceBridgeCarriers
@testable import VoiceBridgeEmulators

/// Live loopback calls against ``FakeVoiceServer`` on an ephemeral port.
@Suite(.serialized) struct PhoneSimulatorLoopbackTests {
    static func callerWAV() throws -> String {
        // 16 kHz PCM16 sine, so the caller path reads, resamples and encodes.
        let pcm = (0..<16000).map { Int16(8000 * sin(2 * Double.pi * 440 * Double($0) / 16000)) }
        var bytes: [UInt8] = Array("RIFF".utf8) + le32(36 + pcm.count * 2) + Array("WAVE".utf8)
        bytes += Array("fmt ".utf8) + le32(16) + le16(1) + le16(1) + le32(16000) + le32(32000) + le16(2) + le16(16)
        bytes += Array("data".utf8) + le32(pcm.count * 2)
        for s in pcm { bytes += le16(Int(UInt16(bitPattern: s))) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("caller-\(UUID().uuidString).wav").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    static func le16(_ v: Int) -> [UInt8] { (0..<2).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    func runCall(server: FakeVoiceServer, callerWAV: String? = nil) async throws -> SimulationReport {
        let simulator = try PhoneSimulator(
            configuration: .init(
                webhookURL: server.webhookURL, authToken: "secret-token",
                script: CallScript(dtmf: [.init(atMs: 50, digit: "5")], maxDurationMs: 3000),
                callerWAV: callerWAV))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let report = await simulator.run(calls: 1, rampSeconds: 0, group: group, recordHeardCalls: 1)
        try await group.shutdownGracefully()
        return report
    }

    @Test func aCleanCallFollowsTwilioRules() async throws {
        let server = FakeVoiceServer()
        try await server.start()
        let wav = try Self.callerWAV()
        defer { try? FileManager.default.removeItem(atPath: wav) }
        let report = try await runCall(server: server, callerWAV: wav)
        try await server.stop()
        let t = try #require(report.calls.first?.timeline)
        let recorded = server.recorded

        // Webhook: signed form post to the exact URL.
        #expect(recorded.webhookURI == "/voice?from=test")
        let form = Dictionary(
            uniqueKeysWithValues: recorded.webhookBody.split(separator: "&").map {
                let kv = $0.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding! }
                return (kv[0], kv.count > 1 ? kv[1] : "")
            })
        #expect(form["CallSid"] == t.callSid && form["AccountSid"] == t.accountSid)
        #expect(form["CallStatus"] == "ringing" && form["Direction"] == "inbound" && form["ApiVersion"] == "2010-04-01")
        let expectedSignature = TwilioSignature(authToken: "secret-token").compute(
            url: server.webhookURL, parameters: form.map { ($0.key, $0.value) })
        #expect(recorded.webhookHeaders["X-Twilio-Signature"] == [expectedSignature])

        // Stream: the query string was dropped, wss mapped to ws on loopback.
        #expect(recorded.upgradeURI == "/stream")
        let events = recorded.messages.map { $0.json["event"]?.string ?? "?" }
        #expect(Array(events.prefix(2)) == ["connected", "start"])
        let start = recorded.messages[1].json
        #expect(start["sequenceNumber"]?.string == "1")
        #expect(start["start"]?["customParameters"] == .object(["session": .string("s-42")]))
        #expect(start["start"]?["callSid"]?.string == t.callSid)
        #expect(t.streamSid == start["streamSid"]?.string)

        // Media: every 20 ms on the grid, numbered, carrying the caller's audio.
        let media = recorded.messages.filter { $0.json["event"]?.string == "media" }
        #expect(media.count >= 15)
        #expect(media.first?.json["media"]?["chunk"]?.string == "1")
        #expect(media.first?.json["media"]?["timestamp"]?.string == "20")
        let firstPayload = Data(base64Encoded: media.first?.json["media"]?["payload"]?.string ?? "") ?? Data()
        #expect(firstPayload.count == 160 && firstPayload.contains { $0 != 0xFF })
        let sequence = recorded.messages.dropFirst().compactMap { $0.json["sequenceNumber"]?.string.flatMap { Int($0) } }
        #expect(sequence == Array(1...sequence.count))
        let dtmf = recorded.messages.first { $0.json["event"]?.string == "dtmf" }
        #expect(dtmf?.json["dtmf"] == .object(["track": .string("inbound_track"), "digit": .string("5")]))
        #expect(t.dtmf.map(\.digit) == ["5"])

        // Marks: m1 after its 60 ms played, m2 cleared, m3 straight back after the clear.
        let echoed = recorded.messages.filter { $0.json["event"]?.string == "mark" }.map { $0.json["mark"]?["name"]?.string }
        #expect(echoed == ["m1", "m2", "m3"])
        #expect(t.marks.map(\.name) == ["m1", "m2", "m3"])
        #expect(t.marks.map(\.outcome) == [.played, .cleared, .played])
        // m1 comes back when the 60 ms queued before it end, counted from the first frame's arrival
        // (the three frames may arrive in separate reads on a busy machine).
        let m1 = t.marks[0]
        let audioEnd = t.heardSegments[0].startMs + 60
        // Never early; late only by the loop's scheduling (generous: CI runs every suite at once).
        #expect((m1.echoedAtMs ?? 0) >= audioEnd - 0.2)
        #expect((m1.echoedAtMs ?? 0) - audioEnd < 25, "m1 echoed at \(m1.echoedAtMs ?? -1), audio ended \(audioEnd)")
        #expect(t.clears.count == 1)
        #expect(abs((t.marks[1].echoedAtMs ?? 0) - t.clears[0].atMs) < 1)
        #expect(t.clears[0].droppedMs > 0 && t.clears[0].droppedMs <= 40)
        #expect((t.marks[2].echoedAtMs ?? 0) - t.marks[2].sentAtMs < 1)

        // Timeline numbers.
        #expect(t.passed, "\(t.violations)")
        #expect(t.violationCount == 0)
        #expect(t.endReason == .serverClosed)
        #expect(t.twimlAfterStream == ["<Say>Goodbye</Say>", "<Hangup/>"])
        #expect(t.close == .init(initiator: "server", code: 1000, reason: "bye"))
        #expect(t.mediaReceived == 5)
        let firstMedia = try #require(t.firstMediaMs)
        #expect(firstMedia >= 0 && firstMedia < 100)
        #expect((1...2).contains(t.heardSegments.count))
        let first = t.heardSegments[0]
        #expect(abs(first.endMs - first.startMs - 60) < 0.2)
        #expect(t.underruns.count == 0)
        #expect(t.lead.count == 5 && (t.lead.maxMs ?? 0) > 20 && (t.lead.maxMs ?? 0) <= 60)
        #expect(t.gaps.count >= 2)
        #expect(t.durationMs >= 390 && t.durationMs < 5000)

        // What the caller heard: the three frames in order, then silence, then part of the cleared audio.
        let heard = try #require(report.calls.first?.heard)
        let onset = try #require(heard.firstIndex { $0 != 0xFF })
        #expect(abs(Double(onset) / 8 - first.startMs) < 0.2)
        #expect(heard[onset..<(onset + 160)].allSatisfy { $0 == 0x10 })
        #expect(heard[(onset + 160)..<(onset + 320)].allSatisfy { $0 == 0x20 })
        #expect(heard[(onset + 320)..<(onset + 480)].allSatisfy { $0 == 0x30 })
        // The cleared audio played from its arrival until the clear, to the sample.
        let played40 = t.heardSegments.count == 2 ? (t.heardSegments[1].endMs - t.heardSegments[1].startMs) * 8 : 0
        #expect(heard.filter { $0 == 0x40 }.count == Int(played40.rounded()))

        // The files the CLI writes.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try SimulationOutput.writeTimeline(report, to: dir.appendingPathComponent("t.json").path)
        try SimulationOutput.writeHeard(report, to: dir.appendingPathComponent("heard.wav").path)
        let decoded = try JSONDecoder().decode(
            SimulationOutput.MultiCall.self, from: Data(contentsOf: dir.appendingPathComponent("t.json")))
        #expect(decoded.calls == [t])
        #expect(decoded.aggregate == report.aggregate)
        let heardWAV = try WAVFile.read(path: dir.appendingPathComponent("heard.wav").path)
        #expect(heardWAV.sampleRate == 8000 && heardWAV.encoding == .ulaw && heardWAV.data == heard)
    }

    @Test func strictValidationCatchesInjectedViolations() async throws {
        let server = FakeVoiceServer(
            options: .init(injectExtraField: true, injectShortPayload: true, injectWrongStreamSid: true, injectBinaryFrame: true))
        try await server.start()
        let report = try await runCall(server: server)
        try await server.stop()
        let t = try #require(report.calls.first?.timeline)
        #expect(!t.passed)
        #expect(!report.passed)
        #expect(t.violationCount == 4)
        #expect(
            t.violations.map(\.message) == [
                CarrierProtocolError.unexpectedField("media.track").description,
                "media payload is 80 bytes, not 160",
                CarrierProtocolError.wrongStreamSid(expected: t.streamSid ?? "", got: "MZ00000000000000000000000000000000").description,
                CarrierProtocolError.binaryFrame.description,
            ])
        // The bad-shaped message is ignored; the short one still plays (Twilio plays any size).
        #expect(t.mediaReceived == 6)
        #expect(report.aggregate.violations == 4 && report.aggregate.failedCalls == 1)
        #expect(report.summaryLine.hasPrefix("FAIL"))
    }

    @Test func severalCallsAggregate() async throws {
        let server = FakeVoiceServer()
        try await server.start()
        let simulator = try PhoneSimulator(
            configuration: .init(webhookURL: server.webhookURL, script: CallScript(maxDurationMs: 3000)))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let report = await simulator.run(calls: 4, rampSeconds: 0.1, group: group, recordHeardCalls: 0)
        try await group.shutdownGracefully()
        try await server.stop()
        #expect(report.aggregate.calls == 4)
        #expect(report.passed, "\(report.summaryLine)")
        #expect(Set(report.timelines.map(\.callSid)).count == 4)
        #expect(report.aggregate.firstMedia.count == 4)
        #expect(report.aggregate.gaps.count == report.timelines.reduce(0) { $0 + $1.gaps.count })
        #expect(report.aggregate.marks == 12 && report.aggregate.marksCleared == 4)
        #expect(report.calls.allSatisfy { $0.heard == nil })
        let json = try JSONSerialization.jsonObject(with: SimulationOutput.timelineJSON(report)) as? [String: Any]
        #expect((json?["calls"] as? [Any])?.count == 4)
        #expect(json?["aggregate"] != nil)
    }

    @Test func aCallerHangupSendsStopAndCloses() async throws {
        let server = FakeVoiceServer()
        try await server.start()
        let simulator = try PhoneSimulator(
            configuration: .init(webhookURL: server.webhookURL, script: CallScript(hangupAtMs: 100)))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let report = await simulator.run(calls: 1, rampSeconds: 0, group: group, recordHeardCalls: 0)
        try await group.shutdownGracefully()
        try await server.stop()
        let t = try #require(report.calls.first?.timeline)
        #expect(t.endReason == .hangup)
        #expect(t.close?.initiator == "caller")
        #expect(t.mediaSent == 5)
        let events = server.recorded.messages.map { $0.json["event"]?.string ?? "?" }
        #expect(events.last == "stop")
        #expect(t.marks.first?.outcome == .played)
    }

    @Test func aFailedWebhookFailsTheCall() async throws {
        let simulator = try PhoneSimulator(
            configuration: .init(webhookURL: "http://127.0.0.1:1/voice", connectTimeout: .seconds(2)))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let report = await simulator.run(calls: 1, rampSeconds: 0, group: group)
        try await group.shutdownGracefully()
        #expect(!report.passed)
        #expect(report.timelines.first?.endReason == .failed)
        #expect(report.timelines.first?.error?.contains("webhook") == true)
    }
}

/// A load run, off by default: `SIM_LOAD_CALLS=500 SIM_LOAD_SECONDS=10 swift test --filter loadRun`.
/// The fake server echoes every caller frame back with a mark every second, so each call moves
/// 50 frames/s each way; prints the aggregate and the process CPU time per call-second.
@Suite struct PhoneSimulatorLoadTests {
    static var calls: Int? { ProcessInfo.processInfo.environment["SIM_LOAD_CALLS"].flatMap { Int($0) } }

    @Test(.enabled(if: calls != nil)) func loadRun() async throws {
        let calls = Self.calls ?? 1
        let seconds = ProcessInfo.processInfo.environment["SIM_LOAD_SECONDS"].flatMap { Double($0) } ?? 10
        OpenFileLimit.raise(toAtLeast: calls * 4 + 64)
        let server = FakeVoiceServer(options: .init(echo: true))
        try await server.start()
        let simulator = try PhoneSimulator(
            configuration: .init(
                webhookURL: server.webhookURL,
                script: CallScript(hangupAtMs: Int(seconds * 1000), maxDurationMs: Int(seconds * 1000) + 5000)))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let cpuBefore = Self.cpuSeconds()
        let wallBefore = NIODeadline.now()
        let report = await simulator.run(calls: calls, rampSeconds: min(5, seconds / 2), group: group, recordHeardCalls: 0)
        let wall = Double((NIODeadline.now() - wallBefore).nanoseconds) / 1e9
        let cpu = Self.cpuSeconds() - cpuBefore
        try await group.shutdownGracefully()
        try await server.stop()
        print(report.summaryLine)
        let violations = Dictionary(grouping: report.timelines.flatMap(\.violations), by: \.message).mapValues(\.count)
        print("violations by message: \(Array(violations.prefix(10)))")
        print("end reasons: \(report.aggregate.endReasons), errors: \(Array(report.aggregate.errors.prefix(5)))")
        print("load: \(calls) calls × \(seconds) s, wall \(String(format: "%.1f", wall)) s, CPU \(String(format: "%.1f", cpu)) s "
            + "(simulator + fake server), \(String(format: "%.1f", cpu / (Double(calls) * seconds) * 1e6 / 100)) µs per frame pair")
        #expect(report.aggregate.calls == calls)
        #expect(report.aggregate.violations == 0)
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}
