import Foundation
import VoiceBridgeAudio

/// A parsed flow with the WAV files it plays already loaded and converted to μ-law, so a call
/// never touches the disk.
public struct LoadedFlow: Sendable {
    public var definition: FlowDefinition
    /// μ-law 8 kHz audio of every `play: file.wav`, keyed by the path as written.
    public var wavAudio: [String: [UInt8]]

    public init(definition: FlowDefinition, wavAudio: [String: [UInt8]] = [:]) {
        self.definition = definition
        self.wavAudio = wavAudio
    }
}

/// Every flow of a directory (config/flows/*.yaml), and which one answers a called number.
public struct FlowLibrary: Sendable {
    public let flows: [LoadedFlow]
    /// Problems that don't stop the flows from running.
    public let warnings: [FlowDiagnostic]

    public init(flows: [LoadedFlow], warnings: [FlowDiagnostic] = []) {
        self.flows = flows
        self.warnings = warnings
    }

    /// Loads and checks a directory. Any error fails the whole load, so `serve` never starts
    /// with half a set of flows.
    public static func load(directory: String, knownPrompts: Set<String>? = nil) throws(FlowLoadError) -> FlowLibrary {
        let (library, diagnostics) = inspect(directory: directory, knownPrompts: knownPrompts)
        let errors = diagnostics.filter { $0.severity == .error }
        guard errors.isEmpty, let library else { throw FlowLoadError(diagnostics: errors.isEmpty ? diagnostics : errors) }
        return library
    }

    /// Loads what it can and reports every problem: what `voicebridge flows check` prints.
    public static func inspect(directory: String, knownPrompts: Set<String>? = nil) -> (FlowLibrary?, [FlowDiagnostic]) {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            return (nil, [FlowDiagnostic(at: .init(file: directory, line: 1), "no such flow directory")])
        }
        let names = ((try? fm.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
            .sorted()
        var diagnostics: [FlowDiagnostic] = []
        guard !names.isEmpty else {
            return (nil, [FlowDiagnostic(at: .init(file: directory, line: 1), "no flow files (*.yaml) in this directory")])
        }
        var definitions: [FlowDefinition] = []
        for name in names {
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            guard let data = fm.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                diagnostics.append(FlowDiagnostic(at: .init(file: path, line: 1), "can't read the file as UTF-8 text"))
                continue
            }
            var parser = FlowParser(file: path)
            let definition = parser.parseDocument(text)
            diagnostics += parser.diagnostics
            if let definition { definitions.append(definition) }
        }
        diagnostics += FlowChecker(knownPrompts: knownPrompts).check(definitions)
        var flows: [LoadedFlow] = []
        for definition in definitions {
            var loaded = LoadedFlow(definition: definition)
            let base = (definition.file as NSString).deletingLastPathComponent
            for (path, location) in wavReferences(definition) where loaded.wavAudio[path] == nil {
                let full = path.hasPrefix("/") ? path : base + "/" + path
                do {
                    loaded.wavAudio[path] = try WAVFile.read(path: full).telephonyULaw()
                } catch {
                    diagnostics.append(FlowDiagnostic(at: location, "can't play \(path): \(error)"))
                }
            }
            flows.append(loaded)
        }
        let hasErrors = diagnostics.contains { $0.severity == .error }
        let warnings = diagnostics.filter { $0.severity == .warning }
        return (hasErrors ? nil : FlowLibrary(flows: flows, warnings: warnings), diagnostics)
    }

    /// The flow for a called number: the one listing it, else the default, else the only flow.
    public func flow(forCalledNumber to: String?) -> LoadedFlow? {
        if let to {
            let key = Self.normalize(to)
            if let match = flows.first(where: { $0.definition.numbers.contains { Self.normalize($0) == key } }) { return match }
        }
        return flows.first(where: \.definition.isDefault) ?? (flows.count == 1 ? flows[0] : nil)
    }

    /// The flow that lists `to` among its numbers; the default flow does not count.
    public func flow(claimingNumber to: String?) -> LoadedFlow? {
        guard let to else { return nil }
        let key = Self.normalize(to)
        return flows.first { $0.definition.numbers.contains { Self.normalize($0) == key } }
    }

    public func flow(named name: String) -> LoadedFlow? {
        flows.first { $0.definition.name == name }
    }

    /// Numbers compare by their digits and a leading +, so "+1 (555) 123-0000" matches "+15551230000".
    static func normalize(_ number: String) -> String {
        String(number.filter { $0.isNumber || $0 == "+" })
    }

    private static func wavReferences(_ flow: FlowDefinition) -> [(String, FlowLocation)] {
        var out: [(String, FlowLocation)] = []
        func visit(_ steps: [FlowStep]) {
            for step in steps {
                switch step.kind {
                case let .play(p): if case let .wav(path) = p.source { out.append((path, step.location)) }
                case let .gather(g): visit(g.prompt + g.reprompt); visitTarget(g.exhausted)
                case let .menu(m):
                    visit(m.prompt + m.noInput + m.noMatch)
                    for c in m.choices { visitTarget(c.target) }
                    visitTarget(m.exhausted)
                case let .webhook(w): visit(w.onError ?? [])
                default: break
                }
            }
        }
        func visitTarget(_ t: FlowTarget?) {
            if case let .steps(s)? = t { visit(s) }
        }
        for block in flow.blocks { visit(block.steps) }
        return out
    }
}
