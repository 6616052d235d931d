import Foundation

/// How to reach ElevenLabs' text-to-speech WebSockets (doc §1, §2) and how a turn behaves on them.
///
/// Query parameters are sent only when set: `model_id` and `output_format` always (the service's
/// own defaults are not telephony's), `sync_alignment` by default (the source tracks what was
/// spoken through the alignment of every chunk), the rest only when given.
public struct ElevenLabsWebSocketConfiguration: Sendable, Equatable {
    public enum Endpoint: String, Sendable, Equatable {
        /// One context per socket; `{"text":""}` ends the stream (§1).
        case streamInput = "stream-input"
        /// Up to 5 contexts per socket, each named by `context_id` (§2). What the speech source uses.
        case multiStreamInput = "multi-stream-input"
    }

    /// `apply_text_normalization`.
    public enum TextNormalization: String, Sendable, Equatable {
        case auto, on, off
    }

    public var apiKey: String
    /// `https://api.elevenlabs.io`, or an emulator such as `http://127.0.0.1:8089`. The WebSocket
    /// URL is derived from it: http → ws, https → wss (ws/wss are taken as they are).
    public var baseURL: String
    public var voiceID: String
    public var modelID: String
    public var outputFormat: ElevenLabsOutputFormat
    /// Seconds, 1...180; nil leaves the service's 20.
    public var inactivityTimeout: Int?
    public var syncAlignment: Bool?
    public var autoMode: Bool?
    public var applyTextNormalization: TextNormalization?
    public var languageCode: String?
    public var enableSSMLParsing: Bool?
    public var enableLogging: Bool?
    public var seed: UInt32?
    /// Sent once per socket, in its first message (a later change closes the socket, §1.4).
    public var voiceSettings: ElevenLabsVoiceSettings?
    public var schedule: ElevenLabsChunkSchedule
    /// PEM file of CAs to trust instead of the system's (an emulator's self-made certificate).
    /// Verification itself is always on.
    public var caFilePath: String?
    public var connectTimeout: Duration
    /// How often live contexts (and an idle socket) get a keep-alive. At most 1.5 intervals pass
    /// between two messages to a context, so keep it below two thirds of the inactivity timeout:
    /// production runs 10 s against the service's 20 s.
    public var keepAliveInterval: Duration
    /// Contexts per socket (the service's limit is 5); turns beyond it wait for a free one.
    public var maxContexts: Int
    /// How long a closed context keeps counting against the limit after its `isFinal`: the
    /// service frees slots asynchronously (§2.3).
    public var contextReleaseDelay: Duration
    /// Reconnects after a drop: exponential backoff with jitter (`ElevenLabsRetryPolicy.backoff`),
    /// at most `maxRetries` in a row without a socket that opened.
    public var reconnect: ElevenLabsRetryPolicy
    /// The streamed-text chunker's wait before it sends a clause that has no boundary yet.
    public var chunkerMaxWait: Duration
    /// A whole text (`speak`) goes out a sentence at a time, staying this much audio ahead of
    /// the caller's ear (the first sentence at once), so a barge-in stops generation after at
    /// most the sentence in flight. Zero sends the whole text at once.
    public var textLead: Duration = .milliseconds(1500)
    /// The largest frame accepted from the server (the official example allows 16 MB).
    public var maxFrameSize: Int

    public static let defaultBaseURL = "https://api.elevenlabs.io"

    public init(
        apiKey: String,
        baseURL: String = Self.defaultBaseURL,
        voiceID: String = ElevenLabsSpeechRequest.defaultVoiceID,
        modelID: String = ElevenLabsSpeechRequest.defaultModelID,
        outputFormat: ElevenLabsOutputFormat = .ulaw8000,
        inactivityTimeout: Int? = nil,
        syncAlignment: Bool? = true,
        autoMode: Bool? = nil,
        applyTextNormalization: TextNormalization? = nil,
        languageCode: String? = nil,
        enableSSMLParsing: Bool? = nil,
        enableLogging: Bool? = nil,
        seed: UInt32? = nil,
        voiceSettings: ElevenLabsVoiceSettings? = nil,
        schedule: ElevenLabsChunkSchedule = .balanced,
        caFilePath: String? = nil,
        connectTimeout: Duration = .seconds(5),
        keepAliveInterval: Duration = .seconds(10),
        maxContexts: Int = 5,
        contextReleaseDelay: Duration = .milliseconds(100),
        reconnect: ElevenLabsRetryPolicy = ElevenLabsRetryPolicy(maxRetries: 4, initialBackoff: .milliseconds(100), maxBackoff: .seconds(2)),
        chunkerMaxWait: Duration = .milliseconds(250),
        maxFrameSize: Int = 16 << 20
    ) {
        self.apiKey = apiKey
        self.baseURL = baseURL
        self.voiceID = voiceID
        self.modelID = modelID
        self.outputFormat = outputFormat
        self.inactivityTimeout = inactivityTimeout
        self.syncAlignment = syncAlignment
        self.autoMode = autoMode
        self.applyTextNormalization = applyTextNormalization
        self.languageCode = languageCode
        self.enableSSMLParsing = enableSSMLParsing
        self.enableLogging = enableLogging
        self.seed = seed
        self.voiceSettings = voiceSettings
        self.schedule = schedule
        self.caFilePath = caFilePath
        self.connectTimeout = connectTimeout
        self.keepAliveInterval = keepAliveInterval
        self.maxContexts = maxContexts
        self.contextReleaseDelay = contextReleaseDelay
        self.reconnect = reconnect
        self.chunkerMaxWait = chunkerMaxWait
        self.maxFrameSize = maxFrameSize
    }

    /// Where a socket connects: scheme, host, port and the request target.
    public struct Target: Sendable, Equatable {
        public var tls: Bool
        public var host: String
        public var port: Int
        /// Path and query, e.g. `/v1/text-to-speech/VOICE/multi-stream-input?model_id=…`.
        public var uri: String

        /// The Host header: the port only when it isn't the scheme's default.
        public var hostHeader: String {
            let bracketed = host.contains(":") ? "[\(host)]" : host
            return (tls && port == 443) || (!tls && port == 80) ? bracketed : "\(bracketed):\(port)"
        }

        public var url: String { "\(tls ? "wss" : "ws")://\(hostHeader)\(uri)" }
    }

    /// The query, in a fixed order, with only the parameters that are set.
    public var queryItems: [(String, String)] {
        var items: [(String, String)] = [("model_id", modelID), ("output_format", outputFormat.rawValue)]
        if let inactivityTimeout { items.append(("inactivity_timeout", String(inactivityTimeout))) }
        if let syncAlignment { items.append(("sync_alignment", String(syncAlignment))) }
        if let autoMode { items.append(("auto_mode", String(autoMode))) }
        if let applyTextNormalization { items.append(("apply_text_normalization", applyTextNormalization.rawValue)) }
        if let languageCode { items.append(("language_code", languageCode)) }
        if let enableSSMLParsing { items.append(("enable_ssml_parsing", String(enableSSMLParsing))) }
        if let enableLogging { items.append(("enable_logging", String(enableLogging))) }
        if let seed { items.append(("seed", String(seed))) }
        return items
    }

    /// The socket's target for `endpoint`; throws on a base URL it can't use.
    public func target(_ endpoint: Endpoint) throws(ElevenLabsWebSocketError) -> Target {
        try target(path: "/v1/text-to-speech/\(ElevenLabsSpeechRequest.percentEncoded(voiceID))/\(endpoint.rawValue)", query: queryItems)
    }

    /// A socket's target at `path` under the base URL (which may carry a path prefix of its own),
    /// with `query` percent-encoded; a repeated name carries a list (`keyterms=a&keyterms=b`).
    public func target(path: String, query: [(String, String)]) throws(ElevenLabsWebSocketError) -> Target {
        guard let components = URLComponents(string: baseURL), let scheme = components.scheme?.lowercased(),
            let host = components.host, !host.isEmpty
        else {
            throw .invalidConfiguration("base URL \"\(baseURL)\" is not an absolute URL")
        }
        let tls: Bool
        switch scheme {
        case "https", "wss": tls = true
        case "http", "ws": tls = false
        default: throw .invalidConfiguration("base URL scheme \(scheme) is not http(s) or ws(s)")
        }
        var prefix = components.percentEncodedPath
        while prefix.hasSuffix("/") { prefix.removeLast() }
        let encoded = query.map { "\($0.0)=\(ElevenLabsSpeechRequest.percentEncoded($0.1))" }.joined(separator: "&")
        return Target(tls: tls, host: host, port: components.port ?? (tls ? 443 : 80), uri: prefix + path + "?" + encoded)
    }

    /// Checks what the service would refuse and what would make the keep-alive late.
    public func validated() throws(ElevenLabsWebSocketError) -> ElevenLabsWebSocketConfiguration {
        guard !apiKey.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw .invalidConfiguration("no API key")
        }
        if let inactivityTimeout, !(1...180).contains(inactivityTimeout) {
            throw .invalidConfiguration("inactivity_timeout \(inactivityTimeout) is outside 1...180 seconds")
        }
        guard (1...5).contains(maxContexts) else {
            throw .invalidConfiguration("maxContexts \(maxContexts) is outside 1...5")
        }
        let timeout = Duration.seconds(inactivityTimeout ?? 20)
        guard keepAliveInterval > .zero, keepAliveInterval * 3 < timeout * 2 else {
            throw .invalidConfiguration("keep-alive interval \(keepAliveInterval) must be under two thirds of the inactivity timeout (\(timeout))")
        }
        _ = try target(.multiStreamInput)
        return self
    }
}

extension ElevenLabsWebSocketConfiguration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        "ElevenLabsWebSocketConfiguration(baseURL: \(baseURL), apiKey: <redacted>, voiceID: \(voiceID), modelID: \(modelID), schedule: \(schedule))"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: ["baseURL": baseURL, "apiKey": "<redacted>", "voiceID": voiceID, "modelID": modelID], displayStyle: .struct)
    }
}
