import Testing
import VoiceBridgeCarriers

@Suite struct ConnectStreamTwiMLTests {
    @Test func rendersTheConnectStreamResponse() {
        let twiml = ConnectStreamTwiML(
            url: "wss://host/media/TOKEN",
            parameters: [(name: "session", value: "s-42"), (name: "callSid", value: "CA1")]
        )
        #expect(twiml.render() == #"<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://host/media/TOKEN"><Parameter name="session" value="s-42"/><Parameter name="callSid" value="CA1"/></Stream></Connect></Response>"#)
    }

    @Test func rendersOptionalAttributesAndFollowingVerbs() {
        let twiml = ConnectStreamTwiML(
            url: "wss://host/media/T",
            statusCallback: "https://api.example.com/twilio/stream-status",
            statusCallbackMethod: "POST",
            then: [.say(text: "Goodbye", voice: "alice", language: nil), .hangup]
        )
        #expect(twiml.render() == #"<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://host/media/T" statusCallback="https://api.example.com/twilio/stream-status" statusCallbackMethod="POST"/></Connect><Say voice="alice">Goodbye</Say><Hangup/></Response>"#)
    }

    @Test func escapesAttributesAndText() {
        let twiml = ConnectStreamTwiML(
            url: "wss://host/media/a&b<c>\"d'e",
            parameters: [(name: "q\"", value: "1 < 2 & 3 > 2\n\t\r'x'\u{1}")],
            then: [.say(text: "Tom & \"Jerry\" <3 'ok'", voice: nil, language: nil)]
        )
        #expect(twiml.render() == #"<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://host/media/a&amp;b&lt;c&gt;&quot;d&apos;e"><Parameter name="q&quot;" value="1 &lt; 2 &amp; 3 &gt; 2&#10;&#9;&#13;&apos;x&apos;�"/></Stream></Connect><Say>Tom &amp; "Jerry" &lt;3 'ok'</Say></Response>"#)
    }

    @Test func escapedOutputParsesBackToTheSameValues() throws {
        let parameters = [(name: "weird", value: "a&b<c>\"d'e\n\tf\r\ng  h"), (name: "ü✓", value: "😀")]
        let twiml = ConnectStreamTwiML(url: "wss://host/media/x?y&z", parameters: parameters, statusCallback: "https://cb/?a=1&b=2")
        let verbs = try TwiMLDocument.parse(twiml.render())
        #expect(verbs == [.connectStream(twiml.stream)])
    }
}

@Suite struct TwiMLDocumentTests {
    @Test func parsesTheDocumentedWebhookResponse() throws {
        // shared/docs/twilio-media-streams.md §3.
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <Response>
              <Connect>
                <Stream url="wss://media.example.com/twilio/stream/9f1c"
                        statusCallback="https://api.example.com/twilio/stream-status">
                  <Parameter name="session" value="s-42"/>
                  <Parameter name="token" value="opaque-one-time-token"/>
                </Stream>
              </Connect>
              <!-- nothing here => call ends when the server closes the socket -->
            </Response>
            """
        let verbs = try TwiMLDocument.parse(xml)
        #expect(verbs == [.connectStream(TwiMLStream(
            url: "wss://media.example.com/twilio/stream/9f1c",
            statusCallback: "https://api.example.com/twilio/stream-status",
            parameters: [TwiMLParameter(name: "session", value: "s-42"), TwiMLParameter(name: "token", value: "opaque-one-time-token")]
        ))])
    }

    @Test func parsesTheOtherVerbs() throws {
        let xml = """
            <Response>
              <Say voice="Polly.Joanna" language="en-US">Hello &amp; welcome, caller &#35;1 &#x2713;</Say>
              <Pause length="2"/>
              <Pause/>
              <Play loop="3"> https://x/y.wav </Play>
              <Dial callerId="+15550001111" timeout="20">+15551234567</Dial>
              <Dial><Number>+15557654321</Number></Dial>
              <Dial><Sip>sip:agent@example.com</Sip></Dial>
              <Redirect method="POST">https://api.example.com/next</Redirect>
              <Say><![CDATA[a < b]]></Say>
              <Hangup/>
            </Response>
            """
        let verbs = try TwiMLDocument.parse(xml)
        #expect(verbs == [
            .say(text: "Hello & welcome, caller #1 ✓", voice: "Polly.Joanna", language: "en-US"),
            .pause(seconds: 2),
            .pause(seconds: 1),
            .play(url: "https://x/y.wav", loop: 3),
            .dial(TwiMLDial(target: "+15551234567", attributes: [TwiMLParameter(name: "callerId", value: "+15550001111"), TwiMLParameter(name: "timeout", value: "20")])),
            .dial(TwiMLDial(target: "+15557654321", noun: "Number")),
            .dial(TwiMLDial(target: "sip:agent@example.com", noun: "Sip")),
            .redirect(url: "https://api.example.com/next", method: "POST"),
            .say(text: "a < b", voice: nil, language: nil),
            .hangup,
        ])
        if case .dial(let dial) = verbs[4] {
            #expect(dial.attribute("timeout") == "20")
        }
    }

    @Test func renderedVerbsParseBack() throws {
        let verbs: [TwiMLVerb] = [
            .say(text: "a & b < c", voice: "v\"", language: "en"),
            .play(url: "https://x/a?b=1&c=2", loop: 1),
            .play(url: "https://x/b", loop: 0),
            .pause(seconds: 3),
            .dial(TwiMLDial(target: "+1555", noun: "Number", attributes: [TwiMLParameter(name: "action", value: "/after?x=1&y=2")])),
            .redirect(url: "https://x/next", method: nil),
            .hangup,
        ]
        let xml = "<Response>" + verbs.map { $0.render() }.joined() + "</Response>"
        #expect(try TwiMLDocument.parse(xml) == verbs)
    }

    @Test func errors() {
        #expect(throws: TwiMLError.unsupportedVerb("Gather")) { try TwiMLDocument.parse("<Response><Gather/></Response>") }
        #expect(throws: TwiMLError.unsupportedVerb("Connect/Room")) { try TwiMLDocument.parse("<Response><Connect><Room>r</Room></Connect></Response>") }
        #expect(throws: TwiMLError.notTwiML(root: "html")) { try TwiMLDocument.parse("<html/>") }
        #expect(throws: TwiMLError.missingAttribute(element: "Stream", attribute: "url")) {
            try TwiMLDocument.parse("<Response><Connect><Stream/></Connect></Response>")
        }
        #expect(throws: TwiMLError.missingAttribute(element: "Parameter", attribute: "value")) {
            try TwiMLDocument.parse(#"<Response><Connect><Stream url="wss://x"><Parameter name="a"/></Stream></Connect></Response>"#)
        }
        #expect(throws: TwiMLError.invalidAttribute(element: "Pause", attribute: "length", value: "x")) {
            try TwiMLDocument.parse(#"<Response><Pause length="x"/></Response>"#)
        }
        #expect(throws: TwiMLError.invalidContent(element: "Response", reason: #"unexpected text "hi""#)) {
            try TwiMLDocument.parse("<Response>hi<Hangup/></Response>")
        }
        let malformed = [
            "", "<Response>", "<Response></Respons>", "<Response><Hangup></Response>", #"<Response a="1" a="2"/>"#,
            "<!DOCTYPE x [<!ENTITY a 'b'>]><Response/>", "<Response>&bogus;</Response>", "<Response/><Response/>",
            #"<Response x=1/>"#, "<Response><Say>&#xD800;</Say></Response>",
        ]
        for xml in malformed {
            do {
                _ = try TwiMLDocument.parse(xml)
                Issue.record("accepted \(xml.debugDescription)")
            } catch {
                guard case .malformedXML = error else {
                    Issue.record("\(xml.debugDescription) gave \(error)")
                    continue
                }
            }
        }
    }

    @Test func emptyResponseHasNoVerbs() throws {
        #expect(try TwiMLDocument.parse(#"<?xml version="1.0"?><Response/>"#).isEmpty)
        #expect(try TwiMLDocument.parse("\u{FEFF}<Response>\n</Response>\n").isEmpty)
    }
}
