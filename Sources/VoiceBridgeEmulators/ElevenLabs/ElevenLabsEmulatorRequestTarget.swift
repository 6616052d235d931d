import Foundation

/// A request target split into its route and query parameters.
struct ElevenLabsEmulatorRequestTarget: Sendable, Equatable {
    enum Route: Sendable, Equatable {
        /// `GET /v1/text-to-speech/{voice_id}/stream-input` or `.../multi-stream-input`.
        case webSocket(voiceID: String, multiContext: Bool)
        /// `POST /v1/text-to-speech/{voice_id}/stream` or `.../stream/with-timestamps`.
        case textToSpeech(voiceID: String, withTimestamps: Bool)
        /// `POST /v1/single-use-token/{token_type}`.
        case singleUseToken(type: String)
        /// `GET /v1/speech-to-text/realtime`: the realtime speech-to-text WebSocket.
        case realtimeSpeechToText
        case unknown
    }

    var path: String
    /// Percent-decoded query parameters; a repeated name keeps its last value.
    var query: [String: String]
    /// Every query parameter in order, repeats included (speech-to-text's `keyterms=a&keyterms=b`).
    var queryItems: [QueryItem]
    var route: Route

    struct QueryItem: Sendable, Equatable {
        var name: String
        var value: String
    }

    init(uri: String) {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        path = String(parts.first ?? "")
        var query: [String: String] = [:]
        var items: [QueryItem] = []
        if parts.count > 1 {
            for pair in parts[1].split(separator: "&") {
                let nameValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = Self.decode(nameValue[0])
                let value = nameValue.count > 1 ? Self.decode(nameValue[1]) : ""
                query[name] = value
                items.append(QueryItem(name: name, value: value))
            }
        }
        self.query = query
        queryItems = items
        let segments = path.split(separator: "/").map { Self.decode($0) }
        switch segments.count {
        case 4 where segments[0] == "v1" && segments[1] == "text-to-speech":
            switch segments[3] {
            case "stream-input": route = .webSocket(voiceID: segments[2], multiContext: false)
            case "multi-stream-input": route = .webSocket(voiceID: segments[2], multiContext: true)
            case "stream": route = .textToSpeech(voiceID: segments[2], withTimestamps: false)
            default: route = .unknown
            }
        case 5 where segments[0] == "v1" && segments[1] == "text-to-speech" && segments[3] == "stream" && segments[4] == "with-timestamps":
            route = .textToSpeech(voiceID: segments[2], withTimestamps: true)
        case 3 where segments[0] == "v1" && segments[1] == "single-use-token":
            route = .singleUseToken(type: segments[2])
        case 3 where segments[0] == "v1" && segments[1] == "speech-to-text" && segments[2] == "realtime":
            route = .realtimeSpeechToText
        default:
            route = .unknown
        }
    }

    /// A query flag the way FastAPI reads a bool: true/1/yes/on.
    func flag(_ name: String) -> Bool {
        guard let value = query[name]?.lowercased() else { return false }
        return ["true", "1", "yes", "on"].contains(value)
    }

    private static func decode(_ part: Substring) -> String {
        let spaced = part.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}
