import Dispatch
import Foundation
import VoiceBridgeAudio

/// Writes recordings to disk on a thread of its own, so a call's event loop never waits for the
/// file system. Calls hand over batches of lines; one serial queue appends them in order.
///
/// A failed write loses (part of) a recording, never the call: it is reported to `onError`.
public final class RecordingWriter: Sendable {
    private let queue = DispatchQueue(label: "voicebridge.recording.writer")
    private let onError: @Sendable (String) -> Void

    public init(onError: @escaping @Sendable (String) -> Void = { _ in }) {
        self.onError = onError
    }

    /// Creates (or truncates) `path` with `text`, on the writer's thread.
    func create(_ path: String, text: String) {
        queue.async { [onError] in
            if !FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) {
                onError("cannot create \(path)")
            }
        }
    }

    func append(_ path: String, text: String) {
        queue.async { [onError] in
            do {
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                defer { try? handle.close() }
                try handle.seekToEnd()
                try handle.write(contentsOf: Data(text.utf8))
            } catch {
                onError("cannot append to \(path): \(error)")
            }
        }
    }

    /// Writes μ-law audio as a WAV file; the encoding happens on the writer's thread too.
    func writeWAV(_ path: String, ulaw: [UInt8]) {
        queue.async { [onError] in
            let bytes = WAVFile.encode(WAVAudio(g711: ulaw, law: .ulaw))
            if !FileManager.default.createFile(atPath: path, contents: Data(bytes)) {
                onError("cannot create \(path)")
            }
        }
    }

    /// Returns once everything handed over so far is on disk.
    public func waitUntilWritten() {
        queue.sync {}
    }
}
