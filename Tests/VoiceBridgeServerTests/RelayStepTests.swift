import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing
import VoiceBridgeEmulators
import VoiceBridgeFlows
@testable import VoiceBridgeServer

/// A flow's `relay` step end to end: the flow hands the call to the relay-app emulator, the app
/// says goodbye and sends `end`, and the flow goes on with the session's result.
@Suite(.timeLimit(.minutes(1)))
struct RelayStepTests {
    @Test func theFlowGoesOnAfterTheAppEndsTheSession() async throws {
        var appConfiguration = RelayAppConfiguration()
        appConfiguration.greeting = .goodbye("Handing you back.", handoffData: "billing")
        var quiet = Logger(label: "test.app")
        quiet.logLevel = .critical
        let app = RelayAppEmulator(configuration: appConfiguration, logger: quiet)
        let appPort = try await app.start()
        defer { Task { try? await app.stop() } }

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("relay-step-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
        blocks:
          main:
            - relay:
                url: "ws://127.0.0.1:\(appPort)/relay"
                dtmfDetection: true
                events: [speaker-events]
            - redirect:
                twiml: "<Say>{{relayStatus}} {{handoffData}}</Say>"
        """.write(toFile: dir + "/f.yaml", atomically: true, encoding: .utf8)
        let flows = ServedFlows(library: try FlowLibrary.load(directory: dir))

        try await LiveServer.with(configure: { $0.publicURL = nil }, flows: flows) { server in
            let simulator = try PhoneSimulator(configuration: .init(
                webhookURL: "http://127.0.0.1:\(server.port)/twiml", authToken: LiveServer.authToken,
                script: CallScript(maxDurationMs: 15_000)))
            let result = await simulator.runCall(on: MultiThreadedEventLoopGroup.singleton.next(), recordHeard: false)
            #expect(result.timeline.error == nil)
            #expect(result.timeline.endReason == .serverClosed)
            #expect(result.timeline.twimlAfterStream == ["<Say>ended billing</Say>"])
        }
        #expect(app.violations.isEmpty, "\(app.violations)")
        let setup = try #require(app.received.first)
        #expect(setup.hasPrefix(#"{"type":"setup""#))
        // Mid-call the call is already answered.
        #expect(setup.contains(#""callStatus":"IN_PROGRESS""#))
    }
}
