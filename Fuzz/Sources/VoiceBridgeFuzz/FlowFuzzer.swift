import VoiceBridgeFlows
import VoiceBridgePrompts

/// Flow files (YAML, with the checker run over what parsed, as `flows check` and `serve` do),
/// webhook replies (steps and variables, read from the network), flow templates, and the prompt
/// catalogue (config/prompts.yaml), the other YAML a user writes.
enum FlowFuzzer {
    static func run(_ bytes: UnsafeRawBufferPointer) {
        let text = bytes.lossyText

        var document = FlowParser(file: "fuzz.yaml")
        if let definition = document.parseDocument(text) {
            _ = FlowChecker().check(definition)
            _ = FlowChecker(knownPrompts: ["welcome"]).check([definition])
        }

        var reply = FlowParser(file: "webhook reply")
        _ = reply.parseSteps(text)
        let variables = reply.parseReplyVariables(text)

        _ = FlowTemplate.references(in: text)
        _ = FlowTemplate.render(text, variables.merging(["From": "+15005550006", "digits": "1234"]) { first, _ in first })

        if let catalog = try? PromptCatalog.parse(text, file: "fuzz-prompts.yaml") {
            for prompt in catalog.prompts { _ = catalog[prompt.id]?.resolvedSynthesisFormat }
        }
    }
}
