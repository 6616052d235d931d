import Foundation

/// Turns the pieces of a 2xx body, cut wherever the network cut them, into what the endpoint
/// promises. Only ever fed a successful response's body.
protocol ElevenLabsBodyDecoder: Sendable {
    associatedtype Output: Sendable
    init()
    /// Hands each complete item to `emit` as soon as it is decoded, so the items before a bad
    /// one still go out before the error.
    mutating func feed(_ bytes: [UInt8], emit: (Output) -> Void) throws(ElevenLabsHTTPError)
    /// The body is over: whatever is left, or an error if it was cut mid-item.
    mutating func finish(emit: (Output) -> Void) throws(ElevenLabsHTTPError)
}

/// `/stream`: the body is the audio. Bytes go out exactly as they came, no copy, no decoding.
struct PassthroughBodyDecoder: ElevenLabsBodyDecoder {
    func feed(_ bytes: [UInt8], emit: ([UInt8]) -> Void) {
        if !bytes.isEmpty { emit(bytes) }
    }

    func finish(emit: ([UInt8]) -> Void) {}
}

/// `/stream/with-timestamps`: newline-delimited JSON. A line may arrive in pieces, or several in
/// one piece, so bytes are held until their newline.
struct TimestampedLineDecoder: ElevenLabsBodyDecoder {
    /// A line longer than this is not an audio chunk; stop rather than buffer without end.
    static let maxLineBytes = 32 << 20

    private var pending: [UInt8] = []

    func decodeLine(_ line: ArraySlice<UInt8>) throws(ElevenLabsHTTPError) -> ElevenLabsTimestampedAudio? {
        var line = line
        while let last = line.last, last == 0x0D || last == 0x20 || last == 0x09 { line.removeLast() }
        while let first = line.first, first == 0x20 || first == 0x09 { line.removeFirst() }
        if line.isEmpty { return nil }
        let wire: Line
        do {
            wire = try JSONDecoder().decode(Line.self, from: Data(line))
        } catch {
            throw .malformedResponse("a with-timestamps line is not the expected JSON (\(line.count) bytes)")
        }
        var audio: [UInt8] = []
        if let base64 = wire.audioBase64, !base64.isEmpty {
            guard let data = Data(base64Encoded: base64) else {
                throw .malformedResponse("audio_base64 is not base64 (\(base64.utf8.count) characters)")
            }
            audio = Array(data)
        }
        // A line whose arrays disagree keeps its audio; only its timings are unusable.
        return ElevenLabsTimestampedAudio(
            audio: audio,
            alignment: wire.alignment.flatMap { $0.isConsistent ? $0 : nil },
            normalizedAlignment: wire.normalizedAlignment.flatMap { $0.isConsistent ? $0 : nil }
        )
    }

    mutating func feed(_ bytes: [UInt8], emit: (ElevenLabsTimestampedAudio) -> Void) throws(ElevenLabsHTTPError) {
        pending += bytes
        var start = pending.startIndex
        while let newline = pending[start...].firstIndex(of: 0x0A) {
            let line = pending[start..<newline]
            start = newline + 1
            if let item = try decodeLine(line) { emit(item) }
        }
        pending.removeSubrange(..<start)
        guard pending.count <= Self.maxLineBytes else {
            throw .malformedResponse("a with-timestamps line exceeds \(Self.maxLineBytes) bytes")
        }
    }

    mutating func finish(emit: (ElevenLabsTimestampedAudio) -> Void) throws(ElevenLabsHTTPError) {
        defer { pending = [] }
        if let item = try decodeLine(pending[...]) { emit(item) }
    }

    private struct Line: Decodable {
        var audioBase64: String?
        var alignment: ElevenLabsAlignment?
        var normalizedAlignment: ElevenLabsAlignment?

        enum CodingKeys: String, CodingKey {
            case audioBase64 = "audio_base64"
            case alignment
            case normalizedAlignment = "normalized_alignment"
        }
    }
}
