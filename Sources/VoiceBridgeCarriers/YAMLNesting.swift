/// How deeply a YAML (or JSON) text nests, measured before a parser sees it.
///
/// Yams (libyaml's composer, then Yams' own node builder) recurses once per nesting level, so a
/// text of a few thousand `[` overflows the thread's stack: the fuzzer found that a webhook reply
/// or a flow file could crash the server this way. Real flows, prompt catalogs and configs nest a
/// handful of levels; anything deeper than `limit` is refused with a message instead.
///
/// The estimate is conservative (it never undercounts): flow brackets outside quotes and comments,
/// plus the stack of block indentations, plus `- `/`? ` indicators that open compact collections
/// on one line. Block scalars (`|`, `>`) are skipped, since their text is not structure.
public enum YAMLNesting {
    public static let limit = 64

    /// The message for a text nested beyond `limit`, or nil when it is fine.
    public static func problem(in text: String) -> String? {
        let depth = deepest(in: text)
        return depth > limit ? "nested \(depth) levels deep; at most \(limit) are accepted" : nil
    }

    public static func deepest(in text: String) -> Int {
        var scanner = Scanner()
        var contiguous = text
        return contiguous.withUTF8 { scanner.scan($0) }
    }

    private struct Scanner {
        var deepest = 0
        var flow = 0
        var indents: [Int] = []
        var quote: UInt8 = 0  // 0, '\'' or '"'
        var blockScalarIndent: Int? = nil  // skip lines indented beyond this

        mutating func scan(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
            var lineStart = 0
            while lineStart < bytes.count {
                var lineEnd = lineStart
                while lineEnd < bytes.count, bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
                line(bytes, lineStart, lineEnd)
                if deepest > YAMLNesting.limit { return deepest }
                lineStart = lineEnd + 1
            }
            return deepest
        }

        private mutating func line(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) {
            var i = start
            while i < end, b[i] == UInt8(ascii: " ") || b[i] == UInt8(ascii: "\t") { i += 1 }
            let column = i - start
            let blank = i == end || b[i] == UInt8(ascii: "#") || b[i] == UInt8(ascii: "\r")
            if let scalarIndent = blockScalarIndent {
                if blank || column > scalarIndent { return }
                blockScalarIndent = nil
            }
            if blank && quote == 0 { return }
            var level = 0
            if quote == 0 && flow == 0 {
                while let top = indents.last, top > column { indents.removeLast() }
                if indents.last != column { indents.append(column) }
                // `- - - x` and `? ` open one collection each on the same line.
                while i + 1 < end, b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "?"), b[i + 1] == UInt8(ascii: " ") {
                    level += 1
                    i += 2
                    while i < end, b[i] == UInt8(ascii: " ") { i += 1 }
                }
            }
            // The last whitespace-separated word of the line's code, to spot a block scalar header.
            var wordStart = i
            var wordEnd = i
            var previous = UInt8(ascii: " ")
            while i < end {
                let c = b[i]
                let space = c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r")
                if quote != 0 {
                    if quote == UInt8(ascii: "\"") && c == UInt8(ascii: "\\") {
                        i += 2
                        continue
                    }
                    if c == quote { quote = 0 }
                } else if c == UInt8(ascii: "#") && (previous == UInt8(ascii: " ") || previous == UInt8(ascii: "\t")) {
                    break
                } else if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") {
                    quote = c
                } else if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") {
                    flow += 1
                    deepest = max(deepest, indents.count + level + flow)
                } else if c == UInt8(ascii: "]") || c == UInt8(ascii: "}") {
                    flow = max(0, flow - 1)
                }
                if !space {
                    if previous == UInt8(ascii: " ") || previous == UInt8(ascii: "\t") { wordStart = i }
                    wordEnd = i + 1
                }
                previous = c
                i += 1
            }
            deepest = max(deepest, indents.count + level + flow)
            if quote == 0 && flow == 0 && wordEnd > wordStart && isBlockScalarHeader(b, wordStart, wordEnd) {
                blockScalarIndent = column
            }
        }

        /// `|` or `>`, then chomping and indentation indicators (`|-`, `>+2`).
        private func isBlockScalarHeader(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
            guard b[start] == UInt8(ascii: "|") || b[start] == UInt8(ascii: ">") else { return false }
            var i = start + 1
            while i < end {
                let c = b[i]
                guard c == UInt8(ascii: "+") || c == UInt8(ascii: "-") || (c >= UInt8(ascii: "1") && c <= UInt8(ascii: "9")) else { return false }
                i += 1
            }
            return true
        }
    }
}
