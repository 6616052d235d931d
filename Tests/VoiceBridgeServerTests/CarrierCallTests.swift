import Foundation
import NIOCore
import NIOPosix
import Testing
import VoiceBridgeCarriers
import VoiceBridgeEmulators
import VoiceBridgeFlows
@testable import VoiceBridgeServer

/// Every carrier end to end over loopback: its webhook and markup, the media socket in its
/// dialect (checked strictly by the simulator's side of that carrier), signed webhooks, and a
/// flow's transfer after the stream.
@Suite struct CarrierCallTests {
    static let key = Ed25519.PrivateKey(seed: [UInt8](repeating: 7, count: 32))!
    static var publicKey: String { Data(key.publicKey).base64EncodedString() }
    static let signalWireKey = "PSK_test_signing_key_0123456789"
    static let plivoToken = "plivo-test-auth-token-0123456789"
    static let asteriskPassword = "asterisk-test-password"
    static let vonageSecret = "vonage-test-signature-secret-0123"
    static let exotelPassword = "exotel-test-password"
    static let telnyxAPIKey = "KEYtelnyx-test-api-key-0123456789"

    /// The simulator's Telnyx Call Control API, one for the whole test process: serve must know
    /// its URL before it starts, and call control ids never repeat.
    static let telnyxAPI: (api: TelnyxCallControlAPI, baseURL: String) = {
        let api = TelnyxCallControlAPI(apiKey: telnyxAPIKey)
        let port = try! api.bind().wait()
        return (api, "http://127.0.0.1:\(port)/v2")
    }()

    /// The secret each carrier signs its webhooks with in these tests.
    static func secret(_ carrier: SimulatedCarrierKind) -> String {
        switch carrier {
        case .signalwire: signalWireKey
        case .plivo: plivoToken
        case .asterisk: "asterisk:\(asteriskPassword)"
        case .vonage: vonageSecret
        case .exotel: "exotel:\(exotelPassword)"
        default: LiveServer.authToken  // Twilio's token; Telnyx signs with its key
        }
    }

    /// Every carrier's webhooks signed; the local public URL (what the simulator calls).
    static func signed(_ configuration: inout BridgeConfiguration) {
        configuration.carrierSettings["telnyx"] = ["public_key": publicKey, "api_key": telnyxAPIKey, "api_url": telnyxAPI.baseURL]
        configuration.carrierSettings["signalwire"] = ["signing_key": signalWireKey]
        configuration.carrierSettings["plivo"] = ["auth_token": plivoToken]
        configuration.carrierSettings["asterisk"] = ["username": "asterisk", "password": asteriskPassword]
        configuration.carrierSettings["vonage"] = ["signature_secret": vonageSecret]
        configuration.carrierSettings["exotel"] = ["username": "exotel", "password": exotelPassword]
        configuration.publicURL = nil
    }

    static func simulator(_ carrier: SimulatedCarrierKind, port: Int, script: CallScript) throws -> PhoneSimulator {
        var configuration = PhoneSimulator.Configuration(
            webhookURL: "http://127.0.0.1:\(port)\(carrier.defaultWebhookPath)",
            authToken: secret(carrier),
            from: "+15550001111", to: "+15551230000", script: script, carrier: carrier, telnyxSigningKey: key)
        configuration.telnyxAPI = telnyxAPI.api
        return try PhoneSimulator(configuration: configuration)
    }

    static func runOne(_ simulator: PhoneSimulator) async throws -> PhoneSimulator.CallResult {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let report = await simulator.run(calls: 1, rampSeconds: 0, group: group, recordHeardCalls: 1)
        try await group.shutdownGracefully()
        return try #require(report.calls.first)
    }

    @Test(.timeLimit(.minutes(1)), arguments: SimulatedCarrierKind.allCases)
    func aCallHearsTheGreetingIsClearedByAKeyHearsTheReplyAndHangsUp(_ carrier: SimulatedCarrierKind) async throws {
        try await LiveServer.with(configure: Self.signed, demoCalls: true, speech: FullCallTests.speech) { server in
            // The reply runs about 9 s from the key: 3 s to spare for its mark on a loaded machine.
            let script = CallScript(dtmf: [.init(atMs: 2_000, digit: "1")], hangupAtMs: 14_000, maxDurationMs: 17_000)
            let result = try await Self.runOne(try Self.simulator(carrier, port: server.port, script: script))
            let timeline = result.timeline
            #expect(timeline.passed, "\(timeline.violations) \(timeline.error ?? "")")
            #expect(timeline.violationCount == 0)
            #expect(timeline.endReason == .hangup)
            // The greeting played before the key, and the key stopped it with the carrier's `clear`.
            let firstMedia = try #require(timeline.firstMediaMs)
            #expect(firstMedia < 2_000)
            let key = try #require(timeline.dtmf.first)
            let clear = try #require(timeline.clears.first, "no clear after the key")
            #expect(clear.atMs >= key.atMs)
            // The reply's segment was marked, and Telnyx's echo of it came back as played.
            #expect(timeline.marks.contains { $0.outcome == .played }, "marks: \(timeline.marks)")
            // The reply was heard after the clear, in PCMU.
            let heard = try #require(result.heard)
            let afterClear = heard.dropFirst(Int(clear.atMs * 8) + 8 * 100)
            #expect(afterClear.contains { $0 != 0xFF && $0 != 0x7F }, "nothing heard after the clear")

            let metrics = try await server.http("GET", "/metrics").body
            #expect(metrics.contains(#"voicebridge_barge_ins_total{accepted="true"} 1"#))
            // Plivo, Asterisk and Vonage send no `stop`: their sockets just close.
            let ended = [.plivo, .asterisk, .vonage].contains(carrier) ? "socket_closed" : "carrier_stop"
            #expect(metrics.contains(#"voicebridge_calls_ended_total{reason="\#(ended)"} 1"#), "\(metrics)")
        }
    }

    @Test func telnyxWebhooksWithoutAValidEd25519SignatureAreRefused() async throws {
        try await LiveServer.with(configure: Self.signed) { server in
            let body = FormURLEncoded.encode([("CallSid", "v3:abc"), ("From", "+15550001111"), ("To", "+15551230000")])
            let now = Int64(Date().timeIntervalSince1970)
            let good = Self.key.telnyxHeaders(body: Array(body.utf8), timestamp: now)
            let stranger = Ed25519.PrivateKey.random().telnyxHeaders(body: Array(body.utf8), timestamp: now)
            let stale = Self.key.telnyxHeaders(body: Array(body.utf8), timestamp: now - 600)
            let form = [("Content-Type", "application/x-www-form-urlencoded")]
            for (headers, status) in [(good, 200), (stranger, 403), (stale, 403), ([], 403)] {
                let response = try await server.http("POST", "/telnyx/texml", headers: form + headers, body: body)
                #expect(response.status == status, "\(headers.map(\.0)) → \(response.status)")
                if status == 200 {
                    #expect(response.body.contains(#"bidirectionalMode="rtp""#))
                    #expect(response.body.contains("/telnyx/media/"))
                    #expect(response.body.contains("<Redirect"))
                }
            }
            // A tampered body fails too.
            let tampered = body.replacingOccurrences(of: "1111", with: "2222")
            let response = try await server.http("POST", "/telnyx/texml", headers: form + good, body: tampered)
            #expect(response.status == 403)
            #expect(try await server.http("GET", "/metrics").body.contains("voicebridge_signature_failures_total 4"))
        }
    }

    @Test func signalWireWebhooksAreCheckedWithTheSigningKey() async throws {
        try await LiveServer.with(configure: Self.signed) { server in
            let parameters = [("CallSid", "0b7c…"), ("From", "+15550001111"), ("To", "+15551230000")]
            let url = "http://127.0.0.1:\(server.port)/signalwire/cxml"
            let good = TwilioSignature(authToken: Self.signalWireKey).compute(url: url, parameters: parameters)
            let twilios = TwilioSignature(authToken: LiveServer.authToken).compute(url: url, parameters: parameters)
            let form = [("Content-Type", "application/x-www-form-urlencoded")]
            let cases: [([(String, String)], Int)] = [
                ([("X-SignalWire-Signature", good)], 200),
                // Compatibility callbacks may sign in Twilio's header, with the Signing Key.
                ([("X-Twilio-Signature", good)], 200),
                ([("X-SignalWire-Signature", twilios)], 403),
                ([], 403),
            ]
            for (headers, status) in cases {
                let response = try await server.http("POST", "/signalwire/cxml", headers: form + headers, body: Twilio.form(parameters))
                #expect(response.status == status, "\(headers.map(\.0)) → \(response.status)")
                if status == 200 { #expect(response.body.contains("/signalwire/media/")) }
            }
        }
    }

    @Test func plivoRequestsAndTheUpgradeAreCheckedWithSignatureV3() async throws {
        try await LiveServer.with(configure: Self.signed) { server in
            let parameters = [("CallUUID", "1c9e6f5a-2f0e-4b8e-9d61-0a6b1d2c3e4f"), ("From", "+15550001111"), ("To", "+15551230000")]
            let url = "http://127.0.0.1:\(server.port)/plivo/answer"
            let nonce = "12345678901234567890"
            let good = PlivoSignature(authToken: Self.plivoToken).compute(method: .post, url: url, parameters: parameters, nonce: nonce)
            let stranger = PlivoSignature(authToken: "not-the-token").compute(method: .post, url: url, parameters: parameters, nonce: nonce)
            let form = [("Content-Type", "application/x-www-form-urlencoded")]
            let cases: [([(String, String)], Int)] = [
                ([(PlivoSignature.signatureHeader, good), (PlivoSignature.nonceHeader, nonce)], 200),
                // Several signatures, one per key Plivo holds: any one will do.
                ([(PlivoSignature.signatureHeader, "\(stranger),\(good)"), (PlivoSignature.nonceHeader, nonce)], 200),
                ([(PlivoSignature.signatureHeader, stranger), (PlivoSignature.nonceHeader, nonce)], 403),
                ([(PlivoSignature.signatureHeader, good), (PlivoSignature.nonceHeader, "1")], 403),
                ([(PlivoSignature.signatureHeader, good)], 403),
                ([], 403),
            ]
            var streamURL: String?
            for (headers, status) in cases {
                let response = try await server.http("POST", "/plivo/answer", headers: form + headers, body: FormURLEncoded.encode(parameters))
                #expect(response.status == status, "\(headers.map(\.0)) → \(response.status)")
                if status == 200 { streamURL = try PlivoStreamXML.parse(response.body).url }
            }
            // The upgrade: unsigned or wrongly signed is refused before the token is spent; signed opens.
            let url2 = try #require(streamURL)
            let path = String(url2[url2.range(of: "://")!.upperBound...].drop { $0 != "/" })
            guard case .refused(let unsigned) = try await MediaSocket.open(port: server.port, path: path) else {
                Issue.record("an unsigned Plivo upgrade was accepted")
                return
            }
            #expect(unsigned.status == 403)
            let upgradeSignature = PlivoSignature(authToken: Self.plivoToken).compute(method: .get, url: url2, parameters: [], nonce: nonce)
            let socket = try await MediaSocket.connect(
                port: server.port, path: path,
                headers: [(PlivoSignature.signatureHeader, upgradeSignature), (PlivoSignature.nonceHeader, nonce)])
            await socket.close()
        }
    }

    @Test func vonageWebhooksAndTheUpgradeNeedAJWTSignedWithTheSignatureSecret() async throws {
        try await LiveServer.with(configure: Self.signed) { server in
            let body = #"{"from":"15550001111","to":"15551230000","uuid":"leg-1","conversation_uuid":"CON-1"}"#
            let now = Int64(Date().timeIntervalSince1970)
            let good = VonageSignature(secret: Self.vonageSecret).token(body: Array(body.utf8), issuedAt: now)
            let stranger = VonageSignature(secret: "not-the-secret").token(body: Array(body.utf8), issuedAt: now)
            let otherBody = VonageSignature(secret: Self.vonageSecret).token(body: Array("{}".utf8), issuedAt: now)
            let stale = VonageSignature(secret: Self.vonageSecret).token(body: Array(body.utf8), issuedAt: now - 600)
            let json = [("Content-Type", "application/json")]
            var uri: String?
            for (authorization, status) in [(good, 200), (stranger, 403), (otherBody, 403), (stale, 403), (nil, 403)] {
                let headers = json + (authorization.map { [("Authorization", $0)] } ?? [])
                let response = try await server.http("POST", "/vonage/answer", headers: headers, body: body)
                #expect(response.status == status, "\(authorization?.prefix(20) ?? "none") → \(response.status)")
                if status == 200 {
                    let ncco = try VonageConnectWebSocket.parse(response.body)
                    #expect(ncco.signedUpgrade, "the NCCO asks Vonage to sign the upgrade")
                    #expect(ncco.headers.contains { $0 == (VonageDialect.callHeader, "CON-1") })
                    uri = ncco.uri
                }
            }
            #expect(try await server.http("GET", "/metrics").body.contains("voicebridge_signature_failures_total 4"))
            let url = try #require(uri)
            let path = String(url[url.range(of: "://")!.upperBound...].drop { $0 != "/" })
            guard case .refused(let unsigned) = try await MediaSocket.open(port: server.port, path: path) else {
                Issue.record("an unsigned Vonage upgrade was accepted")
                return
            }
            #expect(unsigned.status == 403)
            let upgrade = VonageSignature(secret: Self.vonageSecret).token(body: nil, issuedAt: now)
            let socket = try await MediaSocket.connect(port: server.port, path: path, headers: [("Authorization", upgrade)])
            await socket.close()
        }
    }

    @Test(.timeLimit(.minutes(1)), arguments: SimulatedCarrierKind.allCases)
    func aFlowsTransferIsDialledAfterTheStream(_ carrier: SimulatedCarrierKind) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("telnyx-flow-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try """
        name: transfer
        default: true
        start: go
        blocks:
          go:
            - say: "One moment."
            - redirect: {dial: "+15550009999"}
        """.write(toFile: directory + "/transfer.yaml", atomically: true, encoding: .utf8)
        let flows = ServedFlows(library: try FlowLibrary.load(directory: directory))
        try await LiveServer.with(configure: Self.signed, flows: flows, speech: FullCallTests.speech) { server in
            let result = try await Self.runOne(try Self.simulator(carrier, port: server.port, script: CallScript(maxDurationMs: 15_000)))
            #expect(result.timeline.endReason == .serverClosed)
            // Plivo's `<Dial>` names its target in a `<Number>` noun; on Asterisk the dialplan decides.
            let dial = switch carrier {
            case .plivo: ["<Dial><Number>+15550009999</Number></Dial>"]
            // On Asterisk the dialplan decides; on Exotel the flow's next applet.
            case .asterisk, .exotel: [String]()
            // Vonage runs the answer to the socket leg's `disconnected` as the call's next NCCO.
            case .vonage: [#"[{"action":"connect","endpoint":[{"type":"phone","number":"15550009999"}]}]"#]
            default: ["<Dial>+15550009999</Dial>"]
            }
            #expect(result.timeline.twimlAfterStream == dial)
        }
    }
}

/// Bad input on another carrier's media socket closes that socket only; a Twilio call on the same
/// server keeps streaming.
@Suite struct CarrierMediaSocketTests {
    static let streamID = "32de0dea-53cb-4b21-89a4-9e1819c043bc"

    /// The carriers whose sockets are opened here with an unsigned webhook (no keys configured).
    static let carriers: [SimulatedCarrierKind] = [.telnyx, .signalwire, .plivo, .asterisk, .vonage, .exotel]

    static func peer(_ carrier: SimulatedCarrierKind, callID: String, streamID: String = streamID) -> any CarrierPeerCodec {
        let identity = CallIdentity(callID: callID, streamID: streamID, accountID: "account")
        switch carrier {
        case .twilio: return TwilioCarrierPeer(identity: identity)
        case .telnyx: return TelnyxCarrierPeer(identity: identity)
        case .signalwire: return SignalWireCarrierPeer(identity: identity)
        case .plivo: return PlivoCarrierPeer(identity: identity, epochBaseMs: 1_760_000_000_000)
        // Asterisk names events by channel: another stream is another channel.
        case .asterisk:
            return AsteriskCarrierPeer(identity: CallIdentity(callID: streamID == Self.streamID ? callID : streamID, streamID: streamID, accountID: ""))
        case .vonage: return VonageCarrierPeer()
        case .exotel: return ExotelCarrierPeer(identity: identity)
        default: preconditionFailure("no test peer for \(carrier)")
        }
    }

    /// The answer webhook and the upgrade; returns the open socket.
    static func openStream(_ server: LiveServer, _ carrier: SimulatedCarrierKind, callSid: String) async throws -> MediaSocket {
        // Asterisk has no webhook: it connects straight to the media socket.
        if carrier == .asterisk || carrier == .exotel {
            return try await MediaSocket.connect(port: server.port, path: carrier.defaultWebhookPath)
        }
        if carrier == .vonage {
            let body = #"{"from":"15550001111","to":"15551230000","uuid":"leg-1","conversation_uuid":"\#(callSid)"}"#
            let response = try await server.http("POST", carrier.defaultWebhookPath, headers: [("Content-Type", "application/json")], body: body)
            try #require(response.status == 200, "webhook answered \(response.status): \(response.body)")
            let ncco = try VonageConnectWebSocket.parse(response.body)
            let path = String(ncco.uri[ncco.uri.range(of: "://")!.upperBound...].drop { $0 != "/" })
            return try await MediaSocket.connect(port: server.port, path: path)
        }
        // Plivo names the call CallUUID; the others CallSid.
        let body = FormURLEncoded.encode([("CallSid", callSid), ("CallUUID", callSid), ("From", "+15550001111"), ("To", "+15551230000")])
        let response = try await server.http(
            "POST", carrier.defaultWebhookPath, headers: [("Content-Type", "application/x-www-form-urlencoded")], body: body)
        try #require(response.status == 200, "webhook answered \(response.status): \(response.body)")
        let url = try #require(LiveServer.streamURL(in: response.body))
        let path = String(url[url.range(of: "://")!.upperBound...].drop { $0 != "/" })
        return try await MediaSocket.connect(port: server.port, path: path)
    }

    static func text(_ write: (inout ByteBuffer) -> Void) -> String {
        var buffer = ByteBuffer()
        write(&buffer)
        return String(buffer: buffer)
    }

    /// `connected` (where the carrier has one) and `start`.
    static func start(_ socket: MediaSocket, _ peer: inout any CarrierPeerCodec) async throws {
        var connected = ByteBuffer()
        if peer.writeConnected(into: &connected) { try await socket.sendText(String(buffer: connected)) }
        // Vonage's start carries the NCCO's headers, which name the call.
        let headers = peer is VonageCarrierPeer ? [(VonageDialect.callHeader, "victim-call")] : []
        try await socket.sendText(text { peer.writeStart(from: "+15550001111", to: "+15551230000", customParameters: headers, into: &$0) })
    }

    static func expectOnlyVictimCloses(
        _ carrier: SimulatedCarrierKind, code expected: UInt16, _ attack: (MediaSocket) async throws -> Void
    ) async throws {
        try await LiveServer.with { server in
            let healthy = try await server.startCall(callSid: MediaSocketTests.healthyCallSid, streamSid: MediaSocketTests.healthyStreamSid)
            let victim = try await Self.openStream(server, carrier, callSid: "victim-call")
            var peer = Self.peer(carrier, callID: "victim-call")
            try await Self.start(victim, &peer)
            // Asterisk's calls are named by the server (no webhook named them).
            let victimCall = try await server.calls.waitForEntry {
                ($0.hasPrefix("victim-call") || $0.hasPrefix("asterisk-") || $0.hasPrefix("exotel-")) && $0.hasSuffix(":start")
            }.dropLast(":start".count)
            try await attack(victim)
            let close = try #require(try await victim.closeFrame(), "victim got no close frame")
            #expect(close.closeCode == expected, "\(carrier) close reason: \(close.closeReason)")
            try await server.calls.waitFor("\(victimCall):socketClosed")
            for sequence in 2...4 {
                try await healthy.sendText(Twilio.media(sequence: sequence, streamSid: MediaSocketTests.healthyStreamSid))
                let echo = try #require(try await healthy.nextText(), "healthy call stopped streaming")
                #expect(echo.contains(#""streamSid":"\#(MediaSocketTests.healthyStreamSid)""#))
            }
            await healthy.close()
        }
    }

    @Test(arguments: carriers)
    func malformedJSONClosesWith1007(_ carrier: SimulatedCarrierKind) async throws {
        try await Self.expectOnlyVictimCloses(carrier, code: 1007) { try await $0.sendText(#"{"event":"media","media":{"#) }
    }

    @Test(arguments: carriers)
    func wrongTypesCloseWith1008(_ carrier: SimulatedCarrierKind) async throws {
        let json = switch carrier {
        // Asterisk's digit is a string.
        case .asterisk: #"{"event":"DTMF_END","channel_id":"victim-call","digit":5}"#
        case .vonage: #"{"event":"websocket:dtmf","digit":5,"duration":260}"#
        case .exotel: #"{"event":"dtmf","sequence_number":9,"stream_sid":"\#(Self.streamID)","dtmf":{"digit":5}}"#
        case .telnyx: #"{"event":"mark","stream_id":"\#(Self.streamID)","sequence_number":9,"mark":{"name":"x"}}"#
        // Plivo's counters are numbers: a string is the wrong type.
        case .plivo: #"{"event":"playedStream","streamId":"\#(Self.streamID)","sequenceNumber":"9","name":"x"}"#
        default: #"{"event":"mark","streamSid":"\#(Self.streamID)","sequenceNumber":9,"mark":{"name":"x"}}"#
        }
        try await Self.expectOnlyVictimCloses(carrier, code: 1008) { try await $0.sendText(json) }
    }

    /// Binary where the dialect's messages are all text (Vonage and Asterisk send audio as binary).
    @Test(arguments: carriers.filter { $0 != .asterisk && $0 != .vonage })
    func binaryClosesWith1003(_ carrier: SimulatedCarrierKind) async throws {
        try await Self.expectOnlyVictimCloses(carrier, code: 1003) { socket in
            try await socket.sendFrame(opcode: WSFrame.binary, payload: [UInt8](repeating: 0xFF, count: 160))
        }
    }

    /// Asterisk's audio is binary; audio sent as text is no control message.
    @Test func asteriskAudioAsTextClosesWith1007() async throws {
        try await Self.expectOnlyVictimCloses(.asterisk, code: 1007) { socket in
            try await socket.sendText(String(repeating: "\u{7F}", count: 160))
        }
    }

    @Test func asteriskNeedsItsBasicCredentialsAndAnswersInItsControlFormat() async throws {
        try await LiveServer.with(configure: CarrierCallTests.signed) { server in
            for headers in [[], [("Authorization", BasicCredentials(username: "asterisk", password: "wrong").headerValue)]] {
                guard case .refused(let response) = try await MediaSocket.open(port: server.port, path: "/asterisk/media", headers: headers) else {
                    Issue.record("an Asterisk upgrade without the credentials was accepted")
                    return
                }
                #expect(response.status == 401)
            }
            let good = BasicCredentials(username: "asterisk", password: CarrierCallTests.asteriskPassword).headerValue
            let socket = try await MediaSocket.connect(port: server.port, path: "/asterisk/media?VB_SESSION=s-42", headers: [("Authorization", good)])
            var peer = AsteriskCarrierPeer(
                identity: CallIdentity(callID: "pbx1-1760000000.42", streamID: "e226e283", accountID: ""), controlFormat: .plainText)
            try await socket.sendText(Self.text { peer.writeStart(from: "", to: "", customParameters: [], into: &$0) })
            let call = try await server.calls.waitForEntry { $0.hasPrefix("asterisk-") && $0.hasSuffix(":start") }.dropLast(":start".count)
            // The echo call answers a key with a clear and a mark, in plain text as the peer spoke.
            try await socket.sendText(Self.text { peer.writeDTMF(digit: "5", into: &$0) })
            var commands: [String] = []
            while commands.count < 2, let text = try await socket.nextText(timeout: .seconds(2)) { commands.append(text) }
            #expect(commands.contains("FLUSH_MEDIA"), "\(commands)")
            #expect(commands.contains { $0.hasPrefix("MARK_MEDIA ") }, "\(commands)")
            await socket.close()
            try await server.calls.waitFor("\(call):socketClosed")
        }
    }

    /// Vonage has no stream ids: its second `websocket:connected` is the same mistake.
    @Test func vonagesSecondConnectedClosesWith1008() async throws {
        try await Self.expectOnlyVictimCloses(.vonage, code: 1008) { socket in
            var peer = VonageCarrierPeer()
            try await socket.sendText(Self.text { peer.writeStart(from: "", to: "", customParameters: [], into: &$0) })
        }
    }

    /// Vonage's audio is exactly one binary frame each; text that is not JSON is no event.
    @Test func vonageAudioAsTextClosesWith1007() async throws {
        try await Self.expectOnlyVictimCloses(.vonage, code: 1007) { socket in
            try await socket.sendText(String(repeating: "\u{7F}", count: 640))
        }
    }

    @Test(arguments: carriers.filter { $0 != .vonage })
    func anotherStreamsIDClosesWith1008(_ carrier: SimulatedCarrierKind) async throws {
        try await Self.expectOnlyVictimCloses(carrier, code: 1008) { socket in
            var other = Self.peer(carrier, callID: "victim-call", streamID: "another-stream")
            try await socket.sendText(Self.text { other.writeMarkEcho(name: "x", into: &$0) })
        }
    }

    @Test(arguments: carriers)
    func anOversizedFrameClosesWith1009(_ carrier: SimulatedCarrierKind) async throws {
        try await Self.expectOnlyVictimCloses(carrier, code: 1009) { socket in
            try await socket.sendText(String(repeating: " ", count: 70_000))
        }
    }

    @Test func telnyxMediaOutOfOrderIsDroppedNotFatalAndAnErrorFrameIsOnlyLogged() async throws {
        try await LiveServer.with { server in
            let socket = try await Self.openStream(server, .telnyx, callSid: "v3:jitter")
            var carrier = TelnyxCarrierEncoder(streamID: Self.streamID, callControlID: "v2:jitter", userID: "user")
            try await socket.sendText(Self.text { carrier.writeConnected(into: &$0) })
            try await socket.sendText(Self.text { carrier.writeStart(from: "+15550001111", to: "+15551230000", into: &$0) })
            try await server.calls.waitFor("v3:jitter:start")
            let frame = [UInt8](repeating: 0x55, count: 160)
            for chunk in [1, 3, 2, 4] {
                try await socket.sendText(Self.text { out in frame.withUnsafeBytes { carrier.writeMedia($0, timestampMs: chunk * 20, chunk: chunk, into: &out) } })
            }
            try await socket.sendText(Self.text { carrier.writeError(code: 100_003, title: "malformed_frame", detail: "x", into: &$0) })
            // The echo call answers every media frame passed to it: three, not four.
            var echoes = 0
            while echoes < 3, let text = try await socket.nextText(timeout: .seconds(2)) {
                #expect(text.hasPrefix(#"{"event":"media","media":{"payload":"#), "\(text)")
                echoes += 1
            }
            #expect(echoes == 3)
            let fourth = try? await socket.nextText(timeout: .milliseconds(300))
            #expect(fourth == nil, "a fourth echo: the stale frame was passed on")
            try await socket.sendText(Self.text { carrier.writeStop(into: &$0) })
            let close = try #require(try await socket.closeFrame())
            #expect(close.closeCode == 1000)
        }
    }
}
