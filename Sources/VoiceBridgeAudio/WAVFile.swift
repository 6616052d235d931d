import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// RIFF/WAVE reading and writing for PCM16, μ-law and A-law.
///
/// Decoding is total: any byte sequence either yields audio or a specific `WAVError`, never a crash or
/// an out-of-bounds read. Policy choices:
/// - unknown chunks (LIST, fact, cue, ...) are skipped, honouring the pad byte after odd-sized chunks;
/// - the RIFF size field is not trusted (many writers get it wrong); the real byte count is;
/// - a data chunk larger than the file is an error (`truncatedData`), not clamped, so a cut-off
///   download is noticed instead of played short;
/// - a trailing partial sample frame in the data chunk is dropped;
/// - `WAVE_FORMAT_EXTENSIBLE` is accepted when its sub-format is PCM, μ-law or A-law.
public enum WAVFile {
    public static func encode(_ audio: WAVAudio) -> [UInt8] {
        let isPCM = audio.encoding == .pcm16
        // Non-PCM formats carry cbSize and a fact chunk, as the RIFF spec asks.
        let formatSize = isPCM ? 16 : 18
        let factSize = isPCM ? 0 : 12
        let dataPad = audio.data.count & 1
        let total = 12 + (8 + formatSize) + factSize + 8 + audio.data.count + dataPad
        var out = [UInt8]()
        out.reserveCapacity(total)

        out.append(contentsOf: Array("RIFF".utf8))
        appendUInt32(&out, total - 8)
        out.append(contentsOf: Array("WAVE".utf8))

        out.append(contentsOf: Array("fmt ".utf8))
        appendUInt32(&out, formatSize)
        appendUInt16(&out, audio.encoding.formatTag)
        appendUInt16(&out, audio.channels)
        appendUInt32(&out, audio.sampleRate)
        appendUInt32(&out, audio.sampleRate * audio.blockAlign)
        appendUInt16(&out, audio.blockAlign)
        appendUInt16(&out, audio.encoding.bitsPerSample)
        if !isPCM {
            appendUInt16(&out, 0)
            out.append(contentsOf: Array("fact".utf8))
            appendUInt32(&out, 4)
            appendUInt32(&out, audio.frameCount)
        }

        out.append(contentsOf: Array("data".utf8))
        appendUInt32(&out, audio.data.count)
        out.append(contentsOf: audio.data)
        if dataPad == 1 { out.append(0) }
        return out
    }

    public static func decode(_ bytes: [UInt8]) throws(WAVError) -> WAVAudio {
        guard bytes.count >= 12 else { throw .truncatedHeader(byteCount: bytes.count) }
        guard fourCC(bytes, at: 0) == "RIFF" else { throw .notRIFF }
        guard fourCC(bytes, at: 8) == "WAVE" else { throw .notWAVE }

        var format: Format?
        var dataRange: Range<Int>?
        var position = 12
        while position + 8 <= bytes.count, format == nil || dataRange == nil {
            let id = fourCC(bytes, at: position)
            let size = readUInt32(bytes, at: position + 4)
            let bodyStart = position + 8
            let available = bytes.count - bodyStart
            switch id {
            case "data":
                guard size <= available else { throw .truncatedData(declaredSize: size, available: available) }
                dataRange = bodyStart ..< bodyStart + size
            case "fmt ":
                guard size <= available else { throw .truncatedChunk(id: id, declaredSize: size, available: available) }
                format = try parseFormat(bytes, at: bodyStart, size: size)
            default:
                guard size <= available else { throw .truncatedChunk(id: id, declaredSize: size, available: available) }
            }
            position = bodyStart + size + (size & 1)
        }
        guard let format else { throw .missingFormatChunk }
        guard let dataRange else { throw .missingDataChunk }

        let usable = dataRange.count - dataRange.count % format.blockAlign
        return WAVAudio(
            sampleRate: format.sampleRate,
            channels: format.channels,
            encoding: format.encoding,
            data: Array(bytes[dataRange.lowerBound ..< dataRange.lowerBound + usable])
        )
    }

    public static func read(path: String) throws -> WAVAudio {
        // FileManager says nil and errno says why: "No such file or directory", not a Foundation
        // error dump.
        errno = 0
        guard let contents = FileManager.default.contents(atPath: path) else {
            let reason = errno != 0 ? String(cString: strerror(errno)) : (FileManager.default.fileExists(atPath: path) ? "cannot be read" : "No such file or directory")
            throw WAVError.unreadable(path: path, reason: reason)
        }
        return try decode([UInt8](contents))
    }

    /// Writes atomically: a temporary file in the same directory, then rename(2) over `path`, so a
    /// reader (or a crash) never sees a half-written file.
    public static func write(_ audio: WAVAudio, to path: String) throws {
        let target = URL(fileURLWithPath: path)
        let temporary = target.deletingLastPathComponent()
            .appendingPathComponent(".\(target.lastPathComponent).\(UUID().uuidString).tmp")
        try Data(encode(audio)).write(to: temporary)
        if rename(temporary.path, target.path) != 0 {
            let code = errno
            try? FileManager.default.removeItem(at: temporary)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        }
    }

    private struct Format {
        var encoding: WAVEncoding
        var channels: Int
        var sampleRate: Int
        var blockAlign: Int
    }

    private static func parseFormat(_ bytes: [UInt8], at start: Int, size: Int) throws(WAVError) -> Format {
        guard size >= 16 else { throw .formatChunkTooSmall(size: size) }
        var tag = readUInt16(bytes, at: start)
        let channels = readUInt16(bytes, at: start + 2)
        let sampleRate = readUInt32(bytes, at: start + 4)
        let blockAlign = readUInt16(bytes, at: start + 12)
        let bits = readUInt16(bytes, at: start + 14)
        if tag == 0xFFFE {
            // WAVE_FORMAT_EXTENSIBLE: the real tag is the first two bytes of the sub-format GUID.
            guard size >= 40 else { throw .formatChunkTooSmall(size: size) }
            tag = readUInt16(bytes, at: start + 24)
        }
        let encoding: WAVEncoding
        switch tag {
        case 1: encoding = .pcm16
        case 6: encoding = .alaw
        case 7: encoding = .ulaw
        default: throw .unsupportedFormatTag(tag)
        }
        guard bits == encoding.bitsPerSample else { throw .unsupportedBitsPerSample(formatTag: tag, bits: bits) }
        guard channels > 0 else { throw .invalidChannelCount(channels) }
        guard sampleRate > 0 else { throw .invalidSampleRate(sampleRate) }
        let expected = channels * encoding.bytesPerSample
        guard blockAlign == expected else { throw .badBlockAlign(expected: expected, actual: blockAlign) }
        return Format(encoding: encoding, channels: channels, sampleRate: sampleRate, blockAlign: blockAlign)
    }

    private static func fourCC(_ bytes: [UInt8], at offset: Int) -> String {
        String(decoding: bytes[offset ..< offset + 4].map { (0x20...0x7E).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
    }

    private static func readUInt16(_ bytes: [UInt8], at offset: Int) -> Int {
        Int(bytes[offset]) | Int(bytes[offset + 1]) << 8
    }

    private static func readUInt32(_ bytes: [UInt8], at offset: Int) -> Int {
        readUInt16(bytes, at: offset) | readUInt16(bytes, at: offset + 2) << 16
    }

    private static func appendUInt16(_ out: inout [UInt8], _ value: Int) {
        out.append(UInt8(truncatingIfNeeded: value))
        out.append(UInt8(truncatingIfNeeded: value >> 8))
    }

    private static func appendUInt32(_ out: inout [UInt8], _ value: Int) {
        appendUInt16(&out, value & 0xFFFF)
        appendUInt16(&out, (value >> 16) & 0xFFFF)
    }
}
