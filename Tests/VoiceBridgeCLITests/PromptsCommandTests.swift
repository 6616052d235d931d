import ArgumentParser
import Testing
@testable import voicebridge

@Suite struct PromptsCommandTests {
    @Test func buildDefaultsToTheShippedCatalogueAndTwoAtATime() throws {
        let command = try PromptsCommand.BuildCommand.parse([])
        #expect(command.catalog == "config/prompts.yaml")
        #expect(command.outputDirectory == "build/prompts")
        #expect(command.concurrency == 2)
        #expect(!command.dryRun)
        #expect(command.format == nil)
    }

    @Test func buildTakesItsOptions() throws {
        let command = try PromptsCommand.BuildCommand.parse([
            "my.yaml", "--out", "out", "--concurrency", "4", "--dry-run", "--format", "sln16", "--base-url", "http://127.0.0.1:9090",
        ])
        #expect(command.catalog == "my.yaml")
        #expect(command.outputDirectory == "out")
        #expect(command.concurrency == 4)
        #expect(command.dryRun)
        #expect(command.format == "sln16")
        #expect(command.baseURL == "http://127.0.0.1:9090")
    }

    @Test func badOptionsAreRefused() {
        #expect(throws: (any Error).self) { try PromptsCommand.BuildCommand.parse(["--format", "mp3"]) }
        #expect(throws: (any Error).self) { try PromptsCommand.BuildCommand.parse(["--concurrency", "0"]) }
    }

    @Test func promptsIsASubcommand() {
        #expect(VoiceBridgeCommand.configuration.subcommands.contains { $0 == PromptsCommand.self })
        #expect(VoiceBridgeCommand.helpMessage().contains("prompts"))
    }
}
