import NIOCore

/// What a flow asks for when it listens to the caller: the session's language and words to
/// listen for. Settings are fixed per speech-to-text session, so a different request means a
/// new one.
public struct ListenRequest: Sendable, Equatable {
    /// ISO 639-1/639-3; nil lets the service detect it.
    public var languageCode: String?
    public var keyterms: [String]
    /// How long the caller must be silent before their turn counts as ended and is committed
    /// (ConversationRelay's `speechTimeout`); nil keeps the speech detector's hangover.
    public var endOfSpeechSilenceMs: Int?

    public init(languageCode: String? = nil, keyterms: [String] = [], endOfSpeechSilenceMs: Int? = nil) {
        self.languageCode = languageCode
        self.keyterms = keyterms
        self.endOfSpeechSilenceMs = endOfSpeechSilenceMs
    }
}

/// A call's speech-to-text session as the call drives it (RealtimeTranscriber; test doubles).
public protocol CallTranscriber: AnyObject {
    func start()
    /// One frame of caller audio in the session's format.
    func append(_ bytes: UnsafeRawBufferPointer)
    /// The caller's turn ended.
    func commit()
    /// The caller is not speaking now (every frame while so): a transcriber may let go of audio
    /// it no longer needs.
    func callerIsQuiet()
    func stop()
}

extension CallTranscriber {
    public func callerIsQuiet() {}
}

extension RealtimeTranscriber: CallTranscriber {}

/// Makes calls' transcribers; nil in a call means nobody can hear the caller.
public protocol TranscriberProvider: Sendable {
    func makeTranscriber(
        _ request: ListenRequest, format: ScribeSettings.AudioFormat, on eventLoop: any EventLoop,
        onEvent: @escaping (RealtimeTranscriber.Event) -> Void
    ) -> any CallTranscriber
}

/// ElevenLabs realtime speech-to-text over the speech side's own client (key, base URL, TLS).
public struct ElevenLabsTranscription: TranscriberProvider {
    public let client: ElevenLabsWebSocketClient
    public var settings: ScribeSettings
    public var tuning: RealtimeTranscriber.Tuning

    public init(client: ElevenLabsWebSocketClient, settings: ScribeSettings = ScribeSettings(), tuning: RealtimeTranscriber.Tuning = .init()) {
        self.client = client
        self.settings = settings
        self.tuning = tuning
    }

    public func makeTranscriber(
        _ request: ListenRequest, format: ScribeSettings.AudioFormat, on eventLoop: any EventLoop,
        onEvent: @escaping (RealtimeTranscriber.Event) -> Void
    ) -> any CallTranscriber {
        var settings = settings
        settings.audioFormat = format
        if let code = request.languageCode { settings.languageCode = code }
        settings.keyterms = ScribeSettings.keyterms(settings.keyterms + request.keyterms)
        return RealtimeTranscriber(client: client, settings: settings, eventLoop: eventLoop, tuning: tuning, onEvent: onEvent)
    }
}
