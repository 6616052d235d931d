import Foundation
import VoiceBridgeCalls

/// The JSON a `webhook` step POSTs: who is calling, the flow's variables and where it is.
struct FlowWebhookRequest: Encodable {
    var flow: String
    var callSid: String
    var streamSid: String
    var accountSid: String
    var from: String?
    var to: String?
    var variables: [String: String]
    var step: String

    init(flow: String, call: any CallControl, variables: [String: String], step: FlowLocation) {
        self.flow = flow
        callSid = call.callID
        streamSid = call.streamID
        accountSid = call.accountID
        from = call.parameters["From"]
        to = call.parameters["To"]
        self.variables = variables
        self.step = step.description
    }

    var json: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)).map { Array($0) } ?? Array("{}".utf8)
    }
}
