import NIOCore
import Testing
import VoiceBridgeAudio
import VoiceBridgeCarriers

/// Every JSON example below is copied from shared/docs/twilio-media-streams.md §1.
@Suite struct TwilioMediaStreamDecoderDocExampleTests {
    @Test func connected() throws {
        let event = try decodeInbound(#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#)
        #expect(event == .connected(protocolName: "Call", version: "1.0.0"))
    }

    @Test func start() throws {
        let json = """
            {
              "event": "start",
              "sequenceNumber": "1",
              "start": {
                "accountSid": "AC0123456789abcdef0123456789abcdef",
                "streamSid": "MZ0123456789abcdef0123456789abcdef",
                "callSid": "CA0123456789abcdef0123456789abcdef",
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                "customParameters": {"session": "s-42", "token": "opaque-one-time-token"}
              },
              "streamSid": "MZ0123456789abcdef0123456789abcdef"
            }
            """
        let event = try decodeInbound(json)
        let expected = StreamStart(
            sequenceNumber: 1,
            streamID: sampleStreamSid,
            accountID: sampleAccountSid,
            callID: sampleCallSid,
            tracks: ["inbound"],
            customParameters: ["session": "s-42", "token": "opaque-one-time-token"],
            mediaFormat: .mulaw8kMono
        )
        #expect(event == .start(expected))
    }

    @Test func media() throws {
        // The doc elides the payload; this is the full 216-character payload for 160 bytes it describes.
        let json = """
            {
              "event": "media",
              "sequenceNumber": "2",
              "media": {"track": "inbound", "chunk": "1", "timestamp": "20",
                        "payload": "\(silencePayloadBase64)"},
              "streamSid": "MZ0123456789abcdef0123456789abcdef"
            }
            """
        let event = try decodeInbound(json)
        let expected = InboundMedia(
            sequenceNumber: 2,
            track: .inbound,
            chunk: 1,
            timestampMs: 20,
            payload: buffer([UInt8](repeating: 0xFF, count: 160))
        )
        #expect(event == .media(expected))
    }

    @Test func dtmf() throws {
        let json = """
            {"event":"dtmf","streamSid":"MZ0123456789abcdef0123456789abcdef","sequenceNumber":"57",
             "dtmf":{"track":"inbound_track","digit":"5"}}
            """
        #expect(try decodeInbound(json) == .dtmf(DTMFPress(sequenceNumber: 57, track: "inbound_track", digit: "5")))
    }

    @Test func mark() throws {
        let json = """
            {"event":"mark","sequenceNumber":"311","streamSid":"MZ0123456789abcdef0123456789abcdef",
             "mark":{"name":"turn-7:seg-3"}}
            """
        #expect(try decodeInbound(json) == .mark(MarkEcho(sequenceNumber: 311, name: "turn-7:seg-3")))
    }

    @Test func stop() throws {
        let json = """
            {"event":"stop","sequenceNumber":"900",
             "stop":{"accountSid":"AC0123456789abcdef0123456789abcdef","callSid":"CA0123456789abcdef0123456789abcdef"},
             "streamSid":"MZ0123456789abcdef0123456789abcdef"}
            """
        #expect(try decodeInbound(json) == .stop(StreamStop(sequenceNumber: 900, accountID: sampleAccountSid, callID: sampleCallSid)))
    }
}

@Suite struct TwilioMediaStreamDecoderMediaTests {
    @Test func fieldOrderAndWhitespaceDoNotMatter() throws {
        let json = " \n{ \"streamSid\" : \"\(sampleStreamSid)\" ,\t\"media\":{ \"payload\" : \"AAEC+/+/\", \"timestamp\":\"123456\",\"chunk\":\"42\",\"track\":\"outbound\"}, \"sequenceNumber\" :\"7\" , \"event\" : \"media\" }\r\n"
        let event = try decodeInbound(json)
        #expect(event == .media(InboundMedia(sequenceNumber: 7, track: .outbound, chunk: 42, timestampMs: 123456, payload: buffer([0, 1, 2, 0xFB, 0xFF, 0xBF]))))
    }

    @Test func escapedSlashesInPayloadAreUnescaped() throws {
        // "AAEC+/+/" with every '/' written as "\/" (as some JSON writers do), then as "\u002F".
        for payload in [#""AAEC+\/+\/""#, #""AAEC+\u002F+\u002f""#] {
            guard case .media(let media) = try decodeInbound(mediaJSON(payload: payload)) else {
                Issue.record("expected media")
                continue
            }
            #expect(bytes(media.payload) == [0, 1, 2, 0xFB, 0xFF, 0xBF])
        }
    }

    @Test func escapesInKeysAndCountersAreDecoded() throws {
        let json = #"{"ev\u0065nt":"m\u0065dia","sequenceNumber":"\u0031\u0032","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"AAAA"},"streamSid":"\#(sampleStreamSid)"}"#
        guard case .media(let media) = try decodeInbound(json) else {
            Issue.record("expected media")
            return
        }
        #expect(media.sequenceNumber == 12)
        #expect(bytes(media.payload) == [0, 0, 0])
    }

    @Test func unknownFieldsAreIgnoredOnInput() throws {
        let json = #"{"event":"media","extra":{"nested":[1,2,{"x":null}]},"sequenceNumber":"2","media":{"track":"inbound","chunk":"1","timestamp":"20","payload":"AAAA","future":true},"streamSid":"\#(sampleStreamSid)"}"#
        guard case .media(let media) = try decodeInbound(json) else {
            Issue.record("expected media")
            return
        }
        #expect(media.chunk == 1)
    }

    @Test func emptyPayloadDecodesToNoBytes() throws {
        guard case .media(let media) = try decodeInbound(mediaJSON(payload: #""""#)) else {
            Issue.record("expected media")
            return
        }
        #expect(media.payload.readableBytes == 0)
    }

    @Test func aPayloadHeldByTheCallerIsNotOverwrittenByTheNextDecode() throws {
        var decoder = TwilioMediaStreamDecoder()
        let first = try decoder.decode(buffer(mediaJSON(payload: #""AAEC""#)))
        let second = try decoder.decode(buffer(mediaJSON(payload: #""////""#)))
        guard case .media(let a) = first, case .media(let b) = second else {
            Issue.record("expected media")
            return
        }
        #expect(bytes(a.payload) == [0, 1, 2])
        #expect(bytes(b.payload) == [0xFF, 0xFF, 0xFF])
    }

    @Test func decodingManyMessagesReusesOnePayloadBuffer() throws {
        var decoder = TwilioMediaStreamDecoder()
        var random = SplitMix64(seed: 99)
        let messages = (0..<16).map { index in
            buffer(mediaJSON(sequenceNumber: "\"\(index + 2)\"", payload: "\"\(Base64Fast.encode(random.bytes(160)))\""))
        }
        func payloadAddress(_ event: CarrierEvent) -> UInt? {
            guard case .media(let media) = event else { return nil }
            return media.payload.withUnsafeReadableBytes { $0.baseAddress.map { UInt(bitPattern: $0) } }
        }
        let firstAddress = try payloadAddress(decoder.decode(messages[0]))
        #expect(firstAddress != nil)
        for index in 0..<10_000 {
            // The event is dropped before the next decode, so the buffer stays uniquely owned
            // and is rewritten in place: the same storage every time, no reallocation.
            let address = try payloadAddress(decoder.decode(messages[index % messages.count]))
            guard address == firstAddress else {
                Issue.record("payload storage moved at iteration \(index)")
                return
            }
        }
    }
}

@Suite struct TwilioMediaStreamDecoderErrorTests {
    @Test func numberWhereACounterStringIsRequired() {
        #expect(throws: CarrierProtocolError.wrongType(field: "sequenceNumber", expected: "string")) {
            try decodeInbound(mediaJSON(sequenceNumber: "2"))
        }
        #expect(throws: CarrierProtocolError.wrongType(field: "media.chunk", expected: "string")) {
            try decodeInbound(mediaJSON(chunk: "1"))
        }
        #expect(throws: CarrierProtocolError.wrongType(field: "media.timestamp", expected: "string")) {
            try decodeInbound(mediaJSON(timestamp: "20"))
        }
        #expect(throws: CarrierProtocolError.wrongType(field: "sequenceNumber", expected: "string")) {
            try decodeInbound(#"{"event":"mark","sequenceNumber":311,"streamSid":"MZ1","mark":{"name":"a"}}"#)
        }
        #expect(throws: CarrierProtocolError.wrongType(field: "sequenceNumber", expected: "string")) {
            try decodeInbound(startJSON(sequenceNumber: "1"))
        }
    }

    @Test(arguments: [#""""#, #""1a""#, #""-1""#, #"" 1""#, #""1.0""#, #""1234567890123456789""#])
    func countersMustBeDecimalDigits(_ chunk: String) {
        #expect(throws: (any Error).self) { try decodeInbound(mediaJSON(chunk: chunk)) }
        do {
            _ = try decodeInbound(mediaJSON(chunk: chunk))
        } catch {
            guard case .invalidValue(field: "media.chunk", _) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
        }
    }

    @Test func stringWhereANumberIsRequired() {
        #expect(throws: CarrierProtocolError.wrongType(field: "start.mediaFormat.sampleRate", expected: "number")) {
            try decodeInbound(startJSON(sampleRate: #""8000""#))
        }
        #expect(throws: CarrierProtocolError.wrongType(field: "start.mediaFormat.channels", expected: "number")) {
            try decodeInbound(startJSON(channels: #""1""#))
        }
    }

    @Test func startFieldTypes() throws {
        #expect(throws: CarrierProtocolError.wrongType(field: "start.customParameters.session", expected: "string")) {
            try decodeInbound(startJSON(customParameters: #"{"session":42}"#))
        }
        #expect(throws: CarrierProtocolError.wrongType(field: "start.tracks", expected: "array")) {
            try decodeInbound(startJSON(tracks: #""inbound""#))
        }
        #expect(throws: CarrierProtocolError.wrongType(field: "start.callSid", expected: "string")) {
            try decodeInbound(startJSON(callSid: "null"))
        }
        // Twilio does not document that customParameters is present when empty.
        guard case .start(let start) = try decodeInbound(startJSON(customParameters: nil)) else {
            Issue.record("expected start")
            return
        }
        #expect(start.customParameters.isEmpty)
    }

    @Test func missingFields() {
        #expect(throws: CarrierProtocolError.missingField("start.callSid")) {
            try decodeInbound(startJSON(callSid: nil))
        }
        #expect(throws: CarrierProtocolError.missingField("event")) {
            try decodeInbound(#"{"sequenceNumber":"2","streamSid":"MZ1"}"#)
        }
        #expect(throws: CarrierProtocolError.missingField("media.payload")) {
            try decodeInbound(#"{"event":"media","sequenceNumber":"2","media":{"track":"inbound","chunk":"1","timestamp":"20"},"streamSid":"MZ1"}"#)
        }
        #expect(throws: CarrierProtocolError.missingField("media.track")) {
            try decodeInbound(#"{"event":"media","sequenceNumber":"2","media":{"chunk":"1","timestamp":"20","payload":""},"streamSid":"MZ1"}"#)
        }
        #expect(throws: CarrierProtocolError.missingField("streamSid")) {
            try decodeInbound(#"{"event":"media","sequenceNumber":"2","media":{"track":"inbound","chunk":"1","timestamp":"20","payload":""}}"#)
        }
        #expect(throws: CarrierProtocolError.missingField("sequenceNumber")) {
            try decodeInbound(#"{"event":"media","media":{"track":"inbound","chunk":"1","timestamp":"20","payload":""},"streamSid":"MZ1"}"#)
        }
        #expect(throws: CarrierProtocolError.missingField("media")) {
            try decodeInbound(#"{"event":"media","sequenceNumber":"2","streamSid":"MZ1"}"#)
        }
        #expect(throws: CarrierProtocolError.missingField("mark")) {
            try decodeInbound(#"{"event":"mark","sequenceNumber":"3","streamSid":"MZ1"}"#)
        }
        #expect(throws: CarrierProtocolError.missingField("stop.callSid")) {
            try decodeInbound(#"{"event":"stop","sequenceNumber":"3","streamSid":"MZ1","stop":{"accountSid":"AC1"}}"#)
        }
        #expect(throws: CarrierProtocolError.missingField("version")) {
            try decodeInbound(#"{"event":"connected","protocol":"Call"}"#)
        }
    }

    @Test func wrongShapes() {
        #expect(throws: CarrierProtocolError.wrongType(field: "event", expected: "string")) {
            try decodeInbound(#"{"event":1}"#)
        }
        #expect(throws: CarrierProtocolError.wrongType(field: "media", expected: "object")) {
            try decodeInbound(#"{"event":"media","sequenceNumber":"2","media":"AAAA","streamSid":"MZ1"}"#)
        }
        #expect(throws: CarrierProtocolError.wrongType(field: "media.payload", expected: "string")) {
            try decodeInbound(mediaJSON(payload: "[]"))
        }
        #expect(throws: CarrierProtocolError.duplicateField("event")) {
            try decodeInbound(#"{"event":"media","event":"stop"}"#)
        }
        #expect(throws: CarrierProtocolError.duplicateField("media.payload")) {
            try decodeInbound(#"{"event":"media","sequenceNumber":"2","media":{"track":"inbound","chunk":"1","timestamp":"20","payload":"","payload":""},"streamSid":"MZ1"}"#)
        }
    }

    @Test func invalidEnumeratedValues() {
        #expect(throws: CarrierProtocolError.invalidValue(field: "media.track", reason: #"expected "inbound" or "outbound", got "both""#)) {
            try decodeInbound(mediaJSON(track: #""both""#))
        }
        for digit in ["55", "x", "", "A"] {
            #expect(throws: CarrierProtocolError.invalidValue(field: "dtmf.digit", reason: "expected one of 0-9, * or #, got \"\(digit)\"")) {
                try decodeInbound(#"{"event":"dtmf","streamSid":"MZ1","sequenceNumber":"5","dtmf":{"track":"inbound_track","digit":"\#(digit)"}}"#)
            }
        }
        for digit in ["*", "#", "0", "9"] {
            #expect(throws: Never.self) {
                try decodeInbound(#"{"event":"dtmf","streamSid":"MZ1","sequenceNumber":"5","dtmf":{"track":"inbound_track","digit":"\#(digit)"}}"#)
            }
        }
    }

    @Test func unknownEvent() {
        #expect(throws: CarrierProtocolError.unknownEvent("clear")) {
            try decodeInbound(#"{"event":"clear","streamSid":"MZ1"}"#)
        }
        #expect(throws: CarrierProtocolError.unknownEvent("Media")) {
            try decodeInbound(#"{"event":"Media"}"#)
        }
    }

    @Test(arguments: [
        "", "not json", "[]", "\"media\"", "null", "{", "{}}", "{} x", #"{"event":"media",}"#, #"{"event" "media"}"#,
        #"{"event":'media'}"#, #"{"event":"med\ia"}"#, "{\"event\":\"a\u{01}b\"}", #"{"a":01}"#, #"{"a":1.}"#, #"{"a":tru}"#,
        #"{"a":[1,]}"#, #"{"a":"\u12"}"#,
    ])
    func malformedJSON(_ json: String) {
        do {
            _ = try decodeInbound(json)
            Issue.record("accepted \(json.debugDescription)")
        } catch {
            guard case .malformedJSON = error else {
                Issue.record("\(json.debugDescription) gave \(error), expected malformedJSON")
                return
            }
        }
    }

    @Test func everyTruncationOfAValidMessageIsMalformed() {
        for message in [mediaJSON(), startJSON()] {
            let full = Array(message.utf8)
            for length in 0..<full.count {
                var decoder = TwilioMediaStreamDecoder()
                do {
                    _ = try decoder.decode(buffer(Array(full[..<length])))
                    Issue.record("accepted a \(length)-byte prefix")
                } catch {
                    guard case .malformedJSON = error else {
                        Issue.record("\(length)-byte prefix gave \(error)")
                        continue
                    }
                }
            }
        }
    }

    @Test func deepNestingIsRefusedWithoutCrashing() {
        let json = #"{"event":"media","x":"# + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}"
        do {
            _ = try decodeInbound(json)
            Issue.record("accepted deep nesting")
        } catch {
            guard case .malformedJSON = error else {
                Issue.record("unexpected \(error)")
                return
            }
        }
    }

    @Test(arguments: [#""AAA""#, #""AA!A""#, #""A===""#, #""AAAA AAAA""#, #""AAAA\nAAAA""#, #""=AAA""#])
    func invalidBase64(_ payload: String) {
        #expect(throws: CarrierProtocolError.invalidBase64) { try decodeInbound(mediaJSON(payload: payload)) }
    }

    @Test func messageSizeLimit() throws {
        let big = mediaJSON(payload: "\"\(String(repeating: "AAAA", count: 17_000))\"")
        #expect(throws: CarrierProtocolError.messageTooLarge(size: big.utf8.count, limit: 65_536)) {
            try decodeInbound(big)
        }
        var small = TwilioMediaStreamDecoder(maxMessageBytes: 100)
        let message = mediaJSON()
        #expect(throws: CarrierProtocolError.messageTooLarge(size: message.utf8.count, limit: 100)) {
            try small.decode(buffer(message))
        }
        // Exactly at the limit is fine.
        var exact = TwilioMediaStreamDecoder(maxMessageBytes: message.utf8.count)
        _ = try exact.decode(buffer(message))
    }

    @Test func wrongStreamSidOnceExpected() throws {
        var decoder = TwilioMediaStreamDecoder()
        let other = "MZffffffffffffffffffffffffffffffff"
        // Before any sid is known, any sid is accepted.
        _ = try decoder.decode(buffer(mediaJSON(streamSid: other)))
        decoder.expectedStreamSid = sampleStreamSid
        _ = try decoder.decode(buffer(mediaJSON()))
        let wrong = CarrierProtocolError.wrongStreamSid(expected: sampleStreamSid, got: other)
        #expect(throws: wrong) { try decoder.decode(buffer(mediaJSON(streamSid: other))) }
        #expect(throws: wrong) {
            try decoder.decode(buffer(#"{"event":"dtmf","streamSid":"\#(other)","sequenceNumber":"5","dtmf":{"track":"inbound_track","digit":"1"}}"#))
        }
        #expect(throws: wrong) {
            try decoder.decode(buffer(#"{"event":"mark","sequenceNumber":"5","streamSid":"\#(other)","mark":{"name":"a"}}"#))
        }
        #expect(throws: wrong) {
            try decoder.decode(buffer(#"{"event":"stop","sequenceNumber":"5","stop":{"accountSid":"AC1","callSid":"CA1"},"streamSid":"\#(other)"}"#))
        }
        // A prefix of the right sid is still the wrong sid.
        let prefix = String(sampleStreamSid.dropLast())
        #expect(throws: CarrierProtocolError.wrongStreamSid(expected: sampleStreamSid, got: prefix)) {
            try decoder.decode(buffer(mediaJSON(streamSid: prefix)))
        }
    }

    @Test func startBindsTheExpectedStreamSid() throws {
        var decoder = TwilioMediaStreamDecoder()
        #expect(decoder.expectedStreamSid == nil)
        _ = try decoder.decode(buffer(startJSON()))
        #expect(decoder.expectedStreamSid == sampleStreamSid)
        #expect(throws: CarrierProtocolError.wrongStreamSid(expected: sampleStreamSid, got: "MZ2")) {
            try decoder.decode(buffer(mediaJSON(streamSid: "MZ2")))
        }
    }

    @Test func startWithMismatchedStreamSids() {
        let json = startJSON().replacingLastStreamSid(with: "MZ2")
        #expect(throws: CarrierProtocolError.wrongStreamSid(expected: sampleStreamSid, got: "MZ2")) {
            try decodeInbound(json)
        }
    }

    @Test func errorDescriptionsAreOneLine() {
        let errors: [CarrierProtocolError] = [
            .messageTooLarge(size: 70_000, limit: 65_536), .binaryFrame, .malformedJSON("x at byte 3"),
            .unknownEvent("foo"), .missingField("media.payload"), .unexpectedField("media.track"),
            .duplicateField("event"), .wrongType(field: "sequenceNumber", expected: "string"),
            .invalidValue(field: "media.chunk", reason: "expected decimal digits"), .invalidBase64,
            .wrongStreamSid(expected: "MZ1", got: "MZ2"),
        ]
        for error in errors {
            #expect(!error.description.isEmpty)
            #expect(!error.description.contains("\n"))
        }
        #expect(CarrierProtocolError.wrongType(field: "sequenceNumber", expected: "string").description == #"field "sequenceNumber" must be a JSON string"#)
    }
}

func startJSON(
    sequenceNumber: String = #""1""#,
    callSid: String? = "\"\(sampleCallSid)\"",
    tracks: String = #"["inbound"]"#,
    sampleRate: String = "8000",
    channels: String = "1",
    customParameters: String? = #"{"session":"s-42"}"#
) -> String {
    let call = callSid.map { #","callSid":\#($0)"# } ?? ""
    let parameters = customParameters.map { #","customParameters":\#($0)"# } ?? ""
    return #"{"event":"start","sequenceNumber":\#(sequenceNumber),"start":{"accountSid":"\#(sampleAccountSid)","streamSid":"\#(sampleStreamSid)"\#(call),"tracks":\#(tracks),"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":\#(sampleRate),"channels":\#(channels)}\#(parameters)},"streamSid":"\#(sampleStreamSid)"}"#
}

extension String {
    func replacingLastStreamSid(with sid: String) -> String {
        let marker = #""streamSid":"\#(sampleStreamSid)"}"#
        precondition(hasSuffix(marker))
        return String(dropLast(marker.count)) + #""streamSid":"\#(sid)"}"#
    }
}

/// The string scanner steps 8 bytes at a time; special bytes must be found at every offset.
@Suite struct TwilioMediaStreamDecoderScannerBoundaryTests {
    @Test func escapesAndControlBytesAtEveryOffset() throws {
        let plain = Array(Base64Fast.encode([UInt8](repeating: 0xAB, count: 30)).utf8)  // 40 chars
        for offset in 0..<24 {
            // A '/' escaped as "\/" at `offset` decodes to the same bytes as the unescaped payload.
            var withSlash = plain
            withSlash[offset] = UInt8(ascii: "/")
            let expected = try #require(Base64Fast.decode(String(decoding: withSlash, as: UTF8.self)))
            let escaped = String(decoding: withSlash[..<offset], as: UTF8.self) + "\\/" + String(decoding: withSlash[(offset + 1)...], as: UTF8.self)
            guard case .media(let media) = try decodeInbound(mediaJSON(payload: "\"\(escaped)\"")) else {
                Issue.record("expected media")
                continue
            }
            #expect(bytes(media.payload) == expected, "escape at \(offset)")

            // A raw control byte anywhere in a string is malformed JSON.
            var withControl = plain
            withControl[offset] = 0x1F
            do {
                _ = try decodeInbound(mediaJSON(payload: "\"\(String(decoding: withControl, as: UTF8.self))\""))
                Issue.record("accepted a control byte at \(offset)")
            } catch {
                guard case .malformedJSON = error else {
                    Issue.record("control byte at \(offset) gave \(error)")
                    continue
                }
            }

            // A quote ends the string early wherever it falls.
            var withQuote = plain
            withQuote[offset] = UInt8(ascii: "\"")
            #expect(throws: (any Error).self) {
                try decodeInbound(mediaJSON(payload: "\"\(String(decoding: withQuote, as: UTF8.self))\""))
            }
        }
    }

    @Test func nonASCIIBytesAreNotMistakenForSpecialBytes() throws {
        // UTF-8 continuation bytes (0x80–0xBF) are where a sloppy bit trick misfires.
        let name = String(repeating: "é✓😀ÿ", count: 5)
        let json = #"{"event":"mark","sequenceNumber":"3","streamSid":"MZ1","mark":{"name":"\#(name)"}}"#
        #expect(try decodeInbound(json) == .mark(MarkEcho(sequenceNumber: 3, name: name)))
    }
}
