import ArgumentParser
import Testing
@testable import voicebridge

@Suite struct CommandTreeTests {
    @Test func versionIsSemver() {
        let parts = VoiceBridgeVersion.current.split(separator: ".")
        #expect(parts.count == 3)
        #expect(parts.allSatisfy { Int($0) != nil })
    }

    @Test func helpNamesTheProduct() {
        let help = VoiceBridgeCommand.helpMessage()
        #expect(help.contains("voicebridge"))
        #expect(help.contains("--version"))
        #expect(help.contains("replay"))
    }
}
