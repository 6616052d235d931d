import Foundation
import Testing
import VoiceBridgeCalls
import VoiceBridgeCarriers
@testable import VoiceBridgeServer

/// The voice webhook and status callback over real sockets.
///
/// Signature vectors were computed independently of this code, with Python's hmac module and
/// the algorithm of docs/twilio-media-streams.md §4.1 (URL + sorted name/value pairs, HMAC-SHA1
/// keyed by the auth token, base64):
///
///     def sig(token, url, params):
///         s = url + ''.join(k + v for k, v in sorted(params.items()))
///         return base64.b64encode(hmac.new(token.encode(), s.encode(), hashlib.sha1).digest()).decode()
///
/// with token "test-auth-token-0123456789abcdef" and `webhookParameters` below.
@Suite struct WebhookTests {
    static let webhookParameters: [(String, String)] = [
        ("CallSid", Twilio.callSid),
        ("AccountSid", Twilio.accountSid),
        ("From", "+15551234567"),
        ("To", "+15557654321"),
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
    ]
    /// sig(token, "https://voice.example.com/twiml", params)
    static let signature = "0jD42jUImff//WHzcMejbEPqsWk="
    /// sig(token, "https://voice.example.com:443/twiml", params): Twilio's port quirk.
    static let signatureWithPort = "6ZlogeCcLaoYaMlwL0gesDKh9SM="
    /// sig(token, "https://voice.example.com/twiml?flow=demo", params)
    static let signatureWithQuery = "4iflscP45S6vgmeiR5IQ4rNYLic="
    /// sig(token, "https://voice.example.com/status", CallSid, AccountSid, CallStatus=completed)
    static let statusSignature = "fOfnZeQR1G/qWxMXmZF1PjPXFR4="

    static func post(_ server: LiveServer, _ path: String, signature: String?, parameters: [(String, String)] = webhookParameters) async throws -> RawHTTPResponse {
        try await server.http(
            "POST", path,
            headers: signature.map { [("X-Twilio-Signature", $0)] } ?? [],
            body: Twilio.form(parameters)
        )
    }

    @Test func signatureAlgorithmMatchesTheDocumentedRecipe() {
        // The recipe's own example, computed with Python (see the suite comment): token "12345".
        let signature = TwilioSignature(authToken: "12345")
        #expect(signature.compute(url: "https://example.com/voice", parameters: [("From", "+1555"), ("CallSid", "CA1")]) == "gVQFB32LVIBlKnVDsJUmY5defnk=")
    }

    @Test func validSignatureGetsTwiML() async throws {
        try await LiveServer.with { server in
            let response = try await Self.post(server, "/twiml", signature: Self.signature)
            #expect(response.status == 200)
            #expect(response.header("Content-Type")?.hasPrefix("text/xml") == true)
            #expect(response.body.contains("<Connect action=\"https://voice.example.com/connect-action\"><Stream url=\"wss://voice.example.com/media/"))
        }
    }

    @Test func portVariantOfTheURLIsAccepted() async throws {
        try await LiveServer.with { server in
            let response = try await Self.post(server, "/twiml", signature: Self.signatureWithPort)
            #expect(response.status == 200)
        }
    }

    @Test func queryStringIsPartOfTheSignedURL() async throws {
        try await LiveServer.with { server in
            let r1 = try await Self.post(server, "/twiml?flow=demo", signature: Self.signatureWithQuery)
            #expect(r1.status == 200)
            // The same signature without the query it covered does not verify.
            let r2 = try await Self.post(server, "/twiml", signature: Self.signatureWithQuery)
            #expect(r2.status == 403)
        }
    }

    @Test(arguments: [
        ("wrong", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        ("missing", nil),
        ("empty", ""),
        ("other endpoint's", WebhookTests.statusSignature),
    ] as [(String, String?)])
    func badSignatureIsForbidden(_ name: String, _ signature: String?) async throws {
        try await LiveServer.with { server in
            let response = try await Self.post(server, "/twiml", signature: signature)
            #expect(response.status == 403, "\(name) signature")
            #expect(!response.body.contains("<Response>"))
        }
    }

    @Test func tamperedParametersAreForbidden() async throws {
        try await LiveServer.with { server in
            var tampered = Self.webhookParameters
            tampered[2] = ("From", "+15550000000")
            let r3 = try await Self.post(server, "/twiml", signature: Self.signature, parameters: tampered)
            #expect(r3.status == 403)
            let extra = Self.webhookParameters + [("Injected", "1")]
            let r4 = try await Self.post(server, "/twiml", signature: Self.signature, parameters: extra)
            #expect(r4.status == 403)
        }
    }

    @Test func hostHeaderIsNotTrusted() async throws {
        // Signed for the URL the request actually hit (127.0.0.1:port), not the public URL.
        try await LiveServer.with { server in
            let local = TwilioSignature(authToken: LiveServer.authToken)
                .compute(url: "http://127.0.0.1:\(server.port)/twiml", parameters: Self.webhookParameters)
            let r5 = try await Self.post(server, "/twiml", signature: local)
            #expect(r5.status == 403)
        }
    }

    @Test func withoutAuthTokenWebhooksAreNotChecked() async throws {
        try await LiveServer.with(configure: { $0.twilioAuthToken = nil }) { server in
            let r6 = try await Self.post(server, "/twiml", signature: nil)
            #expect(r6.status == 200)
        }
    }

    @Test func missingCallSidIsABadRequest() async throws {
        try await LiveServer.with(configure: { $0.twilioAuthToken = nil }) { server in
            let r7 = try await Self.post(server, "/twiml", signature: nil, parameters: [("From", "+1555")])
            #expect(r7.status == 400)
        }
    }

    @Test func getWebhookSignsTheQueryOnly() async throws {
        // sig(token, "https://voice.example.com/twiml?CallSid=CA0123456789abcdef0123456789abcdef&From=%2B15551234567&To=%2B15557654321", {})
        let query = "CallSid=CA0123456789abcdef0123456789abcdef&From=%2B15551234567&To=%2B15557654321"
        try await LiveServer.with { server in
            let ok = try await server.http("GET", "/twiml?" + query, headers: [("X-Twilio-Signature", "Nxc4lSYJLlQ83sh1Pp/bx3CoXOI=")])
            #expect(ok.status == 200)
            #expect(ok.body.contains(#"<Parameter name="From" value="+15551234567"/>"#))
            let tampered = query.replacingOccurrences(of: "%2B1555123", with: "%2B1555000")
            let refused = try await server.http("GET", "/twiml?" + tampered, headers: [("X-Twilio-Signature", "Nxc4lSYJLlQ83sh1Pp/bx3CoXOI=")])
            #expect(refused.status == 403)
        }
    }

    @Test func twimlHasTheExactShape() async throws {
        try await LiveServer.with { server in
            let response = try await Self.post(server, "/twiml", signature: Self.signature)
            let url = try #require(LiveServer.streamURL(in: response.body))
            let token = String(url.dropFirst("wss://voice.example.com/media/".count))
            #expect(url.hasPrefix("wss://voice.example.com/media/"))
            #expect(!token.isEmpty && !token.contains("/") && !token.contains("?"))
            let expected =
                #"<?xml version="1.0" encoding="UTF-8"?><Response><Connect action="https://voice.example.com/connect-action">"#
                + #"<Stream url="wss://voice.example.com/media/"#
                + token
                + #""><Parameter name="From" value="+15551234567"/><Parameter name="To" value="+15557654321"/>"#
                + #"<Parameter name="CallSid" value="CA0123456789abcdef0123456789abcdef"/></Stream></Connect></Response>"#
            #expect(response.body == expected)
        }
    }

    @Test func plainHTTPPublicURLGivesWSStreams() async throws {
        try await LiveServer.with(configure: {
            $0.publicURL = "http://bridge.test:8080/"
            $0.twilioAuthToken = nil
        }) { server in
            let response = try await Self.post(server, "/twiml", signature: nil)
            let url = try #require(LiveServer.streamURL(in: response.body))
            #expect(url.hasPrefix("ws://bridge.test:8080/media/"))
        }
    }

    @Test func unsetPublicURLDerivesTheLocalOne() async throws {
        try await LiveServer.with(configure: {
            $0.publicURL = nil
            $0.twilioAuthToken = nil
        }) { server in
            let response = try await Self.post(server, "/twiml", signature: nil)
            let url = try #require(LiveServer.streamURL(in: response.body))
            #expect(url.hasPrefix("ws://127.0.0.1:\(server.port)/media/"))
        }
    }

    @Test func parameterValuesAreEscapedInTwiML() async throws {
        try await LiveServer.with(configure: { $0.twilioAuthToken = nil }) { server in
            let response = try await Self.post(
                server, "/twiml", signature: nil,
                parameters: [("CallSid", "CA1"), ("From", #"<"a"&'b'>"#)]
            )
            #expect(response.body.contains(#"<Parameter name="From" value="&lt;&quot;a&quot;&amp;&apos;b&apos;&gt;"/>"#))
        }
    }

    @Test func statusCallbackNeedsASignature() async throws {
        try await LiveServer.with { server in
            let parameters = [("CallSid", Twilio.callSid), ("AccountSid", Twilio.accountSid), ("CallStatus", "completed")]
            let r8 = try await Self.post(server, "/status", signature: nil, parameters: parameters)
            #expect(r8.status == 403)
            let r9 = try await Self.post(server, "/status", signature: Self.statusSignature, parameters: parameters)
            #expect(r9.status == 204)
        }
    }

    @Test func terminalStatusCallbackEndsTheLiveCallOnce() async throws {
        try await LiveServer.with { server in
            let socket = try await server.startCall()
            try await server.calls.waitFor("\(Twilio.callSid):start")
            let parameters = [("CallSid", Twilio.callSid), ("AccountSid", Twilio.accountSid), ("CallStatus", "completed")]
            let r10 = try await Self.post(server, "/status", signature: Self.statusSignature, parameters: parameters)
            #expect(r10.status == 204)
            let close = try #require(try await socket.closeFrame())
            #expect(close.closeCode == 1000)
            try await server.calls.waitFor("\(Twilio.callSid):socketClosed")
            // A repeated callback finds nothing live: idempotent.
            let r11 = try await Self.post(server, "/status", signature: Self.statusSignature, parameters: parameters)
            #expect(r11.status == 204)
            try await server.waitForActiveCalls(0)
            #expect(server.calls.count("\(Twilio.callSid):status:completed") == 1)
            #expect(server.calls.count("\(Twilio.callSid):socketClosed") == 1)
        }
    }

    @Test func anUnusedStreamTokenOpensNothingAfterTheCallsTerminalStatus() async throws {
        try await LiveServer.with { server in
            let path = try await server.streamPath()
            let parameters = [("CallSid", Twilio.callSid), ("AccountSid", Twilio.accountSid), ("CallStatus", "completed")]
            let status = try await Self.post(server, "/status", signature: Self.statusSignature, parameters: parameters)
            #expect(status.status == 204)
            let outcome = try await MediaSocket.open(
                port: server.port, path: path, headers: [("X-Twilio-Signature", server.sign("wss://voice.example.com" + path))])
            guard case .refused(let response) = outcome else {
                Issue.record("the ended call's stream opened")
                return
            }
            #expect(response.status == 403)
            #expect(response.body.contains("already ended"), "\(response.body)")
            try await server.waitForActiveCalls(0)
        }
    }

    @Test func nonTerminalStatusLeavesTheCallAlone() async throws {
        try await LiveServer.with(configure: { $0.twilioAuthToken = nil }) { server in
            let socket = try await server.startCall()
            try await server.calls.waitFor("\(Twilio.callSid):start")
            let parameters = [("CallSid", Twilio.callSid), ("CallStatus", "in-progress")]
            let r12 = try await Self.post(server, "/status", signature: nil, parameters: parameters)
            #expect(r12.status == 204)
            try await socket.sendText(Twilio.media(sequence: 2))
            let r13 = try await socket.nextText()
            #expect(r13 != nil)
            await socket.close()
        }
    }
}
