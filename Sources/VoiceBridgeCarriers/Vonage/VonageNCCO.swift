import Foundation

/// The NCCO that connects a Vonage call to the bridge's socket (carriers.md §4.1):
///
/// `[{"action":"connect","eventType":"synchronous","eventUrl":["…/vonage/events"],"endpoint":[{"type":"websocket",
/// "uri":"wss://…/vonage/media/TOKEN","content-type":"audio/l16;rate=16000","headers":{"conversation_uuid":"…"}}]}]`
///
/// - `eventType: synchronous` makes Vonage use the answer to the socket leg's `disconnected`
///   event as the call's next NCCO: that is how a flow's transfer happens.
/// - `headers` come back flattened in `websocket:connected`: the conversation names the call.
/// - With a signature secret, `authorization: {"type":"vonage"}` has Vonage sign the upgrade with
///   the same JWT as its webhooks.
public struct VonageConnectWebSocket: Sendable, Equatable {
    public var uri: String
    public var contentType: String
    public var eventURL: String?
    public var headers: [(String, String)]
    public var signedUpgrade: Bool

    public init(uri: String, contentType: String, eventURL: String?, headers: [(String, String)], signedUpgrade: Bool) {
        self.uri = uri
        self.contentType = contentType
        self.eventURL = eventURL
        self.headers = headers
        self.signedUpgrade = signedUpgrade
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.uri == rhs.uri && lhs.contentType == rhs.contentType && lhs.eventURL == rhs.eventURL
            && lhs.headers.elementsEqual(rhs.headers, by: ==) && lhs.signedUpgrade == rhs.signedUpgrade
    }

    public func render() -> String {
        var json = #"[{"action":"connect""#
        if let eventURL {
            json += #","eventType":"synchronous","eventUrl":["# + JSONWriting.quoted(eventURL) + "]"
        }
        json += #","endpoint":[{"type":"websocket","uri":"# + JSONWriting.quoted(uri)
        json += #","content-type":"# + JSONWriting.quoted(contentType)
        json += #","headers":{"# + headers.map { JSONWriting.quoted($0.0) + ":" + JSONWriting.quoted($0.1) }.joined(separator: ",") + "}"
        if signedUpgrade { json += #","authorization":{"type":"vonage"}"# }
        return json + "}]}]"
    }

    /// A transfer as the NCCO Vonage runs after the socket leg: a phone number (Vonage writes it
    /// without the `+`) or NCCO the flow wrote itself.
    public static func transfer(dialing number: String) -> String {
        let digits = number.hasPrefix("+") ? String(number.dropFirst()) : number
        return #"[{"action":"connect","endpoint":[{"type":"phone","number":"# + JSONWriting.quoted(digits) + "}]}]"
    }

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case invalid(String)
        public var description: String {
            switch self { case .invalid(let why): "not a websocket connect NCCO: \(why)" }
        }
    }

    /// Reads an answer as the simulator's Vonage does: one `connect` to one `websocket` endpoint
    /// with a `uri` and an L16 `content-type`. Anything else is refused.
    public static func parse(_ json: String) throws(ParseError) -> VonageConnectWebSocket {
        guard let data = json.data(using: .utf8), let value = try? JSONSerialization.jsonObject(with: data),
            let actions = value as? [[String: Any]]
        else { throw .invalid("expected a JSON array of actions") }
        guard actions.count == 1, let connect = actions.first, connect["action"] as? String == "connect" else {
            throw .invalid("expected exactly one connect action")
        }
        guard let endpoints = connect["endpoint"] as? [[String: Any]], endpoints.count == 1, let endpoint = endpoints.first,
            endpoint["type"] as? String == "websocket"
        else { throw .invalid("expected exactly one websocket endpoint") }
        guard let uri = endpoint["uri"] as? String, !uri.isEmpty else { throw .invalid("endpoint.uri missing") }
        guard let contentType = endpoint["content-type"] as? String, VonageDialect.format(contentType: contentType) != nil else {
            throw .invalid("endpoint.content-type must be audio/l16;rate=8000|16000")
        }
        let headerObject = endpoint["headers"] as? [String: Any] ?? [:]
        var headers: [(String, String)] = []
        for key in headerObject.keys.sorted() {
            guard let value = headerObject[key] as? String else { throw .invalid("header \(key) is not a string") }
            headers.append((key, value))
        }
        let eventURL = (connect["eventUrl"] as? [String])?.first
        let authorization = (endpoint["authorization"] as? [String: Any])?["type"] as? String
        return VonageConnectWebSocket(
            uri: uri, contentType: contentType, eventURL: eventURL, headers: headers, signedUpgrade: authorization == "vonage")
    }
}
