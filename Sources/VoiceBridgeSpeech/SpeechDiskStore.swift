import Dispatch
import Foundation
import Synchronization
import VoiceBridgeCarriers

/// The speech cache's copy on disk, so a restart is warm: every utterance the cache keeps is
/// written (off the calling thread) to `DIRECTORY/<sha256 of its key>.speech`, with its character
/// timings, and `warm(_:)` reads them back into the cache at startup, newest first, up to the
/// cache's bound.
///
/// The directory is bounded by bytes too: past the bound, the oldest files written go first.
/// A file that cannot be read back (damaged, another schema, another key under the same name)
/// is deleted, never played.
public final class SpeechDiskStore: Sendable {
    public let directory: String
    public let maxBytes: Int
    private let writes = DispatchQueue(label: "voicebridge.speech-disk-store", qos: .utility)
    private let files = Mutex(Files())

    /// Files on disk, oldest first, with their sizes.
    private struct Files {
        var names: [String] = []
        var sizes: [String: Int] = [:]
        var head = 0
        var bytes = 0
    }

    static let fileExtension = "speech"
    static let schema = 1

    /// Creates the directory if needed.
    public init(directory: String, maxBytes: Int) throws {
        self.directory = directory
        self.maxBytes = max(0, maxBytes)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// Reads the directory into `cache`: the newest files that fit its bound, oldest inserted
    /// first so the newest is the most recently used. Files beyond the bound, or unreadable,
    /// are deleted. Returns how many utterances and audio bytes it loaded.
    @discardableResult
    public func warm(_ cache: SpeechCache) -> (entries: Int, bytes: Int) {
        let fm = FileManager.default
        let names = ((try? fm.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix("." + Self.fileExtension) }
        var dated: [(name: String, modified: Date, size: Int)] = []
        for name in names {
            guard let attributes = try? fm.attributesOfItem(atPath: path(name)) else { continue }
            dated.append((name, attributes[.modificationDate] as? Date ?? .distantPast, (attributes[.size] as? Int) ?? 0))
        }
        dated.sort { $0.modified > $1.modified }
        var kept: [(name: String, size: Int, key: SpeechCache.Key, chunks: [SpeechChunk])] = []
        var diskBytes = 0
        var audioBytes = 0
        for file in dated {
            guard diskBytes + file.size <= maxBytes, audioBytes < cache.maxBytes,
                let data = fm.contents(atPath: path(file.name)),
                let (key, chunks) = Self.decode(data), Self.fileName(for: key) == file.name
            else {
                try? fm.removeItem(atPath: path(file.name))
                continue
            }
            let audio = chunks.reduce(0) { $0 + $1.audio.count }
            guard audioBytes + audio <= cache.maxBytes else {
                try? fm.removeItem(atPath: path(file.name))
                continue
            }
            diskBytes += file.size
            audioBytes += audio
            kept.append((file.name, file.size, key, chunks))
        }
        files.withLock { files in
            files = Files()
            for file in kept.reversed() {
                files.names.append(file.name)
                files.sizes[file.name] = file.size
                files.bytes += file.size
            }
        }
        for file in kept.reversed() { cache.insert(file.key, chunks: file.chunks, persist: false) }
        return (kept.count, audioBytes)
    }

    /// Writes an utterance, on the store's own queue; evicts the oldest files past the bound.
    func store(_ key: SpeechCache.Key, chunks: [SpeechChunk]) {
        writes.async { [self] in
            let name = Self.fileName(for: key)
            guard files.withLock({ $0.sizes[name] == nil }), let data = Self.encode(key, chunks: chunks),
                data.count <= maxBytes,
                (try? data.write(to: URL(fileURLWithPath: path(name)), options: .atomic)) != nil
            else { return }
            let evicted = files.withLock { files -> [String] in
                files.names.append(name)
                files.sizes[name] = data.count
                files.bytes += data.count
                var evicted: [String] = []
                while files.bytes > maxBytes, files.head < files.names.count {
                    let oldest = files.names[files.head]
                    files.head += 1
                    files.bytes -= files.sizes.removeValue(forKey: oldest) ?? 0
                    evicted.append(oldest)
                }
                if files.head > 1024, files.head * 2 > files.names.count {
                    files.names.removeFirst(files.head)
                    files.head = 0
                }
                return evicted
            }
            for old in evicted { try? FileManager.default.removeItem(atPath: path(old)) }
        }
    }

    /// Returns once every write asked for so far is on disk (tests, shutdown).
    public func waitUntilWritten() {
        writes.sync {}
    }

    /// Files and bytes on disk, as the store counts them.
    public var usage: (files: Int, bytes: Int) {
        files.withLock { ($0.sizes.count, $0.bytes) }
    }

    private func path(_ name: String) -> String { directory + "/" + name }

    // MARK: - Format

    /// One JSON object: the key, then each chunk's format, audio (base64) and timings.
    private struct Entry: Codable {
        var schema: Int
        var text: String
        var voice: String?
        var model: String?
        var language: String?
        var variant: String
        var chunks: [Chunk]
    }

    private struct Chunk: Codable {
        var format: String
        var bigEndian: Bool?
        var audio: Data
        var chars: [String]?
        var startsMs: [Int]?
        var durationsMs: [Int]?
    }

    private struct KeyFields: Encodable {
        var text: String
        var voice: String?
        var model: String?
        var language: String?
        var variant: String
    }

    static func fileName(for key: SpeechCache.Key) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let fields = KeyFields(text: key.text, voice: key.voice, model: key.model, language: key.language, variant: key.variant)
        let json = (try? encoder.encode(fields)) ?? Data()
        return SHA256.hex(Array(json)) + "." + fileExtension
    }

    static func encode(_ key: SpeechCache.Key, chunks: [SpeechChunk]) -> Data? {
        let entry = Entry(
            schema: schema, text: key.text, voice: key.voice, model: key.model, language: key.language, variant: key.variant,
            chunks: chunks.map { chunk in
                var bigEndian: Bool?
                if case .l16(let order) = chunk.format.encoding { bigEndian = order == .bigEndian }
                return Chunk(
                    format: chunk.format.settingName, bigEndian: bigEndian, audio: Data(chunk.audio),
                    chars: chunk.alignment?.chars, startsMs: chunk.alignment?.charStartTimesMs, durationsMs: chunk.alignment?.charDurationsMs)
            })
        return try? JSONEncoder().encode(entry)
    }

    static func decode(_ data: Data) -> (SpeechCache.Key, [SpeechChunk])? {
        guard let entry = try? JSONDecoder().decode(Entry.self, from: data), entry.schema == schema, !entry.chunks.isEmpty else { return nil }
        var chunks: [SpeechChunk] = []
        for stored in entry.chunks {
            let order: AudioEncoding.ByteOrder = stored.bigEndian == true ? .bigEndian : .littleEndian
            guard let format = MediaFormat(settingName: stored.format, l16ByteOrder: order) else { return nil }
            var alignment: Alignment?
            if let chars = stored.chars, let starts = stored.startsMs, let durations = stored.durationsMs {
                guard chars.count == starts.count, chars.count == durations.count else { return nil }
                alignment = Alignment(chars: chars, charStartTimesMs: starts, charDurationsMs: durations)
            }
            chunks.append(SpeechChunk(turnID: "", audio: Array(stored.audio), alignment: alignment, format: format))
        }
        let key = SpeechCache.Key(text: entry.text, voice: entry.voice, model: entry.model, language: entry.language, variant: entry.variant)
        return (key, chunks)
    }
}
