import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Files that appear whole or not at all: written to a temporary name in the same directory,
/// flushed, then renamed over the target. A reader, a crash or a Ctrl-C never leaves half a prompt
/// (or half a manifest) behind.
enum AtomicFile {
    static func write(_ bytes: [UInt8], to path: String) throws(PromptBuildError) {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let temporary = (directory.isEmpty ? "." : directory) + "/.\(name).\(UUID().uuidString).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(path: path, reason: "can't create a temporary file: \(Self.lastError())") }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                let reason = Self.lastError()
                close(fd)
                unlink(temporary)
                throw .io(path: path, reason: "can't write: \(reason)")
            }
            offset += written
        }
        if fsync(fd) != 0 || close(fd) != 0 {
            let reason = Self.lastError()
            unlink(temporary)
            throw .io(path: path, reason: "can't flush: \(reason)")
        }
        if rename(temporary, path) != 0 {
            let reason = Self.lastError()
            unlink(temporary)
            throw .io(path: path, reason: "can't rename into place: \(reason)")
        }
    }

    /// The file's bytes, or nil when it doesn't exist or can't be read.
    static func read(_ path: String) -> [UInt8]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return [UInt8](data)
    }

    private static func lastError() -> String {
        String(cString: strerror(errno))
    }
}
