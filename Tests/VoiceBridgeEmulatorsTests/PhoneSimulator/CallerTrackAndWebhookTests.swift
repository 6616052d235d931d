import Foundation
import Testing
import VoiceBridgeAudio
import VoiceBridgeCarriers
@testable import VoiceBridgeEmulators

@Suite struct CallerTrackTests {
    @Test func framesArePaddedAndSilentPastTheEnd() {
        let track = CallerTrack(ulaw: [UInt8](repeating: 0x55, count: 200))
        #expect(track.frameCount == 2)
        let second = track.withFrame(1) { Array($0) }
        #expect(second == [UInt8](repeating: 0x55, count: 40) + [UInt8](repeating: 0xFF, count: 120))
        #expect(track.withFrame(7) { Array($0) } == [UInt8](repeating: 0xFF, count: 160))
        #expect(CallerTrack.silence.frameCount == 0)
    }

    @Test func buildMixesSpeechAndInBandDTMFAtTheirTimes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("track-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // 100 ms of a 16 kHz tone, stereo, to exercise downmix and resampling.
        let tone = (0..<1600).flatMap { n -> [Int16] in
            let v = Int16(6000 * sin(2 * Double.pi * 500 * Double(n) / 16000))
            return [v, v]
        }
        let speech = dir.appendingPathComponent("speech.wav").path
        try WAVFile.write(WAVAudio(pcm16: tone, sampleRate: 16000, channels: 2), to: speech)
        let script = CallScript(
            dtmf: [.init(atMs: 500, digit: "5")], dtmfInBand: true, speak: [.init(atMs: 200, path: speech)],
            maxDurationMs: 1000)
        let track = try CallerTrack.build(callerWAV: nil, script: script)
        let pcm = G711.decode(track.ulaw, law: .ulaw)
        func energy(_ fromMs: Int, _ toMs: Int) -> Double {
            pcm[(fromMs * 8)..<min(toMs * 8, pcm.count)].reduce(0.0) { $0 + Double($1) * Double($1) } / Double((toMs - fromMs) * 8)
        }
        #expect(energy(0, 195) < 10)
        #expect(energy(205, 295) > 1_000_000)
        #expect(energy(310, 495) < 10)
        #expect(energy(505, 595) > 1_000_000)
        #expect(track.ulaw.count == 600 * 8)
    }

    @Test func sayCuesAreCodedSpeechAtTheirTimes() throws {
        let script = CallScript(maxDurationMs: 6000, say: [.init(atMs: 3000, text: "pay my bill"), .init(atMs: 1000, text: "hello")])
        let track = try CallerTrack.build(callerWAV: nil, script: script)
        // What a listener decodes from the caller's μ-law frames, one 20 ms frame at a time.
        let decoder = SpokenTextDecoder()
        var heard: [SpokenUtterance] = []
        for frame in 0..<track.frameCount {
            let pcm = track.withFrame(frame) { G711.decode(Array($0), law: .ulaw) }
            for case .utteranceEnded(let utterance) in decoder.feed(pcm) { heard.append(utterance) }
        }
        #expect(heard.map(\.text) == ["hello", "pay my bill"])
        #expect(heard.map(\.complete) == [true, true])
        #expect(heard.map { $0.startSample / 8 } == [1000, 3000])
    }

    @Test func unreadableAudioIsAnAudioError() {
        #expect(throws: SimulatorError.self) {
            try CallerTrack.build(callerWAV: "/nonexistent/caller.wav", script: CallScript())
        }
    }
}

@Suite struct WebhookTests {
    @Test func webhookFormIsTwilioLike() {
        let request = VoiceWebhookRequest(
            url: "http://127.0.0.1:8080/voice", callSid: "CA1", accountSid: "AC1", from: "+1 555", to: "+1555",
            authToken: "tok")
        #expect(request.body.contains("From=%2B1+555"))
        #expect(request.body.contains("CallStatus=ringing"))
        #expect(request.body.contains("Direction=inbound"))
        #expect(request.body.contains("ApiVersion=2010-04-01"))
        #expect(request.signature == TwilioSignature(authToken: "tok").compute(url: request.url, parameters: request.parameters))
        // What a server's validator does with the form it receives.
        #expect(
            TwilioSignature(authToken: "tok").isValid(
                signature: request.signature!, url: request.url, parameters: FormURLEncoded.parse(request.body)))
    }

    @Test func sidsHaveTwilioShape() {
        let callSid = TwilioSid.make("CA")
        #expect(callSid.count == 34 && callSid.hasPrefix("CA"))
        #expect(callSid.dropFirst(2).allSatisfy { $0.isHexDigit && !$0.isUppercase })
        #expect(TwilioSid.make("CA") != callSid)
    }

    @Test func twimlStreamAndParameters() throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <Response>
              <Say>Hi</Say>
              <!-- <Connect><Stream url="wss://wrong"/></Connect> -->
              <Connect>
                <Stream url="wss://media.example.com/twilio/stream/abc?token=x&amp;y=1" statusCallback="https://x">
                  <Parameter name="session" value="s-42"/>
                  <Parameter name='token' value='a&lt;b'/>
                </Stream>
              </Connect>
            </Response>
            """
        let stream = try TwiMLStream.first(inTwiML: xml)
        #expect(stream.url == "wss://media.example.com/twilio/stream/abc?token=x&y=1")
        #expect(stream.parameters == [.init(name: "session", value: "s-42"), .init(name: "token", value: "a<b")])
        #expect(throws: SimulatorError.twiml("no <Connect><Stream> in the answer")) {
            try TwiMLStream.first(inTwiML: "<Response><Say>x</Say></Response>")
        }
    }

    @Test func streamURLDropsQueryAndMapsLoopbackWSS() throws {
        let e = try SimulatorEndpoint.stream(from: "wss://127.0.0.1:9000/stream/t1?token=abc")
        #expect(e.scheme == "ws" && e.host == "127.0.0.1" && e.port == 9000 && e.target == "/stream/t1")
        #expect(try SimulatorEndpoint.stream(from: "wss://localhost/s").port == 443)
        #expect(try SimulatorEndpoint.stream(from: "wss://[::1]:8443/s").host == "::1")
        #expect(try SimulatorEndpoint.stream(from: "ws://example.com/s").hostHeader == "example.com")
        let relative = try SimulatorEndpoint.stream(from: "/media/t2?x=1", relativeTo: "http://127.0.0.1:8080/voice")
        #expect(relative.scheme == "ws" && relative.port == 8080 && relative.target == "/media/t2")
        #expect(throws: SimulatorError.self) { try SimulatorEndpoint.stream(from: "media", relativeTo: "http://127.0.0.1/voice") }
        #expect(throws: SimulatorError.self) { try SimulatorEndpoint.stream(from: "wss://example.com/s") }
        #expect(throws: SimulatorError.self) { try SimulatorEndpoint.stream(from: "https://127.0.0.1/s") }
        #expect(throws: SimulatorError.self) { try SimulatorEndpoint(parsing: "127.0.0.1:80/x") }
    }
}
