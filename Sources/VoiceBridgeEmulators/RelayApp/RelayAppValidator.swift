/// Checks each message the bridge sends against the published ConversationRelay protocol
/// (field names, JSON types, allowed values, no extra fields), independently of the bridge's
/// codec. Every problem is a violation the tests fail on.
struct RelayAppValidator {
    private(set) var sawSetup = false

    static let setupFields: Set<String> = [
        "type", "sessionId", "accountSid", "callSid", "parentCallSid", "from", "to", "forwardedFrom", "callerName",
        "direction", "callType", "callStatus", "customParameters",
    ]

    /// Problems with one message (empty when it is valid), and its type if it has one.
    mutating func check(_ text: String) -> (type: String?, problems: [String]) {
        guard let json = RelayAppJSON.parse(text) else { return (nil, ["not valid JSON"]) }
        guard case let .object(o) = json else { return (nil, ["not a JSON object"]) }
        guard case let .string(type)? = o["type"] else { return (nil, ["no string type"]) }
        var problems: [String] = []
        func allowed(_ keys: Set<String>) {
            for key in o.keys.sorted() where !keys.contains(key) { problems.append("\(type): unexpected field \(key)") }
        }
        func string(_ key: String) -> String? {
            guard let v = o[key] else { problems.append("\(type): missing \(key)"); return nil }
            guard case let .string(s) = v else { problems.append("\(type): \(key) must be a string, got \(v.kind)"); return nil }
            return s
        }
        func int(_ key: String) {
            guard let v = o[key] else { return problems.append("\(type): missing \(key)") }
            guard case .int = v else { return problems.append("\(type): \(key) must be an integer, got \(v.kind)") }
        }
        if type != "setup" && !sawSetup { problems.append("\(type) before setup") }
        switch type {
        case "setup":
            if sawSetup { problems.append("a second setup") }
            sawSetup = true
            allowed(Self.setupFields.union(["applicationSid"]))
            for key in Self.setupFields where key != "customParameters" && key != "type" { _ = string(key) }
            if let id = o["sessionId"], case let .string(s) = id,
                !(s.count == 34 && s.hasPrefix("VX") && s.dropFirst(2).allSatisfy(\.isHexDigit)) {
                problems.append("setup: sessionId must be VX + 32 hex digits")
            }
            if case let .string(status)? = o["callStatus"], status != status.uppercased() {
                problems.append("setup: callStatus must be UPPERCASE")
            }
            if case let .object(params)? = o["customParameters"] {
                for (k, v) in params { if case .string = v {} else { problems.append("setup: customParameters.\(k) must be a string") } }
            } else {
                problems.append("setup: customParameters must be an object")
            }
        case "dtmf":
            allowed(["type", "digit"])
            if let d = string("digit"), !(d.count == 1 && "0123456789*#".contains(d)) { problems.append("dtmf: digit \(d)") }
        case "interrupt":
            allowed(["type", "utteranceUntilInterrupt", "durationUntilInterruptMs"])
            _ = string("utteranceUntilInterrupt")
            int("durationUntilInterruptMs")
        case "info":
            let name = string("name")
            let value = string("value")
            switch name {
            case "agentSpeaking", "clientSpeaking":
                allowed(["type", "name", "value"])
                if let value, value != "on" && value != "off" { problems.append("info \(name!): value \(value)") }
            case "x-voicebridge.callerTurn":
                allowed(["type", "name", "value", "durationMs", "interruptedAgent"])
                int("durationMs")
                if case .bool? = o["interruptedAgent"] {} else { problems.append("callerTurn: interruptedAgent must be a boolean") }
            default:
                allowed(["type", "name", "value"])
            }
        case "error":
            allowed(["type", "description"])
            _ = string("description")
        case "prompt":
            // The caller's words (conversation-relay.md §3.2): never empty, never a placeholder.
            allowed(["type", "voicePrompt", "lang", "last"])
            if let text = string("voicePrompt"), text.allSatisfy(\.isWhitespace) {
                problems.append("prompt: voicePrompt is empty")
            }
            _ = string("lang")
            if case .bool? = o["last"] {} else { problems.append("prompt: last must be a boolean") }
        default:
            problems.append("unknown type \(type)")
        }
        return (type, problems)
    }
}
