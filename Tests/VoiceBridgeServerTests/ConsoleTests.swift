import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing
import VoiceBridgeAudio
import VoiceBridgeCalls
import VoiceBridgeCarriers
@testable import VoiceBridgeServer

/// The live console: its model (snapshot, deltas), its wire format (Server-Sent Events), its
/// meters and call history, its access rules, and a live call seen through it.
@Suite struct ConsoleTests {
    static let controlToken = "console-control-token-0123456789"

    static func sample(_ sid: String, levelIn: Int = 0, startedAtMs: Int64 = 1_000) -> ConsoleCallSample {
        var s = ConsoleCallSample(callSid: sid)
        s.key = UInt64(sid.dropFirst(2)) ?? 0
        s.from = "+15551230001"
        s.to = "+15551230002"
        s.flow = "support"
        s.source = "offline"
        s.step = "menu@12"
        s.phase = "active"
        s.playing = true
        s.startedAtMs = startedAtMs
        s.levelIn = levelIn
        return s
    }

    static func text(_ write: (inout ByteBuffer) -> Void) -> String {
        var buffer = ByteBuffer()
        write(&buffer)
        return String(buffer: buffer)
    }

    /// The JSON object on the `data:` line of one SSE event.
    static func data(_ event: String) throws -> [String: Any] {
        let line = try #require(event.split(separator: "\n").first { $0.hasPrefix("data: ") })
        return try #require(try JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any])
    }

    // MARK: - Model and wire format

    @Test func theBoardTellsOnlyWhatChanged() throws {
        var board = ConsoleBoard()
        let first = board.update([Self.sample("CA1"), Self.sample("CA2", startedAtMs: 2_000)], stats: nil)
        #expect(first.added.map(\.callSid) == ["CA1", "CA2"])
        #expect(first.changed.isEmpty && first.removed.isEmpty)

        let same = board.update([Self.sample("CA1"), Self.sample("CA2", startedAtMs: 2_000)], stats: nil)
        #expect(same.isEmpty)
        #expect(Self.text { ConsoleEvents.delta(same, into: &$0) }.isEmpty, "a tick with no change sends nothing")

        let louder = board.update([Self.sample("CA1", levelIn: 40), Self.sample("CA2", startedAtMs: 2_000)], stats: nil)
        #expect(louder.changed.isEmpty, "a meter alone is no change of the call's record")
        #expect(louder.levels == [.init(id: 1, levelIn: 40, levelOut: 0)])
        let wire = Self.text { ConsoleEvents.delta(louder, into: &$0) }
        #expect(wire == "event: delta\ndata: {\"levels\":[1,40,0]}\n\n")

        var keyed = Self.sample("CA2", startedAtMs: 2_000)
        keyed.step = "gather@20"
        keyed.eventsVersion = 3
        keyed.events = (1...3).map { ConsoleCallEvent(kind: .digit, atMs: $0 * 100, subject: "\($0)", detail: "") }
        _ = board.update([Self.sample("CA1", levelIn: 40), keyed], stats: nil)
        keyed.eventsVersion = 4
        keyed.events.append(ConsoleCallEvent(kind: .digit, atMs: 400, subject: "4", detail: ""))
        let more = board.update([Self.sample("CA1", levelIn: 40), keyed], stats: nil)
        let changed = try #require(try Self.data(Self.text { ConsoleEvents.delta(more, into: &$0) })["changed"] as? [[String: Any]])
        #expect(changed.count == 1)
        #expect(Set(changed[0].keys) == ["callSid", "eventsAdded"], "a change carries the CallSid and what changed")
        #expect((changed[0]["eventsAdded"] as? [[String: Any]])?.map { $0["subject"] as? String } == ["4"], "only the new event")

        let gone = board.update([Self.sample("CA2", startedAtMs: 2_000)], stats: nil)
        #expect(gone.removed == ["CA1"])
        #expect(board.snapshot.map(\.callSid) == ["CA2"])
    }

    @Test func eachEventIsOneDataLineOfJSON() throws {
        var board = ConsoleBoard()
        var call = Self.sample("CA1")
        call.eventsVersion = 1
        call.events = [ConsoleCallEvent(kind: .cleared, atMs: 4_200, subject: "menu@3#2", detail: "Press one for \"billing\",\nor")]
        var stats = ConsoleStats()
        stats.gapBoundsMs = [20, .infinity]
        stats.gapCounts = [10, 1]
        _ = board.update([call], stats: stats)
        let wire = Self.text { ConsoleEvents.snapshot(board, nowMs: 5_000, into: &$0) }
        #expect(wire.hasPrefix("event: snapshot\ndata: {"))
        #expect(wire.hasSuffix("}\n\n"))
        #expect(wire.dropLast(2).split(separator: "\n").count == 2, "a line break in the heard text stays inside the JSON string")
        let data = try Self.data(wire)
        #expect(data["nowMs"] as? Int == 5_000)
        let calls = try #require(data["calls"] as? [[String: Any]])
        let events = try #require(calls.first?["events"] as? [[String: Any]])
        #expect(events.first?["kind"] as? String == "cleared")
        #expect(events.first?["detail"] as? String == "Press one for \"billing\",\nor")
        let gap = try #require((data["stats"] as? [String: Any])?["gap"] as? [String: Any])
        #expect((gap["boundsMs"] as? [Any])?.count == 2, "+Inf is written as null")
    }

    @Test func statsComeFromTheMetricsText() {
        let text = """
            # TYPE voicebridge_frame_gap_seconds histogram
            voicebridge_frame_gap_seconds_bucket{le="0.02"} 90
            voicebridge_frame_gap_seconds_bucket{le="0.021"} 99
            voicebridge_frame_gap_seconds_bucket{le="+Inf"} 100
            voicebridge_first_audio_latency_seconds_bucket{le="0.05"} 1
            voicebridge_first_audio_latency_seconds_bucket{le="0.1"} 3
            voicebridge_first_audio_latency_seconds_bucket{le="+Inf"} 4
            voicebridge_first_audio_latency_seconds_sum 0.4
            voicebridge_first_audio_latency_seconds_count 4
            voicebridge_active_calls 2
            voicebridge_errors_total{kind="speech_fallback"} 3
            voicebridge_errors_total{kind="protocol"} 1
            """
        let stats = ConsoleStats.parse(metrics: text, callsPerLoop: [1, 1])
        #expect(stats.gapBoundsMs == [20, 21, .infinity])
        #expect(stats.gapCounts == [90, 9, 1])
        #expect(stats.firstAudioCount == 4)
        #expect(abs(stats.firstAudioMeanMs - 100) < 0.001)
        #expect(stats.firstAudioP50Ms == 100)
        #expect(stats.firstAudioP95Ms == .infinity)
        #expect(stats.activeCalls == 2)
        #expect(stats.fallbacks == 3)
        #expect(stats.errors.map(\.kind) == ["protocol", "speech_fallback"])
    }

    // MARK: - Meters and history

    @Test func theMeterReadsEachDirectionsPeakAndStartsAgain() {
        let meter = CallMeter()
        let silence = [UInt8](repeating: 0xFF, count: 160)
        silence.withUnsafeBytes { meter.inbound($0, format: .mulaw8kMono) }
        let quiet = meter.take()
        #expect(quiet.inbound == 0 && quiet.outbound == 0)
        // μ-law 0x80 is the loudest positive code; half scale in L16 is -6 dBFS.
        let loud = [UInt8](repeating: 0x80, count: 160)
        loud.withUnsafeBytes { meter.outbound($0, format: .mulaw8kMono) }
        let half = [UInt8](repeating: 0, count: 320).enumerated().map { $0.offset % 2 == 1 ? 0x40 : 0x00 } as [UInt8]
        half.withUnsafeBytes { meter.inbound($0, format: MediaFormat(encoding: .l16(.littleEndian), sampleRate: 8000)) }
        let levels = meter.take()
        #expect(levels.outbound == 100)
        #expect((88...92).contains(levels.inbound), "-6 dBFS on a -60...0 dB scale: \(levels.inbound)")
        let again = meter.take()
        #expect(again.inbound == 0 && again.outbound == 0, "a reading starts the peaks again")
        // A 1 kHz beep is 8 samples a period: looking at every eighth sample from the same place
        // could see only its zero crossings. The place moves frame by frame.
        let beep = ToneGenerator.ulaw(ToneGenerator.pcm(.beep, durationMs: 20))
        for _ in 0..<CallMeter.sampleStride { beep.withUnsafeBytes { meter.outbound($0, format: .mulaw8kMono) } }
        #expect(meter.take().outbound > 50)
    }

    @Test func theHistoryKeepsTheLastEventsOldestFirst() {
        let loop = EmbeddedEventLoop()
        let log = CallConsoleLog(eventLoop: loop)
        for i in 0..<20 {
            loop.advanceTime(by: .milliseconds(100))
            log.note(.digit(Character("\(i % 10)"), interrupted: false))
        }
        #expect(log.events.count == CallConsoleLog.capacity)
        #expect(log.version == 20)
        #expect(log.events.first?.atMs == 900, "the eight oldest are gone")
        #expect(log.events.last?.atMs == 2_000)
        let heard = MarkLedger.Heard(completeSegments: [], interruptedSegment: nil, interruptedText: "Press one", interruptedMs: 900)
        log.note(.promptInterrupted("menu@3#2", heard: heard))
        log.noteBargeIn(accepted: true, reason: "accepted")
        log.note(.promptStarted("say@9#3"))
        let last = log.events.suffix(2)
        #expect(last.first?.kind == .cleared && last.first?.detail == heard.text)
        #expect(last.last?.kind == .bargeIn && last.last?.subject == "accepted")
        #expect(log.step == "say@9#3")
    }

    @Test func theSessionCookieIsNeitherTheTokenNorForever() {
        let routes = ConsoleRoutes(
            token: Self.controlToken, hub: ConsoleHub(liveCalls: LiveCalls(), metrics: BridgeMetrics()),
            control: ControlRoutes(token: Self.controlToken, liveCalls: LiveCalls(), logger: .init(label: "test")),
            logger: .init(label: "test"), secureCookie: false)
        let now = Date(timeIntervalSince1970: 1_000_000)
        let value = routes.sessionValue(expiry: 1_000_060)
        #expect(!value.contains(Self.controlToken))
        #expect(routes.validSession(value, now: now))
        #expect(!routes.validSession(value, now: now.addingTimeInterval(61)), "expired")
        #expect(!routes.validSession("1000090" + value.dropFirst(7), now: now), "an expiry moved by hand breaks the MAC")
        #expect(!routes.validSession(Self.controlToken, now: now))
    }

    // MARK: - Access

    @Test func withoutAControlTokenThereIsNoConsole() async throws {
        try await LiveServer.with { server in
            for path in ["/console", "/console/events", "/console/app.js"] {
                let status = try await server.http("GET", path).status
                #expect(status == 404, "\(path)")
            }
            #expect(try await server.http("POST", "/console/login", body: "token=x").status == 404)
        }
    }

    @Test func everyConsolePathNeedsTheToken() async throws {
        try await LiveServer.with(configure: { $0.controlToken = Self.controlToken }) { server in
            let login = try await server.http("GET", "/console")
            #expect(login.status == 401)
            #expect(login.body.contains(#"action="/console/login""#), "the answer is the sign-in form")
            for path in ["/console/events", "/console/app.js", "/console/app.css"] {
                let without = try await server.http("GET", path).status
                let wrong = try await server.http("GET", path, headers: [("Authorization", "Bearer wrong-token-0123456789")]).status
                #expect(without == 401 && wrong == 401, "\(path)")
            }
            #expect(try await server.http("POST", "/console/calls/CA1/hangup").status == 401)
            #expect(try await server.http("GET", "/console?token=wrong").status == 401)

            let bearer = [("Authorization", "Bearer \(Self.controlToken)")]
            let page = try await server.http("GET", "/console", headers: bearer)
            #expect(page.status == 200)
            #expect(page.header("Content-Security-Policy")?.contains("default-src 'none'") == true)
            #expect(!page.body.contains(Self.controlToken))
            #expect(try await server.http("POST", "/console/calls/CA1/hangup", headers: bearer).status == 404, "no such call")

            #expect(try await server.http("POST", "/console/login", body: "token=wrong").status == 401)
            let signedIn = try await server.http("POST", "/console/login", body: "token=\(Self.controlToken)")
            #expect(signedIn.status == 303)
            #expect(signedIn.header("Location") == "/console")
            let setCookie = try #require(signedIn.header("Set-Cookie"))
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict") && setCookie.contains("Path=/console"))
            #expect(!setCookie.contains(Self.controlToken))
            let cookie = [("Cookie", String(setCookie.prefix { $0 != ";" }))]
            #expect(try await server.http("GET", "/console", headers: cookie).status == 200)
            #expect(try await server.http("GET", "/console/app.js", headers: cookie).status == 200)
            #expect(try await server.http("GET", "/calls", headers: cookie).status == 401, "the cookie is no key to the control API")
            #expect(try await server.http("POST", "/console/calls/CA1/hangup", headers: cookie).status == 403, "without the page's header")
            #expect(
                try await server.http("POST", "/console/calls/CA1/hangup", headers: cookie + [("X-VoiceBridge-Console", "1")]).status == 404)

            let query = try await server.http("GET", "/console?token=\(Self.controlToken)")
            #expect(query.status == 303)
            #expect(query.header("Location") == "/console", "the token leaves the address bar")
            #expect(query.header("Set-Cookie") != nil)
        }
    }

    /// With `serve --record` the console lists the finished recordings and shows each as its
    /// call timeline; a name that is not one of them is a 404, and it all needs the token.
    @Test func recordedCallsOpenAsTheirTimelines() async throws {
        let directory = NSTemporaryDirectory() + "voicebridge-console-rec-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let name = "CA0000000000000000000000000000003a.jsonl"
        try FileManager.default.copyItem(atPath: root + "/fixtures/calls/03-barge-in-dtmf.jsonl", toPath: directory + "/" + name)
        // Still being recorded: no bridge WAV yet, so not listed.
        try FileManager.default.copyItem(atPath: root + "/fixtures/calls/02-barge-in-speech.jsonl", toPath: directory + "/CA-unfinished.jsonl")
        FileManager.default.createFile(atPath: directory + "/CA0000000000000000000000000000003a.bridge.wav", contents: Data())
        try await LiveServer.with(configure: {
            $0.controlToken = Self.controlToken
            $0.recordDirectory = directory
            $0.flowsDirectory = root + "/config/flows"
            $0.promptCatalogPath = root + "/config/prompts.yaml"
        }) { server in
            let bearer = [("Authorization", "Bearer \(Self.controlToken)")]
            #expect(try await server.http("GET", "/console/recordings").status == 401)
            #expect(try await server.http("GET", "/console/recordings/\(name)").status == 401)
            let list = try await server.http("GET", "/console/recordings", headers: bearer)
            #expect(list.status == 200)
            #expect(list.body.contains("/console/recordings/\(name)"))
            #expect(!list.body.contains("CA-unfinished"))
            let page = try await server.http("GET", "/console/recordings/\(name)", headers: bearer)
            #expect(page.status == 200)
            #expect(page.body.contains(#"data-kind="clear""#) && page.body.contains(#"data-kind="dtmf""#))
            #expect(page.header("Content-Security-Policy")?.contains("default-src 'none'") == true)
            for bad in ["CA-unfinished.jsonl", "..%2Fsecret.jsonl", ".hidden.jsonl", "nothing.jsonl"] {
                #expect(try await server.http("GET", "/console/recordings/\(bad)", headers: bearer).status == 404, "\(bad)")
            }
        }
        try await LiveServer.with(configure: { $0.controlToken = Self.controlToken }) { server in
            let off = try await server.http("GET", "/console/recordings", headers: [("Authorization", "Bearer \(Self.controlToken)")])
            #expect(off.status == 404 && off.body.contains("recording is off"))
        }
    }

    // MARK: - A live call through the event stream

    /// An open `GET /console/events`: its chunked body, de-chunked, as it arrives.
    struct EventStream {
        let client: RawClient

        static func open(port: Int, token: String) async throws -> EventStream {
            let client = try await RawClient.connect(port: port)
            try await client.send("GET /console/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n\r\n")
            return EventStream(client: client)
        }

        /// Reads until the stream's text holds `needle`; returns the text so far.
        func read(until needle: String, timeout: Duration = .seconds(5)) async throws -> String {
            let seen = NIOLockedValueBox("")
            do {
                return try #require(
                    try await client.read("console events holding \(needle)", timeout: timeout) { buffer -> String? in
                        let text = Self.dechunk(String(buffer: buffer))
                        seen.withLockedValue { $0 = String(buffer: buffer) }
                        return text.contains(needle) ? text : nil
                    })
            } catch {
                Issue.record("the stream so far: \(seen.withLockedValue { $0 })")
                throw error
            }
        }

        /// Bytes, not characters: to a Swift string "\r\n" is one character.
        static func dechunk(_ raw: String) -> String {
            let bytes = Array(raw.utf8)
            let crlf: [UInt8] = [13, 10]
            guard let head = bytes.firstRange(of: crlf + crlf) else { return "" }
            var at = head.upperBound
            var out: [UInt8] = []
            while let line = bytes[at...].firstRange(of: crlf),
                let size = Int(String(decoding: bytes[at..<line.lowerBound], as: UTF8.self), radix: 16), size > 0,
                bytes.count >= line.upperBound + size + 2
            {
                out += bytes[line.upperBound..<line.upperBound + size]
                at = line.upperBound + size + 2
            }
            return String(decoding: out, as: UTF8.self)
        }
    }

    @Test func aLiveCallAppearsChangesAndGoesWithoutSecrets() async throws {
        try await LiveServer.with(configure: { $0.controlToken = Self.controlToken }, demoCalls: true, speech: ScriptedSpeech()) { server in
            let stream = try await EventStream.open(port: server.port, token: Self.controlToken)
            defer { Task { await stream.client.close() } }
            let path = try await server.streamPath()
            let socket = try await MediaSocket.connect(
                port: server.port, path: path, headers: [("X-Twilio-Signature", server.sign("wss://voice.example.com" + path))])
            try await socket.sendText(Twilio.connected())
            try await socket.sendText(Twilio.start(callSid: Twilio.callSid, streamSid: Twilio.streamSid))
            let caller = socket.streamCallerSilence()
            let added = try await stream.read(until: Twilio.callSid)
            #expect(added.contains(#""from":"+15551234567""#))
            try await Task.sleep(for: .milliseconds(300))
            try await socket.sendText(Twilio.dtmf(sequence: 1000, digit: "1"))
            let keyed = try await stream.read(until: #""kind":"digit","atMs""#)
            #expect(keyed.range(of: #""levels":\[\d+,\d+,[1-9]"#, options: .regularExpression) != nil, "the bridge's meter moved while the greeting played")
            caller.cancel()
            try await socket.sendText(Twilio.stop(sequence: 1001, callSid: Twilio.callSid))
            let removed = try await stream.read(until: #""removed":["\#(Twilio.callSid)"]"#)

            let token = String(path.split(separator: "/").last ?? "")
            for secret in [Self.controlToken, LiveServer.authToken, LiveServer.tokenSecret, token, Twilio.streamSid, Twilio.accountSid] {
                #expect(!removed.contains(secret), "the console never shows \(secret)")
            }
            await socket.close()
        }
    }
}
