import Foundation
import VoiceBridgeCarriers
import VoiceBridgeSpeech
import Yams

/// The prompt catalogue (config/prompts.yaml): every fixed sentence a flow plays, with the voice,
/// model, settings and file format to build it in.
///
/// ```yaml
/// version: 1
/// defaults:                  # every prompt inherits these
///   voice: JBFqnCBsd6RMkjVDRZzb
///   model: eleven_flash_v2_5
///   format: ulaw_wav
///   settings: { stability: 0.5, similarity_boost: 0.75 }
/// prompts:
///   - id: welcome
///     text: Thank you for calling Acme support.
///     voice: …                # any default can be overridden per prompt
/// ```
///
/// Parsing is strict, because a typo here costs money or silence later: unknown keys, duplicate
/// ids, empty texts and out-of-range settings are errors that name the file and line.
public struct PromptCatalog: Sendable, Equatable {
    public var prompts: [PromptDefinition]

    public init(prompts: [PromptDefinition]) {
        self.prompts = prompts
    }

    public subscript(id: String) -> PromptDefinition? {
        prompts.first { $0.id == id }
    }

    public var ids: [String] { prompts.map(\.id) }

    /// Reads and parses a catalogue file.
    public static func load(path: String) throws(PromptCatalogError) -> PromptCatalog {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw PromptCatalogError(file: path, line: nil, message: "can't read the catalogue: \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PromptCatalogError(file: path, line: nil, message: "the catalogue is not UTF-8 text")
        }
        return try parse(text, file: path)
    }

    /// Parses catalogue text; `file` names it in errors.
    public static func parse(_ yaml: String, file: String = "prompts.yaml") throws(PromptCatalogError) -> PromptCatalog {
        try PromptCatalogParser(file: file).parse(yaml)
    }
}

/// One prompt with every default applied.
public struct PromptDefinition: Sendable, Equatable {
    /// A file name stem: letters, digits, `.`, `_` and `-`, starting with a letter or digit.
    public var id: String
    public var text: String
    /// ElevenLabs voice id.
    public var voice: String
    /// ElevenLabs model id.
    public var model: String
    public var settings: ElevenLabsVoiceSettings
    public var format: PromptFormat
    /// What to ask ElevenLabs for, when the catalogue says; nil follows `format` (see
    /// `resolvedSynthesisFormat`).
    public var synthesisFormat: SynthesisFormat?
    /// The espeak-ng voice used when there is no ElevenLabs key.
    public var offlineVoice: String
    /// Where the prompt starts in the catalogue, for messages (0 when built in code).
    public var line: Int

    public init(
        id: String, text: String, voice: String = ElevenLabsSpeechRequest.defaultVoiceID,
        model: String = ElevenLabsSpeechRequest.defaultModelID, settings: ElevenLabsVoiceSettings = ElevenLabsVoiceSettings(),
        format: PromptFormat = .ulawWAV, synthesisFormat: SynthesisFormat? = nil, offlineVoice: String = "en-us", line: Int = 0
    ) {
        self.id = id
        self.text = text
        self.voice = voice
        self.model = model
        self.settings = settings
        self.format = format
        self.synthesisFormat = synthesisFormat
        self.offlineVoice = offlineVoice
        self.line = line
    }

    /// What the audio is synthesised in; the file is converted from it.
    public var resolvedSynthesisFormat: SynthesisFormat { synthesisFormat ?? format.defaultSynthesisFormat }

    /// Characters ElevenLabs bills for the text (it counts Unicode scalars).
    public var characters: Int { text.unicodeScalars.count }

    /// The file name inside the output directory.
    public var fileName: String { "\(id).\(format.fileExtension)" }

    /// Whether `id` is safe as a file name stem (no path separators, no leading dot).
    public static func isValidID(_ id: String) -> Bool {
        guard let first = id.unicodeScalars.first, id.utf8.count <= 100 else { return false }
        func allowed(_ s: Unicode.Scalar) -> Bool {
            s.isASCII && (CharacterSet.alphanumerics.contains(s) || s == "." || s == "_" || s == "-")
        }
        return first.isASCII && CharacterSet.alphanumerics.contains(first) && id.unicodeScalars.allSatisfy(allowed)
    }
}

/// A catalogue that can't be used, with the file and line at fault.
public struct PromptCatalogError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// 1-based; nil when the problem is the file as a whole.
    public var line: Int?
    public var message: String

    public init(file: String, line: Int?, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { return "\(file):\(line): \(message)" }
        return "\(file): \(message)"
    }
}

/// Walks the composed YAML tree (which keeps line numbers) into a `PromptCatalog`.
private struct PromptCatalogParser {
    let file: String

    /// The inheritable fields, from `defaults:` or a prompt.
    struct Fields {
        var voice: String?
        var model: String?
        var format: PromptFormat?
        var synthesisFormat: SynthesisFormat?
        var offlineVoice: String?
        var settings = ElevenLabsVoiceSettings()
    }

    static let inheritable = ["voice", "model", "format", "synthesis_format", "offline_voice", "settings"]
    static let settingsKeys = ["stability", "similarity_boost", "style", "use_speaker_boost", "speed"]

    func parse(_ yaml: String) throws(PromptCatalogError) -> PromptCatalog {
        if let problem = YAMLNesting.problem(in: yaml) {
            throw PromptCatalogError(file: file, line: nil, message: "not accepted: \(problem)")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw PromptCatalogError(file: file, line: Self.line(of: error), message: "not valid YAML: \(Self.problem(of: error))")
        } catch {
            throw PromptCatalogError(file: file, line: nil, message: "not valid YAML: \(error)")
        }
        guard let root else { throw fail(nil, "the catalogue is empty; it needs `version: 1` and `prompts:`") }
        let top = try mapping(root, "the catalogue", allowed: ["version", "defaults", "prompts"])

        guard let version = top["version"] else { throw fail(root, "missing `version: 1`") }
        guard version.scalar.flatMap({ YAMLInteger.parse($0.string) }) == 1 else { throw fail(version, "unsupported version \(version.string ?? "?"); this build reads version 1") }

        var defaults = Fields()
        if let node = top["defaults"] {
            defaults = try fields(try mapping(node, "defaults", allowed: Self.inheritable), inherited: Fields(), context: "defaults")
        }

        guard let promptsNode = top["prompts"] else { throw fail(root, "missing `prompts:` (a list of prompts)") }
        guard case .sequence(let list) = promptsNode else { throw fail(promptsNode, "`prompts` must be a list of prompts (`- id: …`)") }
        var prompts: [PromptDefinition] = []
        var seen: [String: Int] = [:]
        for item in list {
            let entry = try mapping(item, "a prompt", allowed: ["id", "text"] + Self.inheritable)
            guard let idNode = entry["id"] else { throw fail(item, "a prompt without `id`") }
            let id = try string(idNode, "id")
            guard PromptDefinition.isValidID(id) else {
                throw fail(idNode, "prompt id '\(id)' can't be a file name: use letters, digits, '.', '_' and '-', starting with a letter or digit")
            }
            let line = Self.line(item)
            if let first = seen[id] { throw fail(idNode, "duplicate prompt id '\(id)' (first defined on line \(first))") }
            seen[id] = line
            guard let textNode = entry["text"] else { throw fail(item, "prompt '\(id)' has no `text`") }
            let text = try string(textNode, "text of prompt '\(id)'").trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { throw fail(textNode, "prompt '\(id)' has an empty text") }
            let own = try fields(entry, inherited: defaults, context: "prompt '\(id)'")
            let format = own.format ?? .ulawWAV
            prompts.append(PromptDefinition(
                id: id, text: text,
                voice: own.voice ?? ElevenLabsSpeechRequest.defaultVoiceID,
                model: own.model ?? ElevenLabsSpeechRequest.defaultModelID,
                settings: own.settings, format: format,
                synthesisFormat: own.synthesisFormat,
                offlineVoice: own.offlineVoice ?? "en-us", line: line
            ))
        }
        return PromptCatalog(prompts: prompts)
    }

    /// The inheritable fields of `map` laid over `inherited`; settings merge field by field.
    private func fields(_ map: Node.Mapping, inherited: Fields, context: String) throws(PromptCatalogError) -> Fields {
        var out = inherited
        if let node = map["voice"] { out.voice = try nonEmpty(node, "voice of \(context)") }
        if let node = map["model"] { out.model = try nonEmpty(node, "model of \(context)") }
        if let node = map["offline_voice"] { out.offlineVoice = try nonEmpty(node, "offline_voice of \(context)") }
        if let node = map["format"] {
            let name = try string(node, "format of \(context)")
            guard let format = PromptFormat(rawValue: name) else {
                throw fail(node, "unknown format '\(name)' in \(context) (choose \(PromptFormat.choices))")
            }
            out.format = format
        }
        if let node = map["synthesis_format"] {
            let name = try string(node, "synthesis_format of \(context)")
            guard let format = SynthesisFormat(name: name) else {
                throw fail(node, "unknown synthesis_format '\(name)' in \(context) (choose \(SynthesisFormat.choices))")
            }
            out.synthesisFormat = format
        }
        if let node = map["settings"] {
            let settings = try mapping(node, "settings of \(context)", allowed: Self.settingsKeys)
            if let value = settings["stability"] { out.settings.stability = try number(value, "stability", in: 0...1) }
            if let value = settings["similarity_boost"] { out.settings.similarityBoost = try number(value, "similarity_boost", in: 0...1) }
            if let value = settings["style"] { out.settings.style = try number(value, "style", in: 0...1) }
            if let value = settings["speed"] { out.settings.speed = try number(value, "speed", in: 0.7...1.2) }
            if let value = settings["use_speaker_boost"] {
                guard case .scalar = value, let flag = value.bool else { throw fail(value, "use_speaker_boost must be true or false") }
                out.settings.useSpeakerBoost = flag
            }
        }
        return out
    }

    // MARK: - Typed reads

    private func mapping(_ node: Node, _ what: String, allowed: [String]) throws(PromptCatalogError) -> Node.Mapping {
        guard case .mapping(let map) = node else { throw fail(node, "\(what) must be a mapping of `key: value`") }
        for key in map.keys {
            let name = key.string ?? "?"
            guard allowed.contains(name) else {
                throw fail(key, "unknown key '\(name)' in \(what) (known: \(allowed.joined(separator: ", ")))")
            }
        }
        return map
    }

    private func string(_ node: Node, _ what: String) throws(PromptCatalogError) -> String {
        guard case .scalar(let scalar) = node else { throw fail(node, "\(what) must be text") }
        return scalar.string
    }

    private func nonEmpty(_ node: Node, _ what: String) throws(PromptCatalogError) -> String {
        let value = try string(node, what).trimmingCharacters(in: .whitespaces)
        guard !value.isEmpty else { throw fail(node, "\(what) is empty") }
        return value
    }

    private func number(_ node: Node, _ what: String, in range: ClosedRange<Double>) throws(PromptCatalogError) -> Double {
        guard case .scalar = node, let value = node.float, value.isFinite else { throw fail(node, "\(what) must be a number") }
        guard range.contains(value) else { throw fail(node, "\(what) \(value) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return value
    }

    private func fail(_ node: Node?, _ message: String) -> PromptCatalogError {
        PromptCatalogError(file: file, line: node.map(Self.line), message: message)
    }

    private static func line(_ node: Node) -> Int {
        node.mark?.line ?? 0
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        default: nil
        }
    }

    private static func problem(of error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, _, _), .parser(let context, let problem, _, _), .composer(let context, let problem, _, _):
            (context.map { "\($0.text) " } ?? "") + problem
        default: "\(error)"
        }
    }
}
