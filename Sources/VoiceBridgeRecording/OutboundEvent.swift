import VoiceBridgeCarriers

/// One message the bridge sent to the carrier (or the socket's close), at a time in ms on the
/// recording's clock. What a replay compares.
public struct OutboundEvent: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// One μ-law frame.
        case media([UInt8])
        case mark(String)
        case clear
        /// The call ended and closed the socket (`CallEndReason`, as `RecordedEndReason` spells it).
        case end(String)
        /// The server refused an inbound message and closed the socket with this code.
        case close(code: Int, reason: String)
        /// A message the bridge sent to a ConversationRelay app, verbatim.
        case relay(String)
    }

    public var t: Double
    public var kind: Kind

    public init(t: Double, kind: Kind) {
        self.t = t
        self.kind = kind
    }

    public var isMedia: Bool {
        if case .media = kind { true } else { false }
    }

    /// Sent to the relay app, not the carrier: compared as a stream of its own.
    public var isRelay: Bool {
        if case .relay = kind { true } else { false }
    }

    /// The line a recording holds for this event.
    public var jsonLine: String {
        var line = JSONLine(t: t)
        switch kind {
        case let .media(bytes):
            line.string("out", "media")
            line.string("payload", Base64Fast.encode(bytes))
        case let .mark(name):
            line.string("out", "mark")
            line.string("name", name)
        case .clear:
            line.string("out", "clear")
        case let .end(reason):
            line.string("out", "end")
            line.string("reason", reason)
        case let .close(code, reason):
            line.string("out", "close")
            line.int("code", code)
            line.string("reason", reason)
        case let .relay(text):
            line.string("out", "relay")
            line.string("text", text)
        }
        return line.json
    }

    /// A short human description, for diffs.
    public var summary: String {
        switch kind {
        case let .media(bytes):
            let head = bytes.prefix(8).map { String($0, radix: 16).leftPadded(2) }.joined(separator: " ")
            return "media \(bytes.count) B [\(head)\(bytes.count > 8 ? " …" : "")]"
        case let .mark(name): return "mark \"\(name)\""
        case .clear: return "clear"
        case let .end(reason): return "end (\(reason))"
        case let .close(code, reason): return "close \(code) \"\(reason)\""
        case let .relay(text): return "to the relay app \(text.count > 120 ? text.prefix(120) + " …" : text)"
        }
    }

    /// The kind's name alone: "media", "mark", ...
    public var kindName: String {
        switch kind {
        case .media: "media"
        case .mark: "mark"
        case .clear: "clear"
        case .end: "end"
        case .close: "close"
        case .relay: "relay"
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
