/// Whole numbers in YAML texts (flows, webhook replies, prompt catalogues, the config), read
/// without Yams' integer constructor.
///
/// Yams reads YAML 1.1's base-60 integers (`190:20:30`) with trapping arithmetic, so a value such
/// as `99999999999999999:00`, or a dozen `:0` parts, stopped the process: the fuzzer found it
/// through a flow's `retries`, and a webhook reply could carry the same text. Our files never need
/// base 60, hex or octal, so a whole number here is decimal digits with an optional sign, and one
/// that does not fit an `Int` is no number rather than a trap.
public enum YAMLInteger {
    /// The number `text` spells in decimal, or nil (also when it is out of range).
    public static func parse(_ text: some StringProtocol) -> Int? {
        Int(String(text))  // Swift's parser: an optional sign, decimal digits, nil on overflow.
    }

    /// Yams' default integer rule without its base-60 branch, for documents loaded whole: such a
    /// scalar then stays a string, which the reader refuses with a message.
    public static let resolverPattern = """
        ^(?:[-+]?0b[0-1_]+\
        |[-+]?0o?[0-7_]+\
        |[-+]?(?:0|[1-9][0-9_]*)\
        |[-+]?0x[0-9a-fA-F_]+)$
        """
}
