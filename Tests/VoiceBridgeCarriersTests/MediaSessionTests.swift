import Foundation
import NIOCore
import Testing
import VoiceBridgeCarriers

/// The seam every carrier shares: formats, close codes, and the session both the live handler and
/// replay drive. Twilio is the dialect here; each carrier's own tests drive its dialect.
@Suite struct MediaSessionTests {
    func startJSON(encoding: String = "audio/x-mulaw", sampleRate: Int = 8000, callSid: String = sampleCallSid) -> String {
        var encoder = TwilioCarrierEncoder(streamSid: sampleStreamSid, accountSid: sampleAccountSid, callSid: callSid)
        var out = ByteBuffer()
        let format = TwilioDialect.format(encoding: encoding, sampleRate: sampleRate, channels: 1)!
        encoder.writeStart(mediaFormat: format, into: &out)
        return String(buffer: out)
    }

    func session() -> MediaSession<TwilioDialect> {
        MediaSession(callID: sampleCallSid, accountID: nil, maxMessageBytes: 64 * 1024)
    }

    @Test func frameSizesFollowTheFormat() {
        #expect(MediaFormat.mulaw8kMono.frameBytes == 160)
        #expect(MediaFormat.alaw8kMono.frameBytes == 160)
        #expect(MediaFormat(encoding: .l16(.littleEndian), sampleRate: 8000).frameBytes == 320)
        #expect(MediaFormat(encoding: .l16(.bigEndian), sampleRate: 16000).frameBytes == 640)
    }

    @Test func aStartedStreamHasAnEncoderForItsStream() throws {
        var session = session()
        guard case .started(let start) = session.receive(.text(buffer(startJSON()))) else {
            Issue.record("start was not admitted")
            return
        }
        #expect(start.identity == CallIdentity(callID: sampleCallSid, streamID: sampleStreamSid, accountID: sampleAccountSid))
        #expect(start.mediaFormat == .mulaw8kMono)
        let encoder = try #require(session.encoder)
        var out = ByteBuffer()
        encoder.writeClear(into: &out)
        #expect(String(buffer: out) == #"{"event":"clear","streamSid":"\#(sampleStreamSid)"}"#)
        #expect(encoder.mediaFrameKind == .text)
    }

    @Test func aFormatTheCarrierDoesNotPlayIsRefusedAtStart() {
        var session = session()
        guard case .close(let code, let reason, let kind) = session.receive(.text(buffer(startJSON(encoding: "audio/x-l16", sampleRate: 16000)))) else {
            Issue.record("an L16 start was admitted on Twilio")
            return
        }
        #expect(code == .unacceptableData)
        #expect(kind == "unsupported_format")
        #expect(reason.contains("L16"), "\(reason)")
        #expect(session.encoder == nil)
    }

    @Test func anEncodingTwilioDoesNotDefineIsRefusedByTheDecoder() {
        var session = session()
        let json = startJSON().replacingOccurrences(of: "audio/x-mulaw", with: "audio/opus")
        guard case .close(let code, _, let kind) = session.receive(.text(buffer(json))) else {
            Issue.record("an opus start was admitted")
            return
        }
        #expect(code == .unacceptableData)
        #expect(kind == "unsupported_format")
    }

    @Test func binaryOnATextDialectClosesWith1003() {
        var session = session()
        guard case .close(let code, _, let kind) = session.receive(.binary(buffer([1, 2, 3]))) else {
            Issue.record("binary admitted")
            return
        }
        #expect(code.rawValue == 1003)
        #expect(kind == "binary_frame")
    }

    @Test func aNoticeIsForwardedInAnyPhaseAndChangesNothing() {
        var gate = MediaStreamGate(callID: sampleCallSid, accountID: nil)
        let notice = CarrierEvent.notice(CarrierNotice(kind: "error", detail: "100003 malformed_frame"))
        #expect(gate.admit(notice) == .forward)
        #expect(gate.phase == .awaitingStart)
    }

    @Test func closeCodesAreRFC6455Numbers() {
        #expect(CarrierCloseCode(for: .messageTooLarge(size: 2, limit: 1)).rawValue == 1009)
        #expect(CarrierCloseCode(for: .malformedJSON("x")).rawValue == 1007)
        #expect(CarrierCloseCode(for: .textFrame).rawValue == 1003)
        #expect(CarrierCloseCode(for: .unknownEvent("x")).rawValue == 1008)
    }
}
