import Foundation
import NIOCore
import NIOPosix
import VoiceBridgeCarriers

/// One carrier as the phone simulator plays it: its ids, its answer webhook and markup, how it
/// signs, its side of the media socket and what it asks once the server ends a stream. Each
/// carrier is one file in Carriers/, and one line in `SimulatedCarrierKind.all`.
protocol SimulatedCarrier: Sendable {
    /// The dialect's name: `--carrier`'s value.
    var name: String { get }
    /// Where `serve` answers this carrier's webhook (or, without one, its media path).
    var defaultWebhookPath: String { get }
    /// False for carriers that dial the bridge's socket themselves (Asterisk, Exotel).
    var hasAnswerWebhook: Bool { get }
    /// The environment variable `voicebridge call` signs with when `--auth-token` is not given.
    var signingSecretEnvironment: String? { get }
    /// What a carrier without an answer streams unless told otherwise (`--audio`).
    var defaultDirectFormat: MediaFormat { get }
    /// The media socket's `User-Agent`.
    var userAgent: String { get }
    func makeIDs() -> SimulatedCallIDs
    /// The fields of the answer webhook (`status` "ringing") and of the request after a stream.
    func webhookFields(ids: SimulatedCallIDs, from: String, to: String, status: String) -> [(String, String)]
    /// A webhook, signed the carrier's way when a secret is given.
    func request(url: String, parameters: [(String, String)], signing: SimulatorSigning) -> VoiceWebhookRequest
    func parseAnswer(_ body: String) throws -> StreamAnswer
    /// Headers of the media socket's upgrade (a signature, credentials).
    func upgradeHeaders(streamURL: String, secret: String?) -> [(String, String)]
    /// What the answer to the request after a stream says, as the timeline keeps it.
    func afterStream(status: Int, body: String) throws -> [String]
    /// This carrier's side of one call's socket.
    func makeCall(setup: SimulatedCallSetup, stream: CallIdentity, done: EventLoopPromise<SimulatedCallOutcome>) -> any ChannelHandler
    /// Before the answer webhook goes out: a carrier API that must know the call first.
    func prepare(ids: SimulatedCallIDs, configuration: PhoneSimulator.Configuration)
    /// The stream the answer webhook's reply leads to: its markup, unless the carrier waits for
    /// a command instead (Call Control's `answer`).
    func stream(
        answering response: WebhookClient.Response, ids: SimulatedCallIDs, configuration: PhoneSimulator.Configuration,
        on loop: any EventLoop
    ) async throws -> StreamAnswer
    /// What followed the stream, for a carrier that is told by command rather than asking a URL
    /// (Call Control); nil: the answer's after-stream URL is followed, if it has one.
    func afterStream(
        ids: SimulatedCallIDs, endReason: CallTimeline.EndReason, configuration: PhoneSimulator.Configuration,
        on loop: any EventLoop
    ) async -> [String]?
}

/// What a simulated carrier signs with.
struct SimulatorSigning: Sendable {
    var secret: String?
    var telnyxKey: Ed25519.PrivateKey?
}

extension SimulatedCarrier {
    var hasAnswerWebhook: Bool { true }
    var signingSecretEnvironment: String? { nil }
    var defaultDirectFormat: MediaFormat { .mulaw8kMono }
    var userAgent: String { "\(name)-media-stream/1.0" }
    func upgradeHeaders(streamURL: String, secret: String?) -> [(String, String)] { [] }
    func parseAnswer(_ body: String) throws -> StreamAnswer { throw SimulatorError.twiml("\(name) has no answer markup") }
    func prepare(ids: SimulatedCallIDs, configuration: PhoneSimulator.Configuration) {}

    func stream(
        answering response: WebhookClient.Response, ids: SimulatedCallIDs, configuration: PhoneSimulator.Configuration,
        on loop: any EventLoop
    ) async throws -> StreamAnswer {
        guard response.status == 200 else {
            throw SimulatorError.webhook("HTTP \(response.status): \(response.body.prefix(200))")
        }
        return try parseAnswer(response.body)
    }

    func afterStream(
        ids: SimulatedCallIDs, endReason: CallTimeline.EndReason, configuration: PhoneSimulator.Configuration,
        on loop: any EventLoop
    ) async -> [String]? { nil }

    /// The TwiML-like carriers: the verbs that follow the stream (a `<Dial>`, a `<Hangup/>`).
    func afterStream(status: Int, body: String) throws -> [String] {
        guard status == 200 else { return ["<!-- after stream: HTTP \(status) -->"] }
        return try TwiMLDocument.parse(body).map { $0.render() }
    }

    /// The same call handler for every carrier, with its peer codec.
    func call<Peer: CarrierPeerCodec>(
        _ setup: SimulatedCallSetup, _ peer: Peer, _ done: EventLoopPromise<SimulatedCallOutcome>
    ) -> any ChannelHandler {
        SimulatedCall(setup: setup, codec: peer, done: done)
    }
}

/// The carriers the phone simulator plays, by name: `voicebridge call --carrier NAME`.
public struct SimulatedCarrierKind: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    let carrier: any SimulatedCarrier

    /// Every carrier the simulator plays: adding one adds a line here.
    public static let allCases: [SimulatedCarrierKind] = [
        .twilio, .telnyx, .telnyxCallControl, .signalwire, .plivo, .asterisk, .vonage, .exotel,
    ]

    init(_ carrier: any SimulatedCarrier) { self.carrier = carrier }

    public init?(rawValue: String) {
        guard let kind = Self.allCases.first(where: { $0.rawValue == rawValue }) else { return nil }
        self = kind
    }

    public var rawValue: String { carrier.name }
    public var description: String { rawValue }
    public var defaultWebhookPath: String { carrier.defaultWebhookPath }
    public var hasAnswerWebhook: Bool { carrier.hasAnswerWebhook }
    public var signingSecretEnvironment: String? { carrier.signingSecretEnvironment }
    public var defaultDirectFormat: MediaFormat { carrier.defaultDirectFormat }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.rawValue == rhs.rawValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }
}

/// One simulated call's ids: what the answer webhook names the call by, and what the media
/// stream's `start` carries (the same for Twilio; TeXML's CallSid and Call Control's
/// call_control_id for Telnyx).
struct SimulatedCallIDs: Sendable {
    var callSid: String
    var accountSid: String
    var stream: CallIdentity
}

/// HTTP Basic credentials given as `user:password` (Asterisk's websocket_client, Exotel's URL).
func basicCredentialHeaders(_ secret: String?) -> [(String, String)] {
    guard let secret else { return [] }
    let parts = secret.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
    let credentials = BasicCredentials(username: String(parts[0]), password: parts.count > 1 ? String(parts[1]) : "")
    return [("Authorization", credentials.headerValue)]
}

/// What an answer asked for, whatever its markup.
struct StreamAnswer: Sendable {
    var url: String
    /// `<Parameter>`s, for carriers that repeat them in `start`.
    var parameters: [(String, String)]
    /// Where the carrier asks what follows the stream once the server ends it (Twilio's
    /// `<Connect action>`, the `<Redirect>` after a TeXML `<Connect>`).
    var afterStreamURL: String?
    /// Verbs written after the stream in the answer itself, rendered.
    var afterStreamVerbs: [String]
    /// The audio the answer asked for (μ-law where the markup has no choice).
    var format: MediaFormat = .mulaw8kMono

    /// A carrier with no answer (Asterisk, Exotel): the configured URI itself, in its WebSocket spelling.
    static func direct(_ url: String, format: MediaFormat) -> StreamAnswer {
        var url = url
        if url.hasPrefix("http://") { url = "ws://" + url.dropFirst("http://".count) }
        if url.hasPrefix("https://") { url = "wss://" + url.dropFirst("https://".count) }
        return StreamAnswer(url: url, parameters: [], afterStreamURL: nil, afterStreamVerbs: [], format: format)
    }
}
