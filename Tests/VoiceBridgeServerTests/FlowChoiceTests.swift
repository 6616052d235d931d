import Foundation
import Logging
import NIOEmbedded
import Testing
import VoiceBridgeCalls
import VoiceBridgeFlows
import VoiceBridgeRelay
@testable import VoiceBridgeServer

/// Which flow a call gets when both declarative flows and a relay app are configured: a flow that
/// lists the called number keeps it; the relay app takes only what the default flow would.
@Suite struct FlowChoiceTests {
    final class RelayStandIn: CallFlow {
        func start(_ call: any CallControl) {}
        func handle(_ event: FlowEvent, _ call: any CallControl) {}
    }

    static func flows() throws -> (ServedFlows, String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flow-choice-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try """
        name: sales
        numbers: ["+1 (555) 000-1111"]
        blocks:
          main:
            - say: "Sales."
        """.write(toFile: dir + "/sales.yaml", atomically: true, encoding: .utf8)
        try """
        name: support
        default: true
        blocks:
          main:
            - say: "Support."
        """.write(toFile: dir + "/support.yaml", atomically: true, encoding: .utf8)
        return (ServedFlows(library: try FlowLibrary.load(directory: dir)), dir)
    }

    static func flowName(_ provider: CallFlowProvider, to: String) -> String {
        let context = MediaCallContext(
            eventLoop: EmbeddedEventLoop(), callSid: "CA1", parameters: ["To": to], observer: NoObserver(), logger: Logger(label: "test"))
        let flow = provider(context)
        return flow is RelayStandIn ? "relay" : RecordedFlowName.name(of: flow)
    }

    final class NoObserver: CallObserver {}

    @Test func aFlowThatListsTheNumberWinsOverTheRelayAppWhichReplacesOnlyTheDefault() throws {
        let (flows, dir) = try Self.flows()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let relay: CallFlowProvider = { _ in RelayStandIn() }
        let withRelay = flows.provider(relay: { RelayConfiguration(url: $0) }, unclaimed: relay, logger: Logger(label: "test"))
        #expect(Self.flowName(withRelay, to: "+15550001111") == "sales")
        #expect(Self.flowName(withRelay, to: "+15559999999") == "relay")
        let withoutRelay = flows.provider(relay: { RelayConfiguration(url: $0) }, logger: Logger(label: "test"))
        #expect(Self.flowName(withoutRelay, to: "+15559999999") == "support")
    }
}
