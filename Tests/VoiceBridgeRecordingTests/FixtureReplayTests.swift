import Foundation
import Testing
import VoiceBridgeRecording

/// `swift test` replays every recorded call in fixtures/calls: each must send what it sent when
/// it was recorded, within the tolerance.
@Suite struct FixtureReplayTests {
    @Test func theCorpusIsThere() {
        #expect(Fixtures.callFiles.count >= 12, "fixtures/calls holds \(Fixtures.callFiles.count) recordings")
    }

    /// Each carrier beside Twilio has a DTMF and a speech barge-in in the corpus, read in its own
    /// dialect: the same file read as Twilio's messages would not even start.
    @Test func otherCarriersAreRecordedInTheirOwnDialect() throws {
        let recordings = try Fixtures.callFiles.map { try RecordedCall(contentsOf: $0.path) }
        for dialect in ["telnyx", "signalwire", "plivo", "asterisk"] {
            let ours = recordings.filter { $0.header.dialect == dialect }
            #expect(ours.count >= 2, "\(dialect) has \(ours.count) fixtures")
            // Telnyx's and Plivo's messages mean nothing to Twilio's decoder; SignalWire's start has no
            // top-level streamSid, which Twilio's requires.
            for var recording in ours {
                recording.header.dialect = "twilio"
                let result = try TestFlows.engine.replay(recording)
                #expect(!result.passed, "a \(dialect) recording replayed as Twilio")
            }
        }
    }

    @Test func anUnknownDialectIsAClearError() {
        let header = #"{"recording":"voicebridge-call","version":1,"flow":"demo","carrier":"recorded","dialect":"carrier-pigeon"}"#
        #expect {
            try RecordedCall(text: header + "\n")
        } throws: { error in
            "\(error)".contains("dialect must be one of twilio, telnyx, signalwire")
        }
    }

    @Test(arguments: Fixtures.callFiles)
    func replaysAsRecorded(_ file: URL) throws {
        let recording = try RecordedCall(contentsOf: file.path)
        #expect(recording.hasExpectations)
        let result = try TestFlows.engine.replay(recording, path: file.lastPathComponent)
        #expect(result.passed, "\(result.report)")
    }
}
