/// Escaping for TwiML output.
enum XMLEscaping {
    /// For a double-quoted attribute value. Tab, LF and CR become character references
    /// because a parser would otherwise normalize them to spaces (XML 1.0 §3.3.3). Other C0
    /// controls cannot appear in XML 1.0 at all, so they become U+FFFD.
    static func attribute(_ text: String) -> String {
        escape(text, inAttribute: true)
    }

    /// For element text.
    static func text(_ text: String) -> String {
        escape(text, inAttribute: false)
    }

    private static func escape(_ text: String, inAttribute: Bool) -> String {
        var output = ""
        output.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": output += "&amp;"
            case "<": output += "&lt;"
            case ">": output += "&gt;"
            case "\"" where inAttribute: output += "&quot;"
            case "'" where inAttribute: output += "&apos;"
            case "\t" where inAttribute: output += "&#9;"
            case "\n" where inAttribute: output += "&#10;"
            case "\r": output += "&#13;"
            case "\t", "\n": output.unicodeScalars.append(scalar)
            case "\u{0}"..."\u{1F}", "\u{FFFE}", "\u{FFFF}": output += "\u{FFFD}"
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output
    }
}
