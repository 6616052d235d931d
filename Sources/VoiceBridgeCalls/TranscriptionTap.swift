import VoiceBridgeAudio
import VoiceBridgeCarriers
import VoiceBridgeSpeech

/// The caller's frames as speech-to-text takes them, with as little work as the format allows:
/// μ-law and little-endian L16 pass through untouched; A-law becomes μ-law by table (both are
/// 8-bit G.711, so nothing is lost that matters); big-endian L16 is byte-swapped. One scratch
/// buffer, sized once: nothing is allocated per frame.
struct TranscriptionTap {
    let format: ScribeSettings.AudioFormat
    let source: MediaFormat
    private var scratch: [UInt8]

    private static let alawToMulaw: [UInt8] = (0...255).map { G711.encode(G711.decode(UInt8($0), law: .alaw), law: .ulaw) }

    init?(_ source: MediaFormat) {
        guard source.channels == 1 else { return nil }
        switch (source.encoding, source.sampleRate) {
        case (.mulaw, 8000), (.alaw, 8000): format = .ulaw8000
        case (.l16, 8000): format = .pcm8000
        case (.l16, 16000): format = .pcm16000
        default: return nil
        }
        self.source = source
        scratch = [UInt8](repeating: 0, count: source.frameBytes * 4)
    }

    mutating func forward(_ payload: UnsafeRawBufferPointer, to transcriber: any CallTranscriber) {
        switch source.encoding {
        case .mulaw, .l16(.littleEndian):
            transcriber.append(payload)
        case .alaw:
            let n = prepare(payload.count)
            for i in 0..<n { scratch[i] = Self.alawToMulaw[Int(payload[i])] }
            scratch.withUnsafeBytes { transcriber.append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        case .l16(.bigEndian):
            let n = prepare(payload.count) & ~1
            var i = 0
            while i < n {
                scratch[i] = payload[i + 1]
                scratch[i + 1] = payload[i]
                i += 2
            }
            scratch.withUnsafeBytes { transcriber.append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
    }

    private mutating func prepare(_ count: Int) -> Int {
        if scratch.count < count { scratch = [UInt8](repeating: 0, count: count) }
        return count
    }
}
