import Testing
@testable import VoiceBridgeRelay

/// Every message the bridge sends, as exact JSON text (doc §3), and strict validation of what
/// the app sends (doc §4).
@Suite struct RelayCodecTests {
    @Test func setupCarriesEveryDocumentedFieldWithItsType() {
        let setup = RelaySetup(
            sessionId: "VX0123456789abcdef0123456789abcdef", accountSid: "AC0123456789abcdef0123456789abcdef",
            callSid: "CA0123456789abcdef0123456789abcdef", from: "+15557650001", to: "+15557650002",
            forwardedFrom: "+15557650002", customParameters: ["voiceSession": "vs_42", "tenant": "acme"])
        #expect(RelayCodec.encode(.setup(setup)) == """
            {"type":"setup","sessionId":"VX0123456789abcdef0123456789abcdef","accountSid":"AC0123456789abcdef0123456789abcdef",\
            "callSid":"CA0123456789abcdef0123456789abcdef","parentCallSid":"","from":"+15557650001","to":"+15557650002",\
            "forwardedFrom":"+15557650002","callerName":"","direction":"inbound","callType":"PSTN","callStatus":"RINGING",\
            "customParameters":{"tenant":"acme","voiceSession":"vs_42"}}
            """)
        var empty = setup
        empty.customParameters = [:]
        #expect(RelayCodec.encode(.setup(empty)).hasSuffix(#""callStatus":"RINGING","customParameters":{}}"#))
    }

    @Test func everyOtherOutboundMessageIsExact() {
        #expect(RelayCodec.encode(.dtmf(digit: "5")) == #"{"type":"dtmf","digit":"5"}"#)
        #expect(RelayCodec.encode(.interrupt(utteranceUntilInterrupt: "Your balance as of", durationUntilInterruptMs: 720))
            == #"{"type":"interrupt","utteranceUntilInterrupt":"Your balance as of","durationUntilInterruptMs":720}"#)
        #expect(RelayCodec.encode(.info(name: "agentSpeaking", value: "on")) == #"{"type":"info","name":"agentSpeaking","value":"on"}"#)
        #expect(RelayCodec.encode(.info(name: "clientSpeaking", value: "off")) == #"{"type":"info","name":"clientSpeaking","value":"off"}"#)
        #expect(RelayCodec.encode(.info(name: "tokensPlayed", value: "Thanks for calling."))
            == #"{"type":"info","name":"tokensPlayed","value":"Thanks for calling."}"#)
        #expect(RelayCodec.encode(.callerTurnEnded(durationMs: 1840, interruptedAgent: false))
            == #"{"type":"info","name":"x-voicebridge.callerTurn","value":"end","durationMs":1840,"interruptedAgent":false}"#)
        #expect(RelayCodec.encode(.capabilities("stt=none;tts=elevenlabs;vad=on"))
            == #"{"type":"info","name":"x-voicebridge.capabilities","value":"stt=none;tts=elevenlabs;vad=on"}"#)
        #expect(RelayCodec.encode(.error(description: #"Invalid message received, code: 64107, {"type":"speak"}"#))
            == #"{"type":"error","description":"Invalid message received, code: 64107, {\"type\":\"speak\"}"}"#)
    }

    @Test func stringsAreEscapedAsJSON() {
        #expect(RelayCodec.encode(.info(name: "tokensPlayed", value: "a\"b\\c\nd\u{01}é"))
            == #"{"type":"info","name":"tokensPlayed","value":"a\"b\\c\nd\u0001é"}"#)
    }

    @Test func textKeepsItsTokenUntrimmedAndItsOptionalFields() throws {
        #expect(try RelayCodec.decode(#"{"type":"text","token":" is moved to Friday.","last":true}"#)
            == .text(RelayText(token: " is moved to Friday.", last: true)))
        #expect(try RelayCodec.decode(#"{"type":"text","token":"Hola","lang":"es-ES","interruptible":false,"preemptible":true}"#)
            == .text(RelayText(token: "Hola", last: false, lang: "es-ES", interruptible: false, preemptible: true)))
        #expect(try RelayCodec.decode(#"{"type":"text","token":"","last":true}"#) == .text(RelayText(token: "", last: true)))
        // Fields the protocol does not define are ignored, as on Twilio.
        #expect(try RelayCodec.decode(#"{"type":"text","token":"x","future":1}"#) == .text(RelayText(token: "x")))
        #expect(try RelayCodec.decode("{\"type\":\"text\",\"token\":\"\\u00e9\\ud83d\\ude00\"}") == .text(RelayText(token: "é😀")))
    }

    @Test func playSendDigitsLanguageAndEndDecode() throws {
        #expect(try RelayCodec.decode(#"{"type":"play","source":"https://media.example.com/hold.wav","loop":2,"interruptible":true}"#)
            == .play(RelayPlay(source: "https://media.example.com/hold.wav", loop: 2, interruptible: true)))
        #expect(try RelayCodec.decode(#"{"type":"play","source":"welcome","loop":0}"#) == .play(RelayPlay(source: "welcome", loop: 1000)))
        #expect(try RelayCodec.decode(#"{"type":"sendDigits","digits":"w1234#"}"#) == .sendDigits("w1234#"))
        #expect(try RelayCodec.decode(#"{"type":"language","ttsLanguage":"es-ES","transcriptionLanguage":"es-ES"}"#)
            == .language(ttsLanguage: "es-ES", transcriptionLanguage: "es-ES"))
        #expect(try RelayCodec.decode(#"{"type":"language","transcriptionLanguage":"fr-FR"}"#)
            == .language(ttsLanguage: nil, transcriptionLanguage: "fr-FR"))
        #expect(try RelayCodec.decode(#"{"type":"end","handoffData":"{\"reason\":\"transfer\"}"}"#)
            == .end(handoffData: #"{"reason":"transfer"}"#))
        #expect(try RelayCodec.decode(#"{"type":"end"}"#) == .end(handoffData: nil))
    }

    @Test(arguments: [
        (#"{"type":"speak"}"#, "unknown type speak"),
        (#"{"token":"hi"}"#, "missing field type"),
        (#"{"type":3}"#, "type must be a string, got number"),
        (#"{"type":"text"}"#, "missing field token"),
        (#"{"type":"text","token":null}"#, "token must be a string, got null"),
        (#"{"type":"text","token":"a","last":"true"}"#, "last must be a boolean, got string"),
        (#"{"type":"text","token":"a","last":1}"#, "last must be a boolean, got number"),
        (#"{"type":"text","token":"a","interruptible":"any"}"#, "interruptible must be a boolean, got string"),
        (#"{"type":"text","token":"a","lang":""}"#, "lang must not be empty"),
        (#"{"type":"play"}"#, "missing field source"),
        (#"{"type":"play","source":"x","loop":1.5}"#, "loop must be an integer, got number"),
        (#"{"type":"play","source":"x","loop":-1}"#, "loop must be 0 or more"),
        (#"{"type":"sendDigits","digits":""}"#, "digits must not be empty"),
        (#"{"type":"sendDigits","digits":"12a"}"#, "digits may hold only 0-9, *, # and w"),
        (#"{"type":"sendDigits","digits":""#+String(repeating: "w", count: 1300)+#""}"#, "digits would play for 650 s; at most 600 s at once"),
        (#"{"type":"language"}"#, "language needs ttsLanguage or transcriptionLanguage"),
        (#"{"type":"end","handoffData":{"a":1}}"#, "handoffData must be a string, got object"),
        (#"["text"]"#, "a message must be a JSON object, got array"),
    ])
    func invalidMessagesNameWhatIsWrong(frame: String, reason: String) {
        #expect(throws: RelayMessageError(reason: reason, frame: frame)) { try RelayCodec.decode(frame) }
    }

    @Test(arguments: ["", "{", #"{"type":"text","token":"a"} x"#, #"{"type":"text","type":"end"}"#, "{'type':'end'}", #"{"a":tru}"#])
    func malformedJSONIsInvalid(frame: String) {
        #expect(throws: RelayMessageError.self) { try RelayCodec.decode(frame) }
    }

    @Test func theErrorUsesTwiliosWordingWithTheFrame() {
        let error = RelayMessageError(reason: "unknown type speak", frame: #"{"type":"speak"}"#)
        #expect(error.errorDescription == #"Invalid message received, code: 64107, {"type":"speak"}"#)
        let long = RelayMessageError(reason: "x", frame: String(repeating: "a", count: 5000))
        #expect(long.frame.count == 1024)
    }

    @Test func theTenthInvalidMessageInARowCloses() {
        var counter = RelayInvalidMessageCounter()
        var closes: [Bool] = []
        for _ in 1...9 { closes.append(counter.invalid()) }
        counter.valid()
        for _ in 1...10 { closes.append(counter.invalid()) }
        #expect(closes == [Bool](repeating: false, count: 18) + [true])
        #expect(RelayInvalidMessageCounter.closeCode == 1007)
    }

    @Test func eventsAndInterruptibleOverridesFollowTheAttributes() {
        #expect(RelayConfiguration.parseEvents("speaker-events tokens-played debugging") == [.speakerEvents, .tokensPlayed])
        #expect(RelayConfiguration.parseEvents("x-voicebridge-turns") == [.voiceBridgeTurns])
        var c = RelayConfiguration(url: "wss://a/b")
        c.interruptible = .speech
        #expect(c.interruptible(override: nil) == .speech)
        #expect(c.interruptible(override: true) == .speech)
        #expect(c.interruptible(override: false) == Interruptible.none)
        c.interruptible = .none
        #expect(c.interruptible(override: true) == .any)
    }

    @Test func urlsSplitForTheClientAndTheHostHeader() throws {
        let a = try RelayURL(parsing: "wss://app.example.com/relay?x=1")
        #expect(a.tls && a.host == "app.example.com" && a.port == 443 && a.target == "/relay?x=1" && a.hostHeader == "app.example.com")
        let b = try RelayURL(parsing: "ws://127.0.0.1:9000")
        #expect(!b.tls && b.port == 9000 && b.target == "/" && b.hostHeader == "127.0.0.1:9000")
        let c = try RelayURL(parsing: "ws://[::1]:8080/r")
        #expect(c.host == "::1" && c.hostHeader == "[::1]:8080")
        #expect(throws: RelayConnectError.self) { try RelayURL(parsing: "https://app.example.com") }
        #expect(throws: RelayConnectError.self) { try RelayURL(parsing: "ws://host:99999/") }
    }

    @Test func digitsBecomeTonesWithHalfSecondPauses() throws {
        let tones = try RelayAudio.digitTones("1w#")
        #expect(tones.count == (200 + 500 + 200) * 8)
    }
}

import VoiceBridgeCalls
