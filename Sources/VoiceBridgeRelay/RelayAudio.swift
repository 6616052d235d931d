import VoiceBridgeAudio
import VoiceBridgeSpeech

/// Audio the app asks for, as μ-law 8 kHz bytes ready for the play queue.
public enum RelayAudio {
    /// A `w` in `sendDigits`: half a second of silence, as in `<Play digits>`.
    public static let pauseMs = 500
    public static let toneMs = 100
    public static let gapMs = 100
    /// A fetched file larger than this is refused rather than held in memory.
    public static let maxFetchBytes = 16 * 1024 * 1024
    /// `loop` repetitions stop once this much audio is queued (1000 loops of a long file would not fit).
    public static let maxPlayMs = 10 * 60 * 1000

    /// SpanDSP DTMF tones for `digits`, with `w` as a pause.
    public static func digitTones(_ digits: String) throws -> [UInt8] {
        var out: [UInt8] = []
        var run = ""
        func flush() throws {
            guard !run.isEmpty else { return }
            out += ToneGenerator.ulaw(try ToneGenerator.dtmf(run, toneMs: toneMs, gapMs: gapMs, levelDBm0: -10))
            run = ""
        }
        for c in digits {
            if c == "w" {
                try flush()
                out += [UInt8](repeating: 0xFF, count: pauseMs * 8)
            } else {
                run.append(c)
            }
        }
        try flush()
        return out
    }

    public struct DecodeError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// A WAV file (PCM 16-bit, μ-law or A-law, any supported rate, mono or stereo) as μ-law 8 kHz
    /// mono. Other formats (MP3, ...) are refused: their bytes must never reach the caller as noise.
    public static func ulaw8k(wav bytes: [UInt8]) throws -> [UInt8] {
        let audio: WAVAudio
        do {
            audio = try WAVFile.decode(bytes)
        } catch {
            throw DecodeError(description: "not a WAV file the bridge can play: \(error)")
        }
        if audio.encoding == .ulaw, audio.sampleRate == 8000, audio.channels == 1 { return audio.data }
        var pcm = audio.pcm16Samples
        if audio.channels > 1 {
            let n = audio.channels
            pcm = stride(from: 0, to: pcm.count - n + 1, by: n).map { i in
                Int16(clamping: (0..<n).reduce(0) { $0 + Int(pcm[i + $1]) } / n)
            }
        }
        if audio.sampleRate != 8000 {
            let resampler: Resampler
            do {
                resampler = try Resampler(inputRate: audio.sampleRate, outputRate: 8000)
            } catch {
                throw DecodeError(description: "cannot convert \(audio.sampleRate) Hz to 8000 Hz")
            }
            pcm = resampler.process(pcm)
        }
        return G711.encode(pcm, law: .ulaw)
    }

    /// Fetches `url` with libcurl (off the event loop, on the curl thread) and converts it.
    public static func fetch(_ url: String) async throws -> [UInt8] {
        let request = HTTPRequest(url: url, connectTimeout: .seconds(5), stallTimeout: .seconds(10), totalTimeout: .seconds(30))
        let (head, body) = try await CurlMulti.shared.perform(request)
        guard head.status == 200 else {
            throw DecodeError(description: "HTTP \(head.status) from \(url)")
        }
        guard body.count <= maxFetchBytes else { throw DecodeError(description: "\(url) is larger than \(maxFetchBytes) bytes") }
        return try ulaw8k(wav: body)
    }

    /// `loop` copies of `audio`, stopping at `maxPlayMs`.
    public static func looped(_ audio: [UInt8], times: Int) -> [UInt8] {
        guard !audio.isEmpty else { return [] }
        let copies = max(1, min(times, maxPlayMs * 8 / audio.count))
        var out: [UInt8] = []
        out.reserveCapacity(audio.count * copies)
        for _ in 0..<copies { out += audio }
        return out
    }
}
