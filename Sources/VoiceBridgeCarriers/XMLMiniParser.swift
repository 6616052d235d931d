/// An element of a parsed XML document.
struct XMLElementNode: Equatable {
    enum Child: Equatable {
        case element(XMLElementNode)
        case text(String)
    }

    var name: String
    var attributes: [Attribute]
    var children: [Child]

    struct Attribute: Equatable {
        var name: String
        var value: String
    }

    func attribute(_ name: String) -> String? {
        attributes.first { $0.name == name }?.value
    }

    var elementChildren: [XMLElementNode] {
        children.compactMap { if case .element(let element) = $0 { element } else { nil } }
    }

    /// All text below this element, in document order.
    var textContent: String {
        children.map { child in
            switch child {
            case .text(let text): text
            case .element(let element): element.textContent
            }
        }.joined()
    }
}

/// A small non-validating XML reader, enough for TwiML: elements, attributes, text, CDATA,
/// comments, processing instructions and the predefined and numeric entities.
///
/// Written by hand rather than with FoundationXML so this module does not link libxml2, and
/// DTDs are refused outright, which rules out entity-expansion attacks.
struct XMLMiniParser {
    static let maxDepth = 64

    private let bytes: [UInt8]
    private var position = 0

    private init(_ text: String) {
        bytes = Array(text.utf8)
    }

    static func parse(_ text: String) throws(TwiMLError) -> XMLElementNode {
        var parser = XMLMiniParser(text)
        return try parser.parseDocument()
    }

    private func failure(_ what: String) -> TwiMLError {
        .malformedXML("\(what) at byte \(position)")
    }

    private mutating func parseDocument() throws(TwiMLError) -> XMLElementNode {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }
        try skipMisc()
        guard position < bytes.count, bytes[position] == UInt8(ascii: "<") else {
            throw failure("expected the root element")
        }
        let root = try parseElement(depth: 1)
        try skipMisc()
        guard position == bytes.count else { throw failure("unexpected content after the root element") }
        return root
    }

    /// Whitespace, comments and processing instructions (the XML declaration among them).
    private mutating func skipMisc() throws(TwiMLError) {
        while true {
            skipWhitespace()
            if lookingAt("<?") {
                try skip(past: "?>")
            } else if lookingAt("<!--") {
                try skip(past: "-->")
            } else if lookingAt("<!") {
                throw failure("DTDs and declarations are not supported")
            } else {
                return
            }
        }
    }

    private mutating func parseElement(depth: Int) throws(TwiMLError) -> XMLElementNode {
        guard depth <= Self.maxDepth else { throw failure("elements nested deeper than \(Self.maxDepth)") }
        position += 1  // '<'
        let name = try parseName()
        var element = XMLElementNode(name: name, attributes: [], children: [])

        while true {
            let hadWhitespace = skipWhitespace()
            guard position < bytes.count else { throw failure("unterminated start tag <\(name)>") }
            if lookingAt("/>") {
                position += 2
                return element
            }
            if bytes[position] == UInt8(ascii: ">") {
                position += 1
                break
            }
            guard hadWhitespace else { throw failure("expected whitespace before an attribute") }
            let attributeName = try parseName()
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "=") else {
                throw failure("expected '=' after attribute \(attributeName)")
            }
            position += 1
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") || bytes[position] == UInt8(ascii: "'") else {
                throw failure("expected a quoted attribute value")
            }
            let quote = bytes[position]
            position += 1
            let start = position
            while position < bytes.count, bytes[position] != quote {
                guard bytes[position] != UInt8(ascii: "<") else { throw failure("'<' in attribute value") }
                position += 1
            }
            guard position < bytes.count else { throw failure("unterminated attribute value") }
            let value = try decodeCharacterData(bytes[start..<position], inAttribute: true)
            position += 1
            guard element.attribute(attributeName) == nil else {
                throw failure("duplicate attribute \(attributeName)")
            }
            element.attributes.append(.init(name: attributeName, value: value))
        }

        while true {
            guard position < bytes.count else { throw failure("unterminated element <\(name)>") }
            if lookingAt("</") {
                position += 2
                let closing = try parseName()
                guard closing == name else { throw failure("</\(closing)> does not close <\(name)>") }
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ">") else {
                    throw failure("expected '>'")
                }
                position += 1
                return element
            } else if lookingAt("<!--") {
                try skip(past: "-->")
            } else if lookingAt("<![CDATA[") {
                position += 9
                let start = position
                try skip(past: "]]>")
                appendText(String(decoding: bytes[start..<(position - 3)], as: UTF8.self), to: &element)
            } else if lookingAt("<?") {
                try skip(past: "?>")
            } else if lookingAt("<!") {
                throw failure("declarations are not allowed inside elements")
            } else if bytes[position] == UInt8(ascii: "<") {
                element.children.append(.element(try parseElement(depth: depth + 1)))
            } else {
                let start = position
                while position < bytes.count, bytes[position] != UInt8(ascii: "<") { position += 1 }
                appendText(try decodeCharacterData(bytes[start..<position], inAttribute: false), to: &element)
            }
        }
    }

    private func appendText(_ text: String, to element: inout XMLElementNode) {
        if case .text(let previous) = element.children.last {
            element.children[element.children.count - 1] = .text(previous + text)
        } else {
            element.children.append(.text(text))
        }
    }

    private mutating func parseName() throws(TwiMLError) -> String {
        let start = position
        while position < bytes.count {
            let byte = bytes[position]
            let isNameByte =
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ":") || byte >= 0x80
                || (position > start
                    && ((byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                        || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")))
            guard isNameByte else { break }
            position += 1
        }
        guard position > start else { throw failure("expected a name") }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    /// Resolves entity and character references, and normalizes line ends (and, in attribute
    /// values, whitespace) the way XML 1.0 §2.11 and §3.3.3 require.
    private func decodeCharacterData(_ raw: ArraySlice<UInt8>, inAttribute: Bool) throws(TwiMLError) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(raw.count)
        var index = raw.startIndex
        while index < raw.endIndex {
            let byte = raw[index]
            switch byte {
            case UInt8(ascii: "&"):
                guard let semicolon = raw[index...].firstIndex(of: UInt8(ascii: ";")) else {
                    throw .malformedXML("unterminated entity reference at byte \(index)")
                }
                let entity = String(decoding: raw[(index + 1)..<semicolon], as: UTF8.self)
                output += Array(try Self.resolveEntity(entity).utf8)
                index = semicolon + 1
                continue
            case UInt8(ascii: "\r"):
                if index + 1 < raw.endIndex, raw[index + 1] == UInt8(ascii: "\n") { index += 1 }
                output.append(inAttribute ? UInt8(ascii: " ") : UInt8(ascii: "\n"))
            case UInt8(ascii: "\n"), UInt8(ascii: "\t"):
                output.append(inAttribute ? UInt8(ascii: " ") : byte)
            default:
                output.append(byte)
            }
            index += 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static func resolveEntity(_ entity: String) throws(TwiMLError) -> String {
        switch entity {
        case "amp": return "&"
        case "lt": return "<"
        case "gt": return ">"
        case "quot": return "\""
        case "apos": return "'"
        default:
            var digits = Substring(entity)
            var radix = 10
            guard digits.first == "#" else { throw .malformedXML("unknown entity &\(entity);") }
            digits = digits.dropFirst()
            if digits.first == "x" {
                radix = 16
                digits = digits.dropFirst()
            }
            guard !digits.isEmpty, digits.count <= 8, let value = UInt32(digits, radix: radix),
                let scalar = Unicode.Scalar(value)
            else {
                throw .malformedXML("invalid character reference &\(entity);")
            }
            return String(Character(scalar))
        }
    }

    @discardableResult
    private mutating func skipWhitespace() -> Bool {
        let start = position
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"):
                position += 1
            default:
                return position > start
            }
        }
        return position > start
    }

    private func lookingAt(_ literal: StaticString) -> Bool {
        let length = literal.utf8CodeUnitCount
        guard position + length <= bytes.count else { return false }
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: length)
        return bytes[position..<(position + length)].elementsEqual(expected)
    }

    private mutating func skip(past terminator: StaticString) throws(TwiMLError) {
        while position < bytes.count {
            if lookingAt(terminator) {
                position += terminator.utf8CodeUnitCount
                return
            }
            position += 1
        }
        throw failure("missing \(terminator)")
    }
}
