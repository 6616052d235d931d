import VoiceBridgeCarriers
import Foundation

/// Built prompts, ready to play: a build directory's manifest and files loaded into memory as the
/// carrier's μ-law 8 kHz, plus the catalogue's texts for live speech when a prompt has no audio.
///
/// Loading does all the work (reading, checking, converting), so `audio(for:)` is a dictionary
/// lookup that any call on any event loop can make. A directory without a manifest is an empty
/// library (nothing built yet: everything is spoken live), not an error. A damaged manifest, or a
/// file that doesn't match its manifest entry, is an error, because playing the wrong audio is
/// worse than refusing to start.
public struct PromptLibrary: Sendable {
    private let audioByID: [String: [UInt8]]
    private let textByID: [String: String]
    /// Ids the manifest lists whose file is gone: they fall back to live speech.
    public let missingFiles: [String]

    /// An empty library, or one from known audio and texts (tests, a flow without a build).
    public init(audio: [String: [UInt8]] = [:], texts: [String: String] = [:]) {
        audioByID = audio
        textByID = texts
        missingFiles = []
    }

    /// Loads `directory` (its `manifest.json` and files) and, when given, the catalogue, whose
    /// texts win over the manifest's.
    public init(directory: String, catalog: PromptCatalog? = nil) throws(PromptLibraryError) {
        var audio: [String: [UInt8]] = [:]
        var texts: [String: String] = [:]
        var missing: [String] = []
        let manifestPath = directory + "/" + PromptManifest.fileName
        if let bytes = FileManager.default.contents(atPath: manifestPath).map({ [UInt8]($0) }) {
            let manifest: PromptManifest
            do {
                manifest = try PromptManifest.decode(bytes)
            } catch {
                throw .corruptManifest(path: manifestPath, reason: Self.describe(error))
            }
            for (id, entry) in manifest.prompts {
                texts[id] = entry.text
                guard !entry.file.contains("/"), !entry.file.hasPrefix(".") else {
                    throw .corruptManifest(path: manifestPath, reason: "prompt '\(id)' names a file outside the directory: \(entry.file)")
                }
                let path = directory + "/" + entry.file
                guard let data = FileManager.default.contents(atPath: path) else {
                    missing.append(id)
                    continue
                }
                let file = [UInt8](data)
                guard SHA256.hex(file) == entry.sha256 else { throw .fileChanged(path: path, id: id) }
                do {
                    audio[id] = try PromptAudio.telephonyULaw(fromFile: file, format: entry.format)
                } catch {
                    throw .unreadableFile(path: path, id: id, reason: error.description)
                }
            }
        }
        for prompt in catalog?.prompts ?? [] {
            texts[prompt.id] = prompt.text
        }
        audioByID = audio
        textByID = texts
        missingFiles = missing.sorted()
    }

    /// Loads `directory` and the catalogue file at `catalogPath`.
    public init(directory: String, catalogPath: String) throws {
        try self.init(directory: directory, catalog: try PromptCatalog.load(path: catalogPath))
    }

    /// The prompt's audio as μ-law 8 kHz (headerless, one byte per sample), or nil when it
    /// wasn't built: then speak `text(for:)` live.
    public func audio(for id: String) -> [UInt8]? {
        audioByID[id]
    }

    /// The prompt's text, from the catalogue or else the manifest.
    public func text(for id: String) -> String? {
        textByID[id]
    }

    /// Every id known, with audio or text or both, sorted.
    public var ids: [String] {
        Set(audioByID.keys).union(textByID.keys).sorted()
    }

    /// The ids that have audio.
    public var builtIDs: [String] {
        audioByID.keys.sorted()
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context): context.debugDescription
        case DecodingError.keyNotFound(let key, let context): "missing \(context.codingPath.map(\.stringValue).joined(separator: ".")).\(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "bad value at \(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        default: "\(error)"
        }
    }
}

/// A build directory that can't be trusted.
public enum PromptLibraryError: Error, Sendable, Equatable, CustomStringConvertible {
    case corruptManifest(path: String, reason: String)
    /// The file's bytes don't match the manifest's sha256: edited or damaged after the build.
    case fileChanged(path: String, id: String)
    case unreadableFile(path: String, id: String, reason: String)

    public var description: String {
        switch self {
        case .corruptManifest(let path, let reason): "\(path): corrupt prompt manifest: \(reason) (rebuild with `voicebridge prompts build`)"
        case .fileChanged(let path, let id): "\(path): prompt '\(id)' doesn't match its manifest checksum (rebuild with `voicebridge prompts build`)"
        case .unreadableFile(let path, let id, let reason): "\(path): prompt '\(id)': \(reason)"
        }
    }
}
