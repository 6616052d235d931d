import Foundation
import Testing

/// The README's shell examples run on a machine set up by the README's own two commands: every
/// program they call is ours, part of a base Debian system, installed by the setup
/// (`scripts/apt-packages*.txt`), or the deployment host's own tooling, named as such. The
/// `soxi` example failed on a fresh machine because nothing installed sox.
@Suite struct ReadmeCommandsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// In every Debian image (essential packages, shell builtins).
    static let base: Set<String> = ["bash", "sh", "cd", "export", "set", "printf", "echo", "cat", "tail", "head", "base64", "install", "cp", "mkdir", "ls"]
    /// Installed by the setup, with the Debian package that brings each.
    static let installed: [String: String] = [
        "swift": "(the Swift toolchain)", "python3": "python3", "curl": "curl", "openssl": "ca-certificates",
    ]
    /// The deployment host's own tools (the Deploy and phone-number sections), not ours to install.
    static let hostTools: Set<String> = ["docker", "sudo", "systemctl", "journalctl", "cloudflared"]

    /// Each program a README shell block runs (first word of each command, after `VAR=value`).
    static func programs(inReadme text: String) -> [String] {
        var programs: [String] = []
        var inShell = false
        var pending = ""
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(rawLine)
            if line.hasPrefix("```") {
                inShell = line == "```sh"
                continue
            }
            guard inShell else { continue }
            var code = line
            if let comment = code.range(of: #"(^|\s)#"#, options: .regularExpression) { code = String(code[..<comment.lowerBound]) }
            if code.hasSuffix("\\") {
                pending += code.dropLast() + " "
                continue
            }
            code = pending + code
            pending = ""
            code = code.replacingOccurrences(of: "$(", with: ";").replacingOccurrences(of: "'", with: " ' ")
            var quoted = false
            var command = ""
            func take() {
                let words = command.split(separator: " ").map(String.init).drop { $0.contains("=") && !$0.hasPrefix("-") }
                if let first = words.first { programs.append(first) }
                command = ""
            }
            for c in code {
                if c == "'" { quoted.toggle() }
                if !quoted && (c == "|" || c == ";" || c == "&" || c == ")") { take() } else { command.append(c) }
            }
            take()
        }
        return programs
    }

    @Test func everyProgramTheReadmeRunsIsOursBaseInstalledOrTheHosts() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let packages = try ["scripts/apt-packages.txt", "scripts/apt-packages-browser.txt"].flatMap {
            try String(contentsOf: Self.root.appendingPathComponent($0), encoding: .utf8).split(separator: "\n").map(String.init)
        }
        let programs = Self.programs(inReadme: readme)
        #expect(programs.count > 40)
        for program in Set(programs) {
            if program == "voicebridge" || program == ".build/release/voicebridge" || Self.base.contains(program) || Self.hostTools.contains(program) { continue }
            if program.hasPrefix("scripts/") || program.hasPrefix("Benchmarks/") {
                #expect(FileManager.default.isExecutableFile(atPath: Self.root.appendingPathComponent(program).path), "\(program) is not in the repository")
                continue
            }
            guard let package = Self.installed[program] else {
                Issue.record("the README runs `\(program)`, which the setup does not install")
                continue
            }
            if program != "swift" { #expect(packages.contains(package), "`\(program)` needs \(package) in scripts/apt-packages*.txt") }
        }
    }

    @Test func theCheckCatchesAToolTheSetupDoesNotInstall() {
        let programs = Self.programs(inReadme: "```sh\nsoxi -D build/prompts/welcome.wav   # seconds\nA=1 curl -s x | jq .status && docker ps\n```\n")
        #expect(programs == ["soxi", "curl", "jq", "docker"])
        #expect(Self.installed["soxi"] == nil && Self.installed["jq"] == nil)
    }
}
