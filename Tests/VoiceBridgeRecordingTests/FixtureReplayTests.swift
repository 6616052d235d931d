import Foundation
import Testing
import VoiceBridgeRecording

/// `swift test` replays every recorded call in fixtures/calls: each must send what it sent when
/// it was recorded, within the tolerance.
@Suite struct FixtureReplayTests {
    @Test func theCorpusIsThere() {
        #expect(Fixtures.callFiles.count >= 12, "fixtures/calls holds \(Fixtures.callFiles.count) recordings")
    }

    @Test(arguments: Fixtures.callFiles)
    func replaysAsRecorded(_ file: URL) throws {
        let recording = try RecordedCall(contentsOf: file.path)
        #expect(recording.hasExpectations)
        let result = try TestFlows.engine.replay(recording, path: file.lastPathComponent)
        #expect(result.passed, "\(result.report)")
    }
}
