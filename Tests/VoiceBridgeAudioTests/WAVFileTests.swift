import Foundation
import Testing
@testable import VoiceBridgeAudio

@Suite struct WAVFileTests {
    private static func le32(_ value: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
    private static func le16(_ value: Int) -> [UInt8] { (0..<2).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }

    private static func chunk(_ id: String, _ body: [UInt8]) -> [UInt8] {
        Array(id.utf8) + le32(body.count) + body + (body.count % 2 == 1 ? [0] : [])
    }

    private static func fmt(tag: Int = 1, channels: Int = 1, rate: Int = 8000, blockAlign: Int = 2, bits: Int = 16) -> [UInt8] {
        chunk("fmt ", le16(tag) + le16(channels) + le32(rate) + le32(rate * blockAlign) + le16(blockAlign) + le16(bits))
    }

    private static func riff(_ chunks: [UInt8]) -> [UInt8] {
        Array("RIFF".utf8) + le32(chunks.count + 4) + Array("WAVE".utf8) + chunks
    }

    private let samples: [Int16] = Signals.sine(frequency: 440, amplitude: 12000, count: 801, sampleRate: 8000)

    @Test func pcm16RoundTrip() throws {
        let audio = WAVAudio(pcm16: samples, sampleRate: 16000)
        let bytes = WAVFile.encode(audio)
        #expect(bytes.count == 44 + samples.count * 2)
        let decoded = try WAVFile.decode(bytes)
        #expect(decoded == audio)
        #expect(decoded.pcm16Samples == samples)
        #expect(abs(decoded.durationMs - 50.0625) < 1e-9)
    }

    @Test(arguments: G711Law.allCases)
    func g711RoundTripIncludingOddLength(law: G711Law) throws {
        let codes = G711.encode(samples, law: law) // 801 bytes: exercises the pad byte
        let audio = WAVAudio(g711: codes, law: law)
        let bytes = WAVFile.encode(audio)
        #expect(bytes.count % 2 == 0)
        let decoded = try WAVFile.decode(bytes)
        #expect(decoded == audio)
        #expect(decoded.encoding == (law == .ulaw ? .ulaw : .alaw))
        #expect(decoded.pcm16Samples == G711.decode(codes, law: law))
        #expect(abs(decoded.durationMs - 100.125) < 1e-9)
    }

    @Test func stereoRoundTrip() throws {
        let audio = WAVAudio(pcm16: samples + [0], sampleRate: 44100, channels: 2)
        #expect(try WAVFile.decode(WAVFile.encode(audio)) == audio)
    }

    @Test func unknownAndOddSizedChunksAreSkipped() throws {
        let data = Self.chunk("data", [1, 2, 3, 4])
        let bytes = Self.riff(Self.chunk("LIST", Array("INFOISFT\u{5}\0\0\0abcd".utf8) + [0]) + Self.fmt()
            + Self.chunk("junk", [9, 9, 9]) + Self.chunk("fact", Self.le32(2)) + data + Self.chunk("id3 ", [7]))
        let audio = try WAVFile.decode(bytes)
        #expect(audio == WAVAudio(sampleRate: 8000, encoding: .pcm16, data: [1, 2, 3, 4]))
    }

    @Test func dataBeforeFormatAndExtensibleFormat() throws {
        let extensible = Self.chunk("fmt ", Self.le16(0xFFFE) + Self.le16(1) + Self.le32(8000) + Self.le32(8000)
            + Self.le16(1) + Self.le16(8) + Self.le16(22) + Self.le16(8) + Self.le32(0) + Self.le16(7) + [UInt8](repeating: 0, count: 14))
        let audio = try WAVFile.decode(Self.riff(Self.chunk("data", [0xFF, 0x7F]) + extensible))
        #expect(audio == WAVAudio(sampleRate: 8000, encoding: .ulaw, data: [0xFF, 0x7F]))
    }

    @Test func trailingPartialSampleFrameIsDropped() throws {
        let audio = try WAVFile.decode(Self.riff(Self.fmt() + Self.chunk("data", [1, 2, 3])))
        #expect(audio.data == [1, 2])
    }

    @Test func specificErrors() {
        let good = WAVFile.encode(WAVAudio(pcm16: samples, sampleRate: 8000))
        #expect(throws: WAVError.truncatedHeader(byteCount: 0)) { try WAVFile.decode([]) }
        #expect(throws: WAVError.truncatedHeader(byteCount: 11)) { try WAVFile.decode(Array(good[0..<11])) }
        #expect(throws: WAVError.notRIFF) { try WAVFile.decode(Array("<html><body>502 Bad Gateway</body></html>".utf8)) }
        #expect(throws: WAVError.notRIFF) { try WAVFile.decode(Array("RIFX".utf8) + Array(good[4...])) }
        #expect(throws: WAVError.notWAVE) { try WAVFile.decode(Array(good[0..<8]) + Array("AVI ".utf8) + Array(good[12...])) }
        // Cut inside the data chunk: the declared size no longer fits.
        #expect(throws: WAVError.truncatedData(declaredSize: samples.count * 2, available: 100)) {
            try WAVFile.decode(Array(good[0 ..< 144]))
        }
        // Cut inside the fmt chunk.
        #expect(throws: WAVError.truncatedChunk(id: "fmt ", declaredSize: 16, available: 4)) {
            try WAVFile.decode(Array(good[0 ..< 24]))
        }
        #expect(throws: WAVError.missingDataChunk) { try WAVFile.decode(Self.riff(Self.fmt())) }
        #expect(throws: WAVError.missingFormatChunk) { try WAVFile.decode(Self.riff(Self.chunk("data", [0, 0]))) }
        #expect(throws: WAVError.missingFormatChunk) { try WAVFile.decode(Self.riff([])) }
        #expect(throws: WAVError.unsupportedFormatTag(3)) {
            try WAVFile.decode(Self.riff(Self.fmt(tag: 3, blockAlign: 4, bits: 32) + Self.chunk("data", [0, 0, 0, 0])))
        }
        #expect(throws: WAVError.unsupportedFormatTag(85)) { // MP3 in a WAV wrapper
            try WAVFile.decode(Self.riff(Self.fmt(tag: 0x55) + Self.chunk("data", [0, 0])))
        }
        #expect(throws: WAVError.unsupportedBitsPerSample(formatTag: 1, bits: 8)) {
            try WAVFile.decode(Self.riff(Self.fmt(blockAlign: 1, bits: 8) + Self.chunk("data", [0, 0])))
        }
        #expect(throws: WAVError.badBlockAlign(expected: 2, actual: 3)) {
            try WAVFile.decode(Self.riff(Self.fmt(blockAlign: 3) + Self.chunk("data", [0, 0])))
        }
        #expect(throws: WAVError.invalidChannelCount(0)) {
            try WAVFile.decode(Self.riff(Self.fmt(channels: 0) + Self.chunk("data", [0, 0])))
        }
        #expect(throws: WAVError.invalidSampleRate(0)) {
            try WAVFile.decode(Self.riff(Self.fmt(rate: 0) + Self.chunk("data", [0, 0])))
        }
        #expect(throws: WAVError.formatChunkTooSmall(size: 14)) {
            try WAVFile.decode(Self.riff(Self.chunk("fmt ", [UInt8](repeating: 1, count: 14)) + Self.chunk("data", [0, 0])))
        }
        #expect(WAVError.unsupportedFormatTag(3).description.contains("unsupported format tag 3"))
        #expect(WAVError.truncatedHeader(byteCount: 5).description.contains("truncated header"))
    }

    @Test func fuzzedInputsNeverCrash() {
        var rng = SplitMix64(seed: 2024)
        let seeds = [
            WAVFile.encode(WAVAudio(pcm16: samples, sampleRate: 8000)),
            WAVFile.encode(WAVAudio(g711: G711.encode(samples, law: .ulaw), law: .ulaw)),
            Self.riff(Self.chunk("LIST", [1, 2, 3]) + Self.fmt(tag: 6, blockAlign: 1, bits: 8) + Self.chunk("data", [0xD5])),
        ]
        var decoded = 0, rejected = 0
        for round in 0..<4000 {
            var bytes: [UInt8]
            if round % 4 == 0 {
                bytes = (0..<Int.random(in: 0...96, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if Bool.random(using: &rng) { bytes = Array("RIFF".utf8) + bytes }
            } else {
                bytes = seeds.randomElement(using: &rng)!
                for _ in 0..<Int.random(in: 1...8, using: &rng) {
                    switch Int.random(in: 0..<4, using: &rng) {
                    case 0: // flip a byte, biased towards the headers where sizes live
                        let limit = Bool.random(using: &rng) ? min(bytes.count, 64) : bytes.count
                        if limit > 0 { bytes[Int.random(in: 0..<limit, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
                    case 1: // truncate
                        bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng)))
                    case 2: // extreme size field
                        if bytes.count >= 8 {
                            let at = Int.random(in: 0...(bytes.count - 4), using: &rng)
                            let value = [0, 1, 0x7FFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFE].randomElement(using: &rng)!
                            bytes.replaceSubrange(at ..< at + 4, with: Self.le32(value))
                        }
                    default: // append garbage
                        bytes += (0..<Int.random(in: 1...20, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    }
                }
            }
            do {
                let audio = try WAVFile.decode(bytes)
                #expect(audio.data.count % (audio.channels * audio.encoding.bytesPerSample) == 0)
                decoded += 1
            } catch {
                rejected += 1
            }
        }
        // Both outcomes must actually occur, or the fuzzing explored nothing.
        #expect(decoded > 100)
        #expect(rejected > 100)
    }

    @Test func writeAndReadFilesAtomically() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wavtest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("prompt.wav").path
        let first = WAVAudio(g711: G711.encode(samples, law: .ulaw), law: .ulaw)
        try WAVFile.write(first, to: path)
        #expect(try WAVFile.read(path: path) == first)
        // Overwrite in place; no temporary files are left behind.
        let second = WAVAudio(pcm16: samples, sampleRate: 8000)
        try WAVFile.write(second, to: path)
        #expect(try WAVFile.read(path: path) == second)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["prompt.wav"])
        #expect(throws: (any Error).self) { try WAVFile.read(path: directory.appendingPathComponent("missing.wav").path) }
        #expect(throws: (any Error).self) { try WAVFile.write(second, to: directory.appendingPathComponent("no/such/dir.wav").path) }
    }
}
