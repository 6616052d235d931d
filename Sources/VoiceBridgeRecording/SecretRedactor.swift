import Foundation

/// Keeps secrets out of recordings: recordings get shared, attached to bug reports and committed
/// as fixtures, so nothing that grants access may be in them.
///
/// Three rules, applied to every text a recording keeps (inbound messages, prompts, errors):
/// - the known secrets of this server (auth token, API keys, token secret) wherever they appear;
/// - the stream token in a media URL path (`/media/<token>`);
/// - the value of any JSON string member whose name says it is a secret (`token`, `signature`,
///   `secret`, `password`, `apiKey`/`api_key`, `authorization`, `xi-api-key`), e.g. a custom
///   `<Parameter>` in a `start` message.
public struct SecretRedactor: Sendable {
    public static let placeholder = "[redacted]"
    private let secrets: [String]

    /// `secrets`: values to remove wherever they appear. Empty and very short values are ignored
    /// (redacting "1" would wreck the file and protect nothing).
    public init(secrets: [String?] = []) {
        self.secrets = secrets.compactMap { $0 }.filter { $0.count >= 4 }.sorted { $0.count > $1.count }
    }

    public func redact(_ text: String) -> String {
        redact(text, keepingMembers: [])
    }

    /// As `redact(_:)`, but members named in `keep` are not judged by their name: in a
    /// ConversationRelay message `token` is the text the app speaks, not a credential.
    public func redact(_ text: String, keepingMembers keep: Set<String>) -> String {
        var out = text
        for secret in secrets where out.contains(secret) {
            out = out.replacingOccurrences(of: secret, with: Self.placeholder)
        }
        if out.contains("/media/") { out = Self.redactMediaPaths(out) }
        if out.contains("\"") { out = Self.redactSecretMembers(out, keeping: keep) }
        return out
    }

    /// A member name that says its value is a secret.
    public static func isSecretName(_ name: String) -> Bool {
        let n = name.lowercased().filter { $0.isLetter }
        return ["token", "signature", "secret", "password", "apikey", "authorization", "xiapikey", "authtoken"].contains { n.contains($0) }
    }

    /// Redacts a parameter map by name (webhook fields, custom parameters).
    public func redact(_ parameters: [String: String]) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in parameters { out[k] = Self.isSecretName(k) ? Self.placeholder : redact(v) }
        return out
    }

    private static func redactMediaPaths(_ text: String) -> String {
        var out = ""
        var rest = Substring(text)
        while let range = rest.range(of: "/media/") {
            out += rest[..<range.upperBound]
            rest = rest[range.upperBound...]
            let end = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "\"" || $0 == " " || $0 == "#" || $0 == "\\" } ?? rest.endIndex
            if end != rest.startIndex { out += placeholder }
            rest = rest[end...]
        }
        return out + rest
    }

    /// Scans `"name":"value"` pairs (escape-aware) and replaces values of secret-named members.
    /// Text that is not JSON passes through unchanged apart from matching pairs.
    private static func redactSecretMembers(_ text: String, keeping keep: Set<String>) -> String {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        var lastString: (start: Int, end: Int)?
        while i < bytes.count {
            let b = bytes[i]
            guard b == UInt8(ascii: "\"") else {
                if b != UInt8(ascii: " ") && b != UInt8(ascii: ":") { lastString = b == UInt8(ascii: ",") || b == UInt8(ascii: "{") ? nil : lastString }
                out.append(b)
                i += 1
                continue
            }
            // A string from i to its closing quote.
            var j = i + 1
            while j < bytes.count, bytes[j] != UInt8(ascii: "\"") { j += bytes[j] == UInt8(ascii: "\\") ? 2 : 1 }
            let end = min(j, bytes.count - 1)
            // Is it a value following `"name":`?
            var k = out.count - 1
            while k >= 0, out[k] == UInt8(ascii: " ") { k -= 1 }
            if k >= 0, out[k] == UInt8(ascii: ":"), let key = lastString,
                let name = String(bytes: bytes[(key.start + 1)..<key.end], encoding: .utf8), isSecretName(name), !keep.contains(name), end > i + 1
            {
                out.append(UInt8(ascii: "\""))
                out.append(contentsOf: Array(placeholder.utf8))
                out.append(UInt8(ascii: "\""))
                lastString = nil
            } else {
                out.append(contentsOf: bytes[i...end])
                lastString = (i, end)
            }
            i = end + 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
