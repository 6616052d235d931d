// Fails when a target imports one of this package's modules without declaring it as a dependency.
// SwiftPM builds such a target only when the build order happens to make the module ready first,
// so the gap passes on one machine and breaks a clean CI build on another.
// Usage: swift package dump-package | swift scripts/check-imports.swift
import Foundation

struct Manifest: Decodable {
    struct Target: Decodable {
        let name: String
        let type: String
        let path: String?
        let dependencies: [[String: [JSONValue?]]]
    }
    let targets: [Target]
}

enum JSONValue: Decodable {
    case string(String), other
    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        self = (try? container.decode(String.self)).map(JSONValue.string) ?? .other
    }
}

let manifest = try JSONDecoder().decode(Manifest.self, from: FileHandle.standardInput.readDataToEndOfFile())
let ownModules = Set(manifest.targets.map(\.name))
var problems: [String] = []
for target in manifest.targets where target.type != "system" {
    let declared = Set(target.dependencies.flatMap(\.values).compactMap { values -> String? in
        if case .string(let name)? = values.first { return name }
        return nil
    })
    let folder = target.path ?? (target.type == "test" ? "Tests/" : "Sources/") + target.name
    guard let files = FileManager.default.enumerator(atPath: folder) else { continue }
    for case let file as String in files where file.hasSuffix(".swift") {
        let text = (try? String(contentsOfFile: folder + "/" + file, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ")
            guard let index = words.firstIndex(of: "import"), index + 1 < words.count,
                  words[..<index].allSatisfy({ $0.hasPrefix("@") }) else { continue }
            let module = String(words[index + 1])
            if ownModules.contains(module), module != target.name, !declared.contains(module) {
                problems.append("\(folder)/\(file): imports \(module), which target \(target.name) does not declare")
            }
        }
    }
}
for problem in Set(problems).sorted() { print(problem) }
exit(problems.isEmpty ? 0 : 1)
