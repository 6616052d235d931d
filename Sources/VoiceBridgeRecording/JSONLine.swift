import Foundation
import VoiceBridgeCarriers

/// Builds one JSON object as text, fields in the order they are added, so a recording reads
/// naturally top to bottom (`t` first, then what happened). Values are written directly: the
/// recorder runs on the call's event loop and a `JSONEncoder` per frame would show there.
struct JSONLine {
    private(set) var text = "{"
    private var empty = true

    init() {}

    /// A line for an event at `ms` since the recording started (sub-millisecond, 3 decimals).
    init(t ms: Double) {
        number("t", ms)
    }

    private mutating func key(_ name: String) {
        if !empty { text += "," }
        empty = false
        text += "\""
        text += name
        text += "\":"
    }

    mutating func string(_ name: String, _ value: String) {
        key(name)
        Self.appendQuoted(value, to: &text)
    }

    mutating func optionalString(_ name: String, _ value: String?) {
        if let value { string(name, value) }
    }

    mutating func int(_ name: String, _ value: Int) {
        key(name)
        text += String(value)
    }

    /// Three decimals at most, trailing zeros dropped: `12.5`, `1200`.
    mutating func number(_ name: String, _ value: Double) {
        key(name)
        text += Self.format(value)
    }

    mutating func bool(_ name: String, _ value: Bool) {
        key(name)
        text += value ? "true" : "false"
    }

    /// Already-serialised JSON (an object or array built elsewhere).
    mutating func raw(_ name: String, _ json: String) {
        key(name)
        text += json
    }

    mutating func strings(_ name: String, _ values: [String]) {
        key(name)
        text += "["
        for (i, v) in values.enumerated() {
            if i > 0 { text += "," }
            Self.appendQuoted(v, to: &text)
        }
        text += "]"
    }

    mutating func ints(_ name: String, _ values: [Int]) {
        key(name)
        text += "[" + values.map(String.init).joined(separator: ",") + "]"
    }

    var json: String { text + "}" }

    static func format(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let thousandths = (value * 1000).rounded()
        if thousandths.truncatingRemainder(dividingBy: 1000) == 0 { return String(Int64(thousandths / 1000)) }
        var s = String(format: "%.3f", thousandths / 1000)
        while s.hasSuffix("0") { s.removeLast() }
        return s
    }

    static func appendQuoted(_ value: String, to text: inout String) {
        text += JSONWriting.quoted(value)
    }

    static func quoted(_ value: String) -> String {
        var s = ""
        appendQuoted(value, to: &s)
        return s
    }
}
