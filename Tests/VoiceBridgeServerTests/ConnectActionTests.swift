import Testing
import VoiceBridgeCarriers
@testable import VoiceBridgeServer

/// `<Connect action>`: what Twilio runs once the media socket closes.
@Suite struct ConnectActionTests {
    static let parameters = [("CallSid", "CA0123456789abcdef0123456789abcdef"), ("AccountSid", Twilio.accountSid), ("CallStatus", "in-progress")]

    @Test func withoutATransferTheCallHangsUp() async throws {
        try await LiveServer.with { server in
            let signature = server.sign(LiveServer.publicURL + "/connect-action", Self.parameters)
            let response = try await server.http(
                "POST", "/connect-action", headers: [("X-Twilio-Signature", signature)], body: Twilio.form(Self.parameters))
            #expect(response.status == 200)
            #expect(response.header("Content-Type")?.hasPrefix("text/xml") == true)
            #expect(response.body == #"<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>"#)
        }
    }

    @Test func anUnsignedRequestIsRefused() async throws {
        try await LiveServer.with { server in
            let response = try await server.http("POST", "/connect-action", body: Twilio.form(Self.parameters))
            #expect(response.status == 403)
            let forged = try await server.http(
                "POST", "/connect-action", headers: [("X-Twilio-Signature", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")], body: Twilio.form(Self.parameters))
            #expect(forged.status == 403)
        }
    }

    @Test func aTransferIsAnsweredOnceWithDial() throws {
        let transfers = CallParameterStore(capacity: 10, ttlSeconds: 60)
        transfers.remember(callSid: "CA1", parameters: ["dial": "+15551230001"])
        #expect(transfers.take(callSid: "CA1") == ["dial": "+15551230001"])
        #expect(transfers.take(callSid: "CA1") == nil)
        let dial = TwiMLVerb.dial(TwiMLDial(target: "+1555<&>")).render()
        #expect(dial == "<Dial>+1555&lt;&amp;&gt;</Dial>")
    }
}
