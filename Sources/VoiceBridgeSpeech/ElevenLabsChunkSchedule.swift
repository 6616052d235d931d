import Foundation

/// `generation_config.chunk_length_schedule`: how many buffered characters each successive
/// generation waits for (doc §1.4). The first entry sets the time to first audio; the last one
/// repeats for the rest of the context. Each entry must be within 50...500.
public struct ElevenLabsChunkSchedule: Sendable, Equatable, CustomStringConvertible {
    public let values: [Int]

    /// The service's range for each entry.
    public static let allowedRange = 50...500

    /// A custom schedule; throws when it is empty or an entry is outside 50...500.
    public init(_ values: [Int]) throws(ElevenLabsWebSocketError) {
        guard !values.isEmpty else {
            throw .invalidConfiguration("chunk_length_schedule must have at least one entry")
        }
        if let bad = values.first(where: { !Self.allowedRange.contains($0) }) {
            throw .invalidConfiguration("chunk_length_schedule entry \(bad) is outside 50...500")
        }
        self.values = values
    }

    private init(unchecked values: [Int]) {
        self.values = values
    }

    /// Lowest latency: the first audio after 50 characters.
    public static let speed = ElevenLabsChunkSchedule(unchecked: [50, 75, 100, 150])
    /// The service's default, and ours.
    public static let balanced = ElevenLabsChunkSchedule(unchecked: [120, 160, 250, 290])
    /// Longer segments, better prosody, later first audio.
    public static let quality = ElevenLabsChunkSchedule(unchecked: [250, 350, 450, 500])
    /// Short conversational turns.
    public static let dialogue = ElevenLabsChunkSchedule(unchecked: [80, 120, 160, 200])
    /// Long read-out passages.
    public static let narration = ElevenLabsChunkSchedule(unchecked: [200, 280, 350, 400])

    public static let presets: [String: ElevenLabsChunkSchedule] = [
        "speed": .speed, "balanced": .balanced, "quality": .quality, "dialogue": .dialogue, "narration": .narration,
    ]

    /// A preset by name ("speed", "balanced", "quality", "dialogue", "narration"), or a custom
    /// schedule written as comma-separated numbers ("50,120,200").
    public init(parsing text: String) throws(ElevenLabsWebSocketError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        if let preset = Self.presets[trimmed] {
            self = preset
            return
        }
        var values: [Int] = []
        for part in trimmed.split(separator: ",") {
            guard let n = Int(part.trimmingCharacters(in: .whitespaces)) else {
                throw .invalidConfiguration(
                    "chunk schedule \"\(text)\" is neither a preset (\(Self.presets.keys.sorted().joined(separator: ", "))) nor a list of numbers"
                )
            }
            values.append(n)
        }
        try self.init(values)
    }

    public var description: String {
        if let name = Self.presets.first(where: { $0.value == self })?.key { return "\(name) \(values)" }
        return "custom \(values)"
    }
}
