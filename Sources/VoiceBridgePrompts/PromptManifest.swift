import Foundation

/// `manifest.json` in a build directory: which file holds which prompt, and how it was made.
///
/// ```json
/// {"version": 1, "prompts": {"welcome": {"file": "welcome.wav", "format": "ulaw_wav",
///   "hash": "<cache key sha256>", "sha256": "<file sha256>", "durationMs": 2160,
///   "characters": 36, "voice": "…", "model": "…", "source": "elevenlabs",
///   "text": "Thank you for calling Acme support."}}}
/// ```
public struct PromptManifest: Sendable, Equatable, Codable {
    public static let fileName = "manifest.json"
    public static let currentVersion = 1

    public var version: Int
    public var prompts: [String: Entry]

    public init(prompts: [String: Entry] = [:]) {
        version = Self.currentVersion
        self.prompts = prompts
    }

    public struct Entry: Sendable, Equatable, Codable {
        /// The file's name inside the build directory.
        public var file: String
        public var format: PromptFormat
        /// The cache key's SHA-256: equal means the same audio.
        public var hash: String
        /// SHA-256 of the file's bytes, to notice a file changed or damaged after the build.
        public var sha256: String
        public var durationMs: Int
        /// Characters billed (or that would be) for the text.
        public var characters: Int
        public var voice: String
        public var model: String
        /// "elevenlabs" or "offline".
        public var source: String
        /// The text spoken, so a deployment with only the build directory can still fall back to
        /// live speech.
        public var text: String

        public init(file: String, format: PromptFormat, hash: String, sha256: String, durationMs: Int, characters: Int, voice: String, model: String, source: String, text: String) {
            self.file = file
            self.format = format
            self.hash = hash
            self.sha256 = sha256
            self.durationMs = durationMs
            self.characters = characters
            self.voice = voice
            self.model = model
            self.source = source
            self.text = text
        }
    }

    /// Pretty, sorted JSON: stable across runs, so an unchanged build rewrites identical bytes.
    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(self)) ?? Data()) + [UInt8(ascii: "\n")]
    }

    public static func decode(_ bytes: [UInt8]) throws -> PromptManifest {
        let manifest = try JSONDecoder().decode(PromptManifest.self, from: Data(bytes))
        guard manifest.version == currentVersion else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "manifest version \(manifest.version); this build reads version \(currentVersion)"))
        }
        return manifest
    }
}
