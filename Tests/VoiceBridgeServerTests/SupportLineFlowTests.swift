import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import Testing
import VoiceBridgeEmulators
import VoiceBridgeFlows
import VoiceBridgePrompts
import VoiceBridgeSpeech
@testable import VoiceBridgeServer

/// The shipped example flow (config/flows/main.yaml) end to end: the real server on the offline
/// voice, the phone simulator as the carrier, keys pressed as `dtmf` events.
@Suite struct SupportLineFlowTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// The example flow with its prompts built by `PromptBuilder` (offline voice) into `directory`,
    /// as `voicebridge prompts build` would: calls play those files byte for byte.
    static func servedFlows(promptsIn directory: String) async throws -> (ServedFlows, PromptLibrary) {
        let catalog = try PromptCatalog.load(path: root + "/config/prompts.yaml")
        _ = try await PromptBuilder(synthesizer: OfflinePromptSynthesizer(), options: .init(outputDirectory: directory)).build(catalog)
        let prompts = try PromptLibrary(directory: directory, catalog: catalog)
        let library = try FlowLibrary.load(directory: root + "/config/flows", knownPrompts: Set(catalog.ids))
        return (ServedFlows(library: library, environment: FlowEnvironment(prompts: prompts)), prompts)
    }

    /// A prompt as `withoutSilence` leaves it.
    static func voicedCore(_ audio: [UInt8]) -> [UInt8] {
        withoutSilence(audio)
    }

    /// The audio without digital silence (0xFF). A loaded machine can make the simulator play a
    /// few samples of silence (an underrun, 0.6 ms once) in the middle of a prompt; every other
    /// byte must still be there, in order.
    static func withoutSilence(_ audio: [UInt8]) -> [UInt8] {
        audio.filter { $0 != 0xFF }
    }

    /// Where `needle` starts in `haystack` at or after `from`, if anywhere. It scans for the
    /// needle's first sound rather than its first byte: prompts open with silence, and so does
    /// most of the heard audio, so a first-byte scan would compare at nearly every position.
    static func find(_ needle: ArraySlice<UInt8>, in haystack: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, needle.count <= haystack.count else { return nil }
        let anchor = needle.firstIndex { $0 != 0xFF && $0 != 0x7F } ?? needle.startIndex
        let lead = anchor - needle.startIndex
        let key = needle[anchor]
        return haystack.withUnsafeBufferPointer { h in
            needle.withUnsafeBufferPointer { n in
                var i = from + lead
                while i + n.count - lead <= h.count {
                    if h[i] == key {
                        let start = i - lead
                        if memcmp(h.baseAddress! + start, n.baseAddress!, n.count) == 0 { return start }
                    }
                    i += 1
                }
                return nil
            }
        }
    }

    @Test func billingByDTMFReachesTheTransferAfterThePromptsInOrder() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("support-line-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (flows, prompts) = try await Self.servedFlows(promptsIn: directory)
        #expect(prompts.builtIDs.count == 10)
        try await LiveServer.with(configure: { $0.publicURL = nil }, flows: flows) { server in
            // 1 during the main menu, then the account number once its prompt has played.
            let keys = [CallScript.DTMFCue(atMs: 4_000, digit: "1")]
                + "123456".enumerated().map { CallScript.DTMFCue(atMs: 9_500 + $0.offset * 250, digit: $0.element) }
            let simulator = try PhoneSimulator(configuration: .init(
                webhookURL: "http://127.0.0.1:\(server.port)/twiml", authToken: LiveServer.authToken,
                from: "+15550001111", to: "+15551230000",
                script: CallScript(dtmf: keys, maxDurationMs: 40_000)))
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let report = await simulator.run(calls: 1, rampSeconds: 0, group: group, recordHeardCalls: 1)
            try await group.shutdownGracefully()
            let call = try #require(report.calls.first)
            #expect(call.timeline.error == nil)
            #expect(call.timeline.violationCount == 0)
            #expect(call.timeline.endReason == .serverClosed)
            // The socket closed, Twilio asked /connect-action, and the flow's transfer came back.
            #expect(call.timeline.twimlAfterStream == ["<Dial>+15551230001</Dial>"])

            // Digital silence is left out on both sides: a loaded machine may make the simulator
            // play a few samples of silence (an underrun) in the middle of a prompt.
            let heard = Self.withoutSilence(try #require(call.heard))
            // In order, byte for byte as built: the greeting, the menu (cut off by the key), the
            // account prompt, then (after the live read-back of the digits) the transfer notice.
            var at = 0
            for (id, length) in [("welcome", nil), ("main-menu", 4_000), ("account-entry", nil), ("billing-transfer", nil)] as [(String, Int?)] {
                let audio = Self.voicedCore(try #require(prompts.audio(for: id)))
                let needle = audio.prefix(length ?? audio.count)
                let found = Self.find(needle, in: heard, from: at)
                #expect(found != nil, "not heard (in order): \(id); underruns \(call.timeline.underruns.intervals.map { "\($0.startMs)-\($0.endMs)" })")
                if let found { at = found + needle.count }
            }
            // Between the account prompt and the transfer notice, the digits were read back: live
            // speech, seconds of it.
            let accountEnd = try #require(Self.find(Self.voicedCore(prompts.audio(for: "account-entry")!).suffix(800), in: heard, from: 0))
            let noticeStart = try #require(Self.find(Self.voicedCore(prompts.audio(for: "billing-transfer")!).prefix(800), in: heard, from: accountEnd))
            let voiced = heard[accountEnd..<noticeStart].filter { $0 != 0xFF && $0 != 0x7F }.count
            #expect(voiced > 8_000, "read-back: \(voiced) voiced samples")
        }
    }
}
