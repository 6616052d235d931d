import Foundation
import Logging

/// ElevenLabs over HTTP streaming as a `SpeechSource` ("elevenlabs-http"): the prompt voice, and
/// the fallback when the WebSocket is down.
///
/// A turn cuts its text into sentences as it arrives (`UtteranceText`) and asks
/// `/stream/with-timestamps` for `ulaw_8000`. The μ-law bytes reach the call exactly as the
/// service sent them, each with the character timings that came with it, so the call can tell
/// what a caller heard before a barge-in.
///
/// One request runs at a time per turn, and it takes every sentence complete by the time it is
/// sent: the first sentence of a streamed reply goes out alone, for the earliest audio, and the
/// rest go in larger batches with the text before them as `previous_text`, for natural prosody.
///
/// With a `textLead` (calls), text is paid for just in time: a whole text is asked for a
/// sentence per request, with its neighbours as `previous_text`/`next_text`, and every request
/// after the first waits until the audio already generated runs less than the lead ahead of the
/// playhead. A barge-in then stops the turn with at most one request's text unheard. Without
/// one (prompt builds), a whole text is one request.
public struct ElevenLabsHTTPSpeechSource: SpeechSource {
    public struct Configuration: Sendable {
        public var apiKey: String
        /// `https://api.elevenlabs.io`, or an emulator (`ELEVENLABS_BASE_URL`).
        public var baseURL: String
        public var voiceID: String
        public var modelID: String
        public var voiceSettings: ElevenLabsVoiceSettings?
        /// PEM bundle of CAs to trust (an emulator's self-signed certificate).
        public var caBundlePath: String?
        /// 0...4, deprecated upstream; nil leaves it out.
        public var optimizeStreamingLatency: Int?
        public var connectTimeout: Duration
        public var stallTimeout: Duration
        public var retry: ElevenLabsRetryPolicy
        /// A request takes whole sentences up to about this many characters (a single longer
        /// sentence still goes alone). Well below every model's limit.
        public var maxCharactersPerRequest: Int
        /// How much of the turn's earlier text goes along as `previous_text`.
        public var previousTextCharacters: Int
        /// What audio to ask for: the call's own format where the service offers it.
        public var outputFormat: ElevenLabsOutputFormat = .ulaw8000
        /// How far ahead of the playhead generated audio may run before the next request; zero
        /// asks for everything as soon as it can (builds, where nobody listens in real time).
        public var textLead: Duration = .zero

        public init(
            apiKey: String,
            baseURL: String = ElevenLabsHTTPClient.Configuration.defaultBaseURL,
            voiceID: String = ElevenLabsSpeechRequest.defaultVoiceID,
            modelID: String = ElevenLabsSpeechRequest.defaultModelID,
            voiceSettings: ElevenLabsVoiceSettings? = nil,
            caBundlePath: String? = nil,
            optimizeStreamingLatency: Int? = nil,
            connectTimeout: Duration = .seconds(5),
            stallTimeout: Duration = .seconds(15),
            retry: ElevenLabsRetryPolicy = ElevenLabsRetryPolicy(),
            maxCharactersPerRequest: Int = 1000,
            previousTextCharacters: Int = 300
        ) {
            self.apiKey = apiKey
            self.baseURL = baseURL
            self.voiceID = voiceID
            self.modelID = modelID
            self.voiceSettings = voiceSettings
            self.caBundlePath = caBundlePath
            self.optimizeStreamingLatency = optimizeStreamingLatency
            self.connectTimeout = connectTimeout
            self.stallTimeout = stallTimeout
            self.retry = retry
            self.maxCharactersPerRequest = maxCharactersPerRequest
            self.previousTextCharacters = previousTextCharacters
        }

        /// Key, base URL and CA bundle from the environment (see
        /// `ElevenLabsHTTPClient.Configuration.fromEnvironment`), everything else default.
        public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(ElevenLabsHTTPError) -> Configuration {
            let client = try ElevenLabsHTTPClient.Configuration.fromEnvironment(environment)
            return Configuration(apiKey: client.apiKey, baseURL: client.baseURL, caBundlePath: client.caBundlePath)
        }

        var client: ElevenLabsHTTPClient.Configuration {
            ElevenLabsHTTPClient.Configuration(
                apiKey: apiKey, baseURL: baseURL, caBundlePath: caBundlePath,
                connectTimeout: connectTimeout, stallTimeout: stallTimeout, retry: retry
            )
        }
    }

    public let name = "elevenlabs-http"
    public let configuration: Configuration
    private let client: ElevenLabsHTTPClient
    private let logger: Logger

    /// Models that honour `language_code` (doc §3.1); others reject or ignore it, so it is sent
    /// only to these.
    static let languageModels: Set<String> = ["eleven_flash_v2_5", "eleven_turbo_v2_5"]

    public init(configuration: Configuration, engine: CurlMulti = .shared, logger: Logger = Logger(label: "voicebridge.speech.elevenlabs-http")) {
        self.configuration = configuration
        self.logger = logger
        client = ElevenLabsHTTPClient(configuration: configuration.client, engine: engine, logger: logger)
    }

    public func voiceName(for options: TurnOptions) -> String { options.voice ?? configuration.voiceID }

    /// `options.voice` and `options.model` override the configured ones. `options.language` goes
    /// as `language_code` (its primary subtag, "fr-CA" → "fr": ElevenLabs takes ISO 639-1) when
    /// the model supports it.
    public func startTurn(_ options: TurnOptions) -> any SpeechTurn { makeTurn(options) }

    private func makeTurn(_ options: TurnOptions) -> ElevenLabsHTTPTurn {
        var template = ElevenLabsSpeechRequest(
            text: "",
            voiceID: options.voice ?? configuration.voiceID,
            modelID: options.model ?? configuration.modelID,
            outputFormat: configuration.outputFormat,
            optimizeStreamingLatency: configuration.optimizeStreamingLatency,
            voiceSettings: configuration.voiceSettings
        )
        if let language = options.language, Self.languageModels.contains(template.modelID),
            let primary = language.split(whereSeparator: { $0 == "-" || $0 == "_" }).first
        {
            template.languageCode = primary.lowercased()
        }
        var logger = logger
        logger[metadataKey: "turn"] = "\(options.id)"
        return ElevenLabsHTTPTurn(
            id: options.id, template: template, client: client,
            maxCharactersPerRequest: configuration.maxCharactersPerRequest,
            previousTextCharacters: configuration.previousTextCharacters, textLead: configuration.textLead, logger: logger
        )
    }

    /// With a `textLead`, a sentence per request, each released just in time; else one request.
    public func speak(_ text: String, options: TurnOptions) -> any SpeechTurn {
        let turn = makeTurn(options)
        if configuration.textLead > .zero {
            turn.speakPieces(TextChunker.sentencePieces(text))
        } else {
            turn.speakWhole(text)
        }
        return turn
    }
}

extension ElevenLabsHTTPSpeechSource.Configuration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        "ElevenLabsHTTPSpeechSource.Configuration(baseURL: \(baseURL), apiKey: <redacted>, voiceID: \(voiceID), modelID: \(modelID))"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: ["baseURL": baseURL, "apiKey": "<redacted>", "voiceID": voiceID, "modelID": modelID], displayStyle: .struct)
    }
}
