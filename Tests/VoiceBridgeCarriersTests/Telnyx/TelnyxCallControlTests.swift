import Testing
import VoiceBridgeCarriers

@Suite struct TelnyxCallControlCodecTests {
    /// A `call.initiated` as Telnyx delivers it (shape from public captures: nulls, arrays and
    /// fields the bridge does not use included).
    static let initiated = #"""
        {"data":{"event_type":"call.initiated","id":"b97d4d5e-6fe7-4432-911f-79637bf6ebb7","occurred_at":"2025-11-23T03:30:00.076316Z",
        "payload":{"call_control_id":"v3:2EC-70CTEjlUq3tDM0CxKXIt5-5N4iP4wo7_-PfH-qub97Sk4EqO5w","call_leg_id":"b0e6224c-c81c-11f0-afbb-02420aef93a0",
        "call_session_id":"b0e6141e-c81c-11f0-abac-02420aef93a0","caller_id_name":"+18124040851","calling_party_type":"pstn",
        "client_state":null,"connection_codecs":"PCMA,PCMU,VP8,H264","connection_id":"2811212257810187875","custom_headers":[{"name":"X-A","value":"1"}],
        "direction":"incoming","from":"+18124040851","offered_codecs":"PCMU,G729","start_time":"2025-11-23T03:30:00.076316Z",
        "state":"parked","to":"+13057864498"},"record_type":"event"},"meta":{"attempt":1,"delivered_to":"https://example.com/telnyx"}}
        """#

    @Test func aCapturedCallInitiatedIsRead() throws {
        let event = try TelnyxCallControlEvent.parse(Array(Self.initiated.utf8))
        #expect(event.eventType == "call.initiated")
        #expect(event.callControlID == "v3:2EC-70CTEjlUq3tDM0CxKXIt5-5N4iP4wo7_-PfH-qub97Sk4EqO5w")
        #expect(event.direction == "incoming")
        #expect(event.clientState == nil)
        #expect(event.flowParameters["From"] == "+18124040851")
        #expect(event.flowParameters["To"] == "+13057864498")
        #expect(event.flowParameters["Direction"] == "inbound")
        #expect(event.flowParameters["CallSid"] == event.callControlID)
    }

    @Test func aRenderedEventReadsBackTheSame() throws {
        let event = TelnyxCallControlEvent(
            eventType: "call.hangup", id: "e1", occurredAt: "2026-12-05T10:00:00Z", callControlID: "v3:abc", callLegID: "leg",
            callSessionID: "session", connectionID: "123", direction: "incoming", from: "+1555", to: "+1666",
            clientState: "c3RhdGU=", hangupCause: "normal_clearing")
        #expect(try TelnyxCallControlEvent.parse(Array(event.render(deliveredTo: "https://x/y").utf8)) == event)
    }

    @Test(arguments: [
        ("[]", "the body is not a JSON object"),
        (#"{"data":{"payload":{"call_control_id":"v3:a"}}}"#, "data.event_type missing"),
        (#"{"data":{"event_type":"call.hangup"}}"#, "data.payload missing"),
        (#"{"data":{"event_type":"call.hangup","payload":{"call_control_id":7}}}"#, "data.payload.call_control_id missing"),
    ])
    func aBodyThatIsNoEventSaysWhy(_ body: String, _ reason: String) {
        #expect(throws: TelnyxCallControlError.invalidEvent(reason)) { try TelnyxCallControlEvent.parse(Array(body.utf8)) }
    }

    @Test func commandsAreWrittenExactlyAndReadBackBySimulatorsTelnyx() throws {
        let answer = TelnyxCallControlCommand.answer(TelnyxStreamRequest(url: "wss://bridge.example/telnyx/media/T", codec: "L16", samplingRate: 16000))
        #expect(answer.body(commandID: "answer-1") == #"{"stream_url":"wss://bridge.example/telnyx/media/T","stream_track":"inbound_track","stream_bidirectional_mode":"rtp","stream_bidirectional_codec":"L16","stream_bidirectional_sampling_rate":16000,"command_id":"answer-1"}"#)
        #expect(TelnyxCallControlCommand.hangup.body(commandID: "h") == #"{"command_id":"h"}"#)
        #expect(TelnyxCallControlCommand.transfer(to: "+15550009999").body(commandID: "t") == #"{"to":"+15550009999","command_id":"t"}"#)
        for command in [answer, .hangup, .transfer(to: "sip:desk@pbx.example"), .reject(cause: "USER_BUSY")] {
            let parsed = try TelnyxCallControlCommand.parse(action: command.action, body: Array(command.body(commandID: "x").utf8))
            #expect(parsed.command == command)
            #expect(parsed.commandID == "x")
        }
        #expect(TelnyxCallControlCommand.path(callControlID: "v3:a/b+c=", action: "hangup") == "calls/v3:a%2Fb%2Bc%3D/actions/hangup")
    }

    @Test(arguments: [
        ("answer", #"{"stream_url":"wss://x/m","stream_bidirectional_mode":"rtp","streamUrl":"wss://x"}"#, "answer has no field streamUrl"),
        ("answer", #"{"stream_url":"wss://x/m"}"#, "stream_bidirectional_mode is mp3: the caller would hear nothing"),
        ("answer", #"{"stream_url":"wss://x/m","stream_bidirectional_mode":"rtp","stream_bidirectional_codec":"pcmu"}"#, "stream_bidirectional_codec pcmu is not a Telnyx codec (case-sensitive)"),
        ("answer", #"{"stream_url":"https://x/m","stream_bidirectional_mode":"rtp"}"#, "stream_url must be ws:// or wss://, got https://x/m"),
        ("answer", #"{"stream_url":"wss://x/m","stream_bidirectional_mode":"rtp","stream_bidirectional_sampling_rate":"16000"}"#, "stream_bidirectional_sampling_rate must be 8000, 16000, 22050, 24000 or 48000"),
        ("transfer", #"{"command_id":"c"}"#, "transfer needs to"),
        ("hangup", #"{"command_id":5}"#, "command_id must be a string"),
        ("reject", #"{"cause":"NOPE"}"#, "reject needs cause CALL_REJECTED or USER_BUSY"),
    ])
    func simulatorsTelnyxRefusesWhatTelnyxWouldNotRun(_ action: String, _ body: String, _ reason: String) {
        #expect(throws: TelnyxCallControlError.invalidCommand(reason)) { try TelnyxCallControlCommand.parse(action: action, body: Array(body.utf8)) }
    }

    @Test func anErrorReplyIsRead() {
        let reply = TelnyxCallControlReply.error(code: "90018", title: "Call has already ended", detail: "no longer active")
        #expect(TelnyxCallControlReply.firstError(Array(reply.utf8))! == ("90018", "Call has already ended: no longer active"))
        #expect(TelnyxCallControlReply.firstError(Array(TelnyxCallControlReply.ok.utf8)) == nil)
        #expect(throws: TelnyxCallControlError.unknownAction("bridge")) { try TelnyxCallControlCommand.parse(action: "bridge", body: []) }
    }
}
