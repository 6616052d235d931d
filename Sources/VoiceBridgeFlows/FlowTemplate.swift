import Foundation

/// `{{variable}}` substitution in flow text. Values come from the webhook's form fields, the
/// stream's `<Parameter>`s, the flow's `variables`, `set` steps and gathered digits.
///
/// `{{name|digits}}` spells a number digit by digit ("1 2 3 4"), which is how an account
/// number should be read back; text-to-speech would otherwise say "one thousand two hundred...".
public enum FlowTemplate {
    public static func render(_ text: String, _ variables: [String: String]) -> String {
        guard text.contains("{{") else { return text }
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            out += rest[rest.startIndex..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                out += rest[open.lowerBound...]
                return out
            }
            let expression = rest[open.upperBound..<close.lowerBound]
            let parts = expression.split(separator: "|", maxSplits: 1).map { String($0).trimmingCharacters(in: " ") }
            let value = variables[parts.first ?? ""] ?? ""
            out += parts.count > 1 && parts[1] == "digits" ? value.map(String.init).joined(separator: " ") : value
            rest = rest[close.upperBound...]
        }
        out += rest
        return out
    }

    /// The variable names a text refers to, for `flows check`.
    public static func references(in text: String) -> [String] {
        var names: [String] = []
        var rest = Substring(text)
        while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
            let expression = rest[open.upperBound..<close.lowerBound]
            if let name = expression.split(separator: "|").first { names.append(String(name).trimmingCharacters(in: " ")) }
            rest = rest[close.upperBound...]
        }
        return names
    }
}
