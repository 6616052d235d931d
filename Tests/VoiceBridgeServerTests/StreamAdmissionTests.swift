import Foundation
import Testing
import VoiceBridgeCarriers
@testable import VoiceBridgeServer

/// Who may open a media socket: one-time token in the path, signature on the upgrade, capacity.
@Suite struct StreamAdmissionTests {
    static func upgradeSignature(_ server: LiveServer, _ path: String) -> [(String, String)] {
        [("X-Twilio-Signature", server.sign("wss://voice.example.com" + path))]
    }

    static func expectRefused(_ server: LiveServer, _ path: String, status: Int, headers: [(String, String)]? = nil) async throws {
        switch try await MediaSocket.open(port: server.port, path: path, headers: headers ?? upgradeSignature(server, path)) {
        case .opened(let socket):
            await socket.close()
            Issue.record("upgrade to \(path) was accepted")
        case .refused(let response):
            #expect(response.status == status, "\(response.body)")
        }
    }

    @Test func garbageTokenIsRefused() async throws {
        try await LiveServer.with { server in
            try await Self.expectRefused(server, "/media/not-a-token", status: 403)
        }
    }

    @Test func tamperedTokenIsRefused() async throws {
        try await LiveServer.with { server in
            let path = try await server.streamPath()
            for offset in [8, path.count / 2, path.count - 2] {
                var characters = Array(path)
                characters[offset] = characters[offset] == "A" ? "B" : "A"
                try await Self.expectRefused(server, String(characters), status: 403)
            }
            // The untouched token still works: the tampered ones were refused on their own merit.
            let socket = try await MediaSocket.connect(port: server.port, path: path, headers: Self.upgradeSignature(server, path))
            await socket.close()
        }
    }

    @Test func expiredTokenIsRefused() async throws {
        try await LiveServer.with { server in
            let minter = MediaStreamTokenMinter(secret: Array(LiveServer.tokenSecret.utf8))
            let token = minter.mint(
                callSid: Twilio.callSid,
                expiresAt: StreamTokens.unixNow() - 1,
                nonce: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
            )
            try await Self.expectRefused(server, "/media/" + token, status: 403)
        }
    }

    @Test func tokenFromAnotherSecretIsRefused() async throws {
        try await LiveServer.with { server in
            let token = MediaStreamTokenMinter(secret: Array("another-secret-of-enough-bytes".utf8))
                .mint(callSid: Twilio.callSid, expiresAt: StreamTokens.unixNow() + 60, nonce: Array(repeating: 7, count: 16))
            try await Self.expectRefused(server, "/media/" + token, status: 403)
        }
    }

    @Test func tokenIsSingleUse() async throws {
        try await LiveServer.with { server in
            let path = try await server.streamPath()
            let first = try await MediaSocket.connect(port: server.port, path: path, headers: Self.upgradeSignature(server, path))
            try await Self.expectRefused(server, path, status: 403)
            await first.close()
            // Still refused after the first socket is gone.
            try await Self.expectRefused(server, path, status: 403)
        }
    }

    @Test func upgradeWithoutSignatureIsRefusedAndKeepsTheToken() async throws {
        try await LiveServer.with { server in
            let path = try await server.streamPath()
            try await Self.expectRefused(server, path, status: 403, headers: [])
            try await Self.expectRefused(server, path, status: 403, headers: [("X-Twilio-Signature", "bm9wZQ==")])
            // The refusals did not burn the token: Twilio's properly signed upgrade still works.
            let socket = try await MediaSocket.connect(port: server.port, path: path, headers: Self.upgradeSignature(server, path))
            await socket.close()
        }
    }

    @Test func upgradeSignedOverTheHTTPSSpellingOrWithPortIsAccepted() async throws {
        try await LiveServer.with { server in
            let path1 = try await server.streamPath()
            let s1 = try await MediaSocket.connect(
                port: server.port, path: path1, headers: [("X-Twilio-Signature", server.sign("https://voice.example.com" + path1))]
            )
            await s1.close()
            let path2 = try await server.streamPath()
            let s2 = try await MediaSocket.connect(
                port: server.port, path: path2, headers: [("X-Twilio-Signature", server.sign("wss://voice.example.com:443" + path2))]
            )
            await s2.close()
        }
    }

    @Test func logModeAcceptsABadUpgradeSignature() async throws {
        try await LiveServer.with(configure: { $0.signatureMode = .log }) { server in
            let path = try await server.streamPath()
            let socket = try await MediaSocket.connect(port: server.port, path: path, headers: [])
            try await socket.sendText(Twilio.connected())
            try await socket.sendText(Twilio.start(callSid: Twilio.callSid))
            try await server.calls.waitFor("\(Twilio.callSid):start")
            let metrics = try await server.http("GET", "/metrics")
            #expect(metrics.body.contains("voicebridge_signature_failures_total 1"))
            await socket.close()
        }
    }

    @Test func logModeStillNeedsAValidToken() async throws {
        try await LiveServer.with(configure: { $0.signatureMode = .log }) { server in
            try await Self.expectRefused(server, "/media/forged", status: 403, headers: [])
        }
    }

    @Test func upgradeOnAnotherPathIsNotFound() async throws {
        try await LiveServer.with { server in
            try await Self.expectRefused(server, "/healthz", status: 404)
        }
    }

    @Test func upgradesBeyondCapacityAreRefused() async throws {
        try await LiveServer.with(configure: { $0.maxConcurrentCalls = 1 }) { server in
            let first = try await server.startCall()
            try await server.waitForActiveCalls(1)
            let path = try await server.streamPath(callSid: "CA22222222222222222222222222222222")
            try await Self.expectRefused(server, path, status: 503)
            await first.close()
        }
    }

    @Test func plainGetOnAMediaURLIsABadRequest() async throws {
        try await LiveServer.with { server in
            let r1 = try await server.http("GET", "/media/anything")
            #expect(r1.status == 400)
        }
    }
}
