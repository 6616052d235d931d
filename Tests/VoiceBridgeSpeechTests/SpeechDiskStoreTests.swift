import Foundation
import Testing
import VoiceBridgeCarriers
import VoiceBridgeSpeech

/// The speech cache's copy on disk: a restart is warm, the directory keeps its byte bound, and a
/// damaged file is never played.
@Suite struct SpeechDiskStoreTests {
    static func directory() throws -> String {
        let path = NSTemporaryDirectory() + "speech-disk-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func key(_ text: String) -> SpeechCache.Key {
        SpeechCache.Key(text: text, voice: "voice1", model: nil, language: "en", variant: "elevenlabs|voice1|ulaw_8000")
    }

    static func files(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".speech") }
    }

    @Test func aRestartedCacheHoldsWhatTheLastOneKeptWithItsTimingsAndFormat() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let aligned = SpeechChunk(
            turnID: "1", audio: (0..<320).map { UInt8($0 & 0xFF) },
            alignment: Alignment(chars: ["H", "i"], charStartTimesMs: [0, 90], charDurationsMs: [90, 110]))
        let wide = SpeechChunk(turnID: "1", audio: [1, 2, 3, 4], format: MediaFormat(encoding: .l16(.bigEndian), sampleRate: 16_000))
        do {
            let disk = try SpeechDiskStore(directory: directory, maxBytes: 1 << 20)
            let cache = SpeechCache(maxBytes: 1 << 20, disk: disk)
            cache.insert(Self.key("Hi"), chunks: [aligned, wide])
            cache.insert(Self.key("Bye"), chunks: [SpeechChunk(turnID: "2", audio: [9, 9])])
            disk.waitUntilWritten()
        }
        #expect(Self.files(directory).count == 2)
        let disk = try SpeechDiskStore(directory: directory, maxBytes: 1 << 20)
        let cache = SpeechCache(maxBytes: 1 << 20, disk: disk)
        let warmed = disk.warm(cache)
        #expect(warmed.entries == 2 && warmed.bytes == 320 + 4 + 2)
        let back = try #require(cache.lookup(Self.key("Hi")))
        #expect(back.map(\.audio) == [aligned.audio, wide.audio])
        #expect(back.map(\.alignment) == [aligned.alignment, nil])
        #expect(back.map(\.format) == [.mulaw8kMono, wide.format])
        #expect(cache.lookup(Self.key("Bye"))?.first?.audio == [9, 9])
        #expect(cache.lookup(SpeechCache.Key(text: "Hi", voice: "voice2", model: nil, language: "en", variant: "elevenlabs|voice1|ulaw_8000")) == nil)
    }

    @Test func theDirectoryKeepsItsByteBoundOldestFirst() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let disk = try SpeechDiskStore(directory: directory, maxBytes: 40_000)
        let cache = SpeechCache(maxBytes: 1 << 20, disk: disk)
        for i in 0..<100 { cache.insert(Self.key("prompt \(i)"), chunks: [SpeechChunk(turnID: "t", audio: [UInt8](repeating: 0x7F, count: 1_000))]) }
        disk.waitUntilWritten()
        let onDisk = Self.files(directory)
        let bytes = try onDisk.reduce(0) { $0 + ((try FileManager.default.attributesOfItem(atPath: directory + "/" + $1)[.size] as? Int) ?? 0) }
        #expect(bytes <= 40_000 && bytes == disk.usage.bytes && onDisk.count == disk.usage.files)
        #expect(onDisk.count > 10 && onDisk.count < 100)
        // The newest survive a restart; the oldest are gone.
        let restarted = SpeechCache(maxBytes: 1 << 20)
        try SpeechDiskStore(directory: directory, maxBytes: 40_000).warm(restarted)
        #expect(restarted.lookup(Self.key("prompt 99")) != nil)
        #expect(restarted.lookup(Self.key("prompt 0")) == nil)
    }

    @Test func aDamagedOrMisnamedFileIsDeletedNotPlayed() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let disk = try SpeechDiskStore(directory: directory, maxBytes: 1 << 20)
        SpeechCache(maxBytes: 1 << 20, disk: disk).insert(Self.key("Hello"), chunks: [SpeechChunk(turnID: "t", audio: [1, 2, 3])])
        disk.waitUntilWritten()
        let good = try #require(Self.files(directory).first)
        // The same entry under another name (as if another key's), and a truncated one.
        try FileManager.default.copyItem(atPath: directory + "/" + good, toPath: directory + "/" + String(repeating: "0", count: 64) + ".speech")
        try Data("{\"schema\":1,\"text\":".utf8).write(to: URL(fileURLWithPath: directory + "/" + String(repeating: "1", count: 64) + ".speech"))
        let cache = SpeechCache(maxBytes: 1 << 20)
        let warmed = try SpeechDiskStore(directory: directory, maxBytes: 1 << 20).warm(cache)
        #expect(warmed.entries == 1)
        #expect(Self.files(directory) == [good])
        #expect(cache.lookup(Self.key("Hello"))?.first?.audio == [1, 2, 3])
    }

    @Test func warmingStopsAtTheCachesBoundKeepingTheNewest() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let disk = try SpeechDiskStore(directory: directory, maxBytes: 1 << 20)
        let cache = SpeechCache(maxBytes: 1 << 20, disk: disk)
        var seen = Set<String>()
        for i in 0..<5 {
            cache.insert(Self.key("prompt \(i)"), chunks: [SpeechChunk(turnID: "t", audio: [UInt8](repeating: 0x7F, count: 1_000))])
            disk.waitUntilWritten()
            // Modification times order the files; make them distinct.
            let name = directory + "/" + (Self.files(directory).first { !seen.contains($0) } ?? "")
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: Double(i - 10))], ofItemAtPath: name)
            seen.insert(String(name.split(separator: "/").last ?? ""))
        }
        let small = SpeechCache(maxBytes: 2_500)
        let warmed = try SpeechDiskStore(directory: directory, maxBytes: 1 << 20).warm(small)
        #expect(warmed.entries == 2)
        #expect(small.lookup(Self.key("prompt 4")) != nil && small.lookup(Self.key("prompt 3")) != nil)
        #expect(small.lookup(Self.key("prompt 0")) == nil)
    }
}
