import VoiceBridgeCarriers
/// The relay-app emulator's own JSON: written from the published protocol, independently of the
/// bridge's codec, so a shape bug in one is caught by the other. Integers and decimals stay apart
/// (`durationUntilInterruptMs` must be an integer).
enum RelayAppJSON: Equatable, Sendable {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case null
    case array([RelayAppJSON])
    case object([String: RelayAppJSON])

    var kind: String {
        switch self {
        case .string: "string"
        case .int: "integer"
        case .double: "decimal"
        case .bool: "boolean"
        case .null: "null"
        case .array: "array"
        case .object: "object"
        }
    }

    static func parse(_ text: String) -> RelayAppJSON? {
        var scalars = Array(text.unicodeScalars)[...]
        guard let value = parseValue(&scalars, depth: 0) else { return nil }
        skipSpace(&scalars)
        return scalars.isEmpty ? value : nil
    }

    private static func skipSpace(_ s: inout ArraySlice<Unicode.Scalar>) {
        while let c = s.first, c == " " || c == "\n" || c == "\r" || c == "\t" { s.removeFirst() }
    }

    private static func parseValue(_ s: inout ArraySlice<Unicode.Scalar>, depth: Int) -> RelayAppJSON? {
        guard depth < 16 else { return nil }
        skipSpace(&s)
        guard let c = s.first else { return nil }
        switch c {
        case "{":
            s.removeFirst()
            var out: [String: RelayAppJSON] = [:]
            skipSpace(&s)
            if s.first == "}" { s.removeFirst(); return .object(out) }
            while true {
                skipSpace(&s)
                guard s.first == "\"", let key = parseString(&s) else { return nil }
                skipSpace(&s)
                guard s.first == ":" else { return nil }
                s.removeFirst()
                guard out[key] == nil, let v = parseValue(&s, depth: depth + 1) else { return nil }
                out[key] = v
                skipSpace(&s)
                guard let next = s.popFirst() else { return nil }
                if next == "}" { return .object(out) }
                guard next == "," else { return nil }
            }
        case "[":
            s.removeFirst()
            var out: [RelayAppJSON] = []
            skipSpace(&s)
            if s.first == "]" { s.removeFirst(); return .array(out) }
            while true {
                guard let v = parseValue(&s, depth: depth + 1) else { return nil }
                out.append(v)
                skipSpace(&s)
                guard let next = s.popFirst() else { return nil }
                if next == "]" { return .array(out) }
                guard next == "," else { return nil }
            }
        case "\"":
            return parseString(&s).map(RelayAppJSON.string)
        case "t": return literal(&s, "true", .bool(true))
        case "f": return literal(&s, "false", .bool(false))
        case "n": return literal(&s, "null", .null)
        default:
            var text = ""
            while let d = s.first, "-+.eE0123456789".unicodeScalars.contains(d) { text.unicodeScalars.append(d); s.removeFirst() }
            if let i = Int(text) { return .int(i) }
            return Double(text).map(RelayAppJSON.double)
        }
    }

    private static func literal(_ s: inout ArraySlice<Unicode.Scalar>, _ word: String, _ value: RelayAppJSON) -> RelayAppJSON? {
        let w = Array(word.unicodeScalars)
        guard s.count >= w.count, Array(s.prefix(w.count)) == w else { return nil }
        s.removeFirst(w.count)
        return value
    }

    private static func parseString(_ s: inout ArraySlice<Unicode.Scalar>) -> String? {
        s.removeFirst()
        var out = String.UnicodeScalarView()
        while let c = s.popFirst() {
            switch c {
            case "\"": return String(out)
            case "\\":
                guard let e = s.popFirst() else { return nil }
                switch e {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                case "b": out.append("\u{08}")
                case "f": out.append("\u{0C}")
                case "u":
                    guard s.count >= 4, var v = UInt32(String(String.UnicodeScalarView(s.prefix(4))), radix: 16) else { return nil }
                    s.removeFirst(4)
                    if (0xD800...0xDBFF).contains(v) {
                        guard s.count >= 6, s.first == "\\", let low = UInt32(String(String.UnicodeScalarView(s.dropFirst(2).prefix(4))), radix: 16)
                        else { return nil }
                        s.removeFirst(6)
                        v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(v) else { return nil }
                    out.append(u)
                default: out.append(e)
                }
            default:
                guard c.value >= 0x20 else { return nil }
                out.append(c)
            }
        }
        return nil
    }

    /// A message to the bridge: `type` first, then the fields in the order given.
    static func message(_ type: String, _ fields: [(String, RelayAppJSON)] = []) -> String {
        "{" + ([("type", RelayAppJSON.string(type))] + fields).map { "\(quote($0.0)):\($0.1.text)" }.joined(separator: ",") + "}"
    }

    var text: String {
        switch self {
        case let .string(s): Self.quote(s)
        case let .int(i): String(i)
        case let .double(d): String(d)
        case let .bool(b): b ? "true" : "false"
        case .null: "null"
        case let .array(a): "[" + a.map(\.text).joined(separator: ",") + "]"
        case let .object(o): "{" + o.keys.sorted().map { "\(Self.quote($0)):\(o[$0]!.text)" }.joined(separator: ",") + "}"
        }
    }

    static func quote(_ s: String) -> String { JSONWriting.quoted(s) }
}
