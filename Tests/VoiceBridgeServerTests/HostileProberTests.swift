import Foundation
import NIOCore
import Testing
import VoiceBridgeCarriers
@testable import VoiceBridgeServer

/// The hostile prober: one served bridge (the real `Call`, the demo flow), a canary call talking
/// to it throughout, and every kind of hostile input a carrier-facing port meets, one after the
/// other, each on its own connection. Each probe must get its exact refusal (HTTP status or
/// WebSocket close code with a reason), and afterwards the canary must be untouched: every
/// message it got decodes strictly, nothing cleared or closed it, it still answers a key, and
/// it ends with 1000 when it hangs up.
@Suite(.timeLimit(.minutes(2)))
struct HostileProberTests {
    struct Probe: Sendable {
        var name: String
        var expected: String
        /// Nil when the bridge did what `expected` says; else what it did instead.
        var run: @Sendable (LiveServer, String) async throws -> String?
    }

    static func callSid(_ n: Int) -> String { "CA" + String(repeating: "0", count: 30) + String(format: "%02d", n) }
    static func streamSid(_ n: Int) -> String { "MZ" + String(repeating: "0", count: 30) + String(format: "%02d", n) }

    /// Webhook + signed upgrade + `connected` (+ `start`): a victim call of its own.
    static func victim(_ server: LiveServer, _ callSid: String, starts: Bool = true) async throws -> MediaSocket {
        let path = try await server.streamPath(callSid: callSid)
        let socket = try await MediaSocket.connect(
            port: server.port, path: path, headers: [("X-Twilio-Signature", server.sign("wss://voice.example.com" + path))])
        try await socket.sendText(Twilio.connected())
        if starts { try await socket.sendText(Twilio.start(callSid: callSid, streamSid: streamSid(from: callSid))) }
        return socket
    }

    static func streamSid(from callSid: String) -> String { "MZ" + callSid.dropFirst(2) }

    /// Runs `attack` on a victim and checks that it is closed with `code` and a reason.
    static func closes(
        _ code: UInt16, starts: Bool = true, _ attack: @escaping @Sendable (MediaSocket, String) async throws -> Void
    ) -> @Sendable (LiveServer, String) async throws -> String? {
        { server, callSid in
            let socket = try await victim(server, callSid, starts: starts)
            defer { Task { await socket.close() } }
            try await attack(socket, callSid)
            guard let close = try await socket.closeFrame(timeout: .seconds(10)) else { return "no close frame" }
            guard close.closeCode == code else { return "closed with \(close.closeCode.map(String.init) ?? "no code"): \(close.closeReason)" }
            guard !close.closeReason.isEmpty else { return "closed with \(code) but no reason" }
            try await socket.client.waitForClose()
            return nil
        }
    }

    static func refused(_ status: Int, _ request: @escaping @Sendable (LiveServer) async throws -> RawHTTPResponse) -> @Sendable (LiveServer, String) async throws -> String? {
        { server, _ in
            let response = try await request(server)
            return response.status == status ? nil : "answered \(response.status): \(response.body.prefix(120))"
        }
    }

    static func upgradeRefused(_ server: LiveServer, _ path: String) async throws -> String? {
        let headers = [("X-Twilio-Signature", server.sign("wss://voice.example.com" + path))]
        switch try await MediaSocket.open(port: server.port, path: path, headers: headers) {
        case .refused(let response): return response.status == 403 ? nil : "refused with \(response.status)"
        case .opened(let socket):
            await socket.close()
            return "upgraded"
        }
    }

    static func webhook(_ server: LiveServer, signed: Bool, extraBytes: Int = 0) async throws -> RawHTTPResponse {
        let parameters = [("CallSid", callSid(99)), ("AccountSid", Twilio.accountSid), ("From", "+15551234567"), ("To", "+15557654321")]
        let padding = extraBytes > 0 ? [("Padding", String(repeating: "x", count: extraBytes))] : []
        let signature = signed ? server.sign(LiveServer.publicURL + "/twiml", parameters + padding) : "bm90IGEgc2lnbmF0dXJl"
        return try await server.http(
            "POST", "/twiml", headers: [("X-Twilio-Signature", signature)], body: Twilio.form(parameters + padding))
    }

    /// A frame as a broken client would write it: no mask, or with reserved bits.
    static func rawFrame(firstByte: UInt8, payload: [UInt8], masked: Bool) -> ByteBuffer {
        var out = ByteBuffer()
        out.writeInteger(firstByte)
        out.writeInteger(UInt8(payload.count) | (masked ? 0x80 : 0))
        if masked {
            let key: [UInt8] = [1, 2, 3, 4]
            out.writeBytes(key)
            out.writeBytes(payload.enumerated().map { $0.element ^ key[$0.offset % 4] })
        } else {
            out.writeBytes(payload)
        }
        return out
    }

    static let probes: [Probe] = [
        Probe(name: "unsigned webhook", expected: "403", run: refused(403) { try await webhook($0, signed: false) }),
        Probe(name: "oversized webhook body", expected: "413", run: refused(413) { try await webhook($0, signed: true, extraBytes: 128 * 1024) }),
        Probe(name: "webhook for a path that is not one", expected: "404", run: refused(404) { try await $0.http("POST", "/twiml/../../etc/passwd") }),
        Probe(name: "garbage stream token", expected: "upgrade 403") { server, _ in try await upgradeRefused(server, "/media/not-a-token") },
        Probe(name: "replayed stream token", expected: "second upgrade 403") { server, callSid in
            let path = try await server.streamPath(callSid: callSid)
            let first = try await MediaSocket.connect(
                port: server.port, path: path, headers: [("X-Twilio-Signature", server.sign("wss://voice.example.com" + path))])
            let outcome = try await upgradeRefused(server, path)
            await first.close()
            return outcome
        },
        Probe(name: "malformed JSON", expected: "close 1007", run: closes(1007) { s, _ in try await s.sendText(#"{"event":"media","media":{"#) }),
        Probe(name: "unknown event", expected: "close 1008", run: closes(1008) { s, c in
            try await s.sendText(#"{"event":"teleport","sequenceNumber":"2","streamSid":"\#(streamSid(from: c))"}"#)
        }),
        Probe(name: "binary frame", expected: "close 1003", run: closes(1003) { s, _ in try await s.sendFrame(opcode: WSFrame.binary, payload: Twilio.silence) }),
        Probe(name: "message over 64 KiB", expected: "close 1009", run: closes(1009) { s, _ in try await s.sendText(String(repeating: "x", count: 64 * 1024 + 1)) }),
        Probe(name: "fragments adding up past 64 KiB", expected: "close 1009", run: closes(1009) { s, _ in
            let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 40 * 1024)
            try await s.sendFrame(opcode: WSFrame.text, payload: chunk, fin: false)
            try await s.sendFrame(opcode: 0x0, payload: chunk, fin: true)
        }),
        Probe(name: "media for another stream", expected: "close 1008", run: closes(1008) { s, _ in
            try await s.sendText(Twilio.media(sequence: 2, streamSid: "MZffffffffffffffffffffffffffffffff"))
        }),
        Probe(name: "media before start", expected: "close 1008", run: closes(1008, starts: false) { s, c in
            try await s.sendText(Twilio.media(sequence: 2, streamSid: streamSid(from: c)))
        }),
        Probe(name: "payload that is not base64", expected: "close 1007", run: closes(1007) { s, c in
            try await s.sendText(Twilio.media(sequence: 2, streamSid: streamSid(from: c)).replacingOccurrences(of: #""payload":""#, with: #""payload":"!!!*"#))
        }),
        Probe(name: "second start", expected: "close 1008", run: closes(1008) { s, c in
            try await s.sendText(Twilio.start(callSid: c, streamSid: streamSid(from: c)))
        }),
        Probe(name: "start in L16 16 kHz (not μ-law 8 kHz)", expected: "close 1003 naming the format", run: { server, callSid in
            let socket = try await victim(server, callSid, starts: false)
            defer { Task { await socket.close() } }
            try await socket.sendText(
                Twilio.start(callSid: callSid, streamSid: streamSid(from: callSid))
                    .replacingOccurrences(of: "audio/x-mulaw", with: "audio/x-l16").replacingOccurrences(of: "8000", with: "16000"))
            guard let close = try await socket.closeFrame(timeout: .seconds(10)) else { return "no close frame" }
            guard close.closeCode == 1003, close.closeReason.contains("unsupported media format"), close.closeReason.contains("16000 Hz") else { return "closed with \(close.closeCode ?? 0): \(close.closeReason)" }
            return nil
        }),
        Probe(name: "unmasked client frame", expected: "close 1002", run: closes(1002) { s, c in
            try await s.client.send(rawFrame(firstByte: 0x81, payload: Array(Twilio.media(sequence: 2, streamSid: streamSid(from: c)).utf8.prefix(120)), masked: false))
        }),
        Probe(name: "reserved bits set", expected: "close 1002", run: closes(1002) { s, _ in
            try await s.client.send(rawFrame(firstByte: 0xC1, payload: Array("{}".utf8), masked: true))
        }),
        Probe(name: "ping over 125 bytes", expected: "close 1002", run: closes(1002) { s, _ in
            try await s.client.send(WSFrame.encode(opcode: WSFrame.ping, payload: [UInt8](repeating: 0x41, count: 126)))
        }),
        Probe(name: "connection dropped mid-frame", expected: "the call ends; nothing else does") { server, callSid in
            let socket = try await victim(server, callSid)
            try await server.waitForActiveCalls(2)
            var half = WSFrame.encode(opcode: WSFrame.text, payload: Array(Twilio.media(sequence: 2).utf8))
            half.moveWriterIndex(to: half.writerIndex - 100)
            try await socket.client.send(half)
            await socket.close()
            try await server.waitForActiveCalls(1, timeout: .seconds(10))
            return nil
        },
    ]

    @Test func everyProbeIsRefusedExactlyAndTheCanaryIsUntouched() async throws {
        try await LiveServer.with(demoCalls: true, speech: ScriptedSpeech()) { server in
            let canary = try await server.startCall()
            let sender = canary.streamCallerSilence()
            defer { sender.cancel() }
            try await server.waitForActiveCalls(1)

            // A webhook whose body never finishes, held open through every probe.
            let slow = try await RawClient.connect(port: server.port)
            try await slow.send("POST /twiml HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nCallSid=CA")

            var report: [String] = []
            var failures = 0
            for (index, probe) in Self.probes.enumerated() {
                let outcome: String?
                do {
                    outcome = try await probe.run(server, Self.callSid(index + 1))
                } catch {
                    outcome = "threw \(error)"
                }
                if outcome != nil { failures += 1 }
                report.append("\(outcome == nil ? "ok  " : "FAIL") \(probe.name): expected \(probe.expected)\(outcome.map { "; \($0)" } ?? "")")
                #expect(outcome == nil, "\(probe.name): \(outcome ?? "")")
                // Only the canary is left after each probe.
                try await server.waitForActiveCalls(1, timeout: .seconds(10))
            }
            let health = try await server.http("GET", "/healthz")
            #expect(health.status == 200, "while a webhook body hangs: \(health.status)")
            await slow.close()

            // The canary: its whole greeting, up to the mark that ends it, decodes strictly, with
            // no clear and no close on the way.
            var seen: [FullCallTests.Outbound] = []
            try await FullCallTests.collect(canary, into: &seen, timeout: .seconds(40)) { $0.contains { $0.isMark } }
            #expect(seen.allSatisfy { $0 != .clear }, "the canary was cleared without a barge-in")
            let framesBeforeKey = seen.filter(\.isMedia).count
            #expect(seen.filter(\.isMedia).allSatisfy { $0 == .media(bytes: 160) })
            // It still answers a key: the reply plays (after a clear, if the greeting still played).
            let beforeKey = seen.count
            try await canary.sendText(Twilio.dtmf(sequence: 50_000, digit: "1"))
            try await FullCallTests.collect(canary, into: &seen) { s in s[beforeKey...].filter(\.isMedia).count >= 10 }
            sender.cancel()
            _ = try? await sender.value
            try await canary.sendText(Twilio.stop(sequence: 60_000, callSid: Twilio.callSid))
            let close = try #require(try await canary.closeFrame(timeout: .seconds(5)))
            #expect(close.closeCode == 1000)
            try await server.waitForActiveCalls(0)

            report.append("\(Self.probes.count - failures)/\(Self.probes.count) ok; canary: \(framesBeforeKey) frames before its key, all strict and 160 bytes, cleared only by its own key, closed 1000")
            print("hostile prober:\n  " + report.joined(separator: "\n  "))
        }
    }
}
