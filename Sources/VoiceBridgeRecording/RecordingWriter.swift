import Dispatch
import Foundation
import VoiceBridgeAudio

/// Writes recordings to disk on a thread of its own, so a call's event loop never waits for the
/// file system. Calls hand over batches of lines; one serial queue appends them in order.
public final class RecordingWriter: Sendable {
    private let queue = DispatchQueue(label: "voicebridge.recording.writer")

    public init() {}

    /// Opens (creates or truncates) `path` and appends `text`, on the writer's thread.
    func create(_ path: String, text: String) {
        queue.async {
            FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        }
    }

    func append(_ path: String, text: String) {
        queue.async {
            guard let handle = FileHandle(forWritingAtPath: path) else { return }
            defer { try? handle.close() }
            _ = try? handle.seekToEnd()
            try? handle.write(contentsOf: Data(text.utf8))
        }
    }

    /// Writes μ-law audio as a WAV file; the encoding happens on the writer's thread too.
    func writeWAV(_ path: String, ulaw: [UInt8]) {
        queue.async {
            FileManager.default.createFile(atPath: path, contents: Data(WAVFile.encode(WAVAudio(g711: ulaw, law: .ulaw))))
        }
    }

    /// Returns once everything handed over so far is on disk.
    public func waitUntilWritten() {
        queue.sync {}
    }
}
