/// One fuzz target per parser family; the raw value is what `FUZZ_TARGET` and `scripts/fuzz` use.
enum FuzzTarget: String, CaseIterable, Sendable {
    /// Every carrier dialect's inbound decoder (Twilio, SignalWire, Telnyx, Plivo, Vonage, Exotel,
    /// Asterisk), fed one frame per line, plus the Twilio encoder → strict peer decoder round trip.
    case twilio
    /// Base64Fast (padded and URL-safe) with round-trip and cross-API agreement checks.
    case base64
    /// FormURLEncoded (webhook bodies, query strings) and the Twilio signature over a body.
    case form
    /// The XML reader behind TwiMLDocument, PlivoStreamXML and TelnyxConnectStream, and the
    /// Vonage NCCO reader, each with a render → parse fixed-point check.
    case twiml
    /// ElevenLabs WebSocket server messages (the no-DOM scanner).
    case elevenlabs
    /// ConversationRelay app → bridge messages.
    case relay
    /// Flow YAML documents, webhook replies (steps and variables) and templates.
    case flow
    /// Call recordings (JSON Lines), as `voicebridge replay` reads them.
    case recording
    /// Recordings that parse, replayed on the demo menu and drawn as a timeline (seeds: recording's).
    case replay
    /// WAV files (flow `play` files, `--caller-wav`) and their conversion to telephony μ-law.
    case wav
    /// Credentials and signatures read from request headers and URLs: HTTP Basic, the media
    /// stream token, Vonage's JWT, Telnyx's Ed25519 headers.
    case auth

    func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .twilio: CarrierFuzzer.run(bytes)
        case .base64: Base64Fuzzer.run(bytes)
        case .form: FormFuzzer.run(bytes)
        case .twiml: TwiMLFuzzer.run(bytes)
        case .elevenlabs: ElevenLabsFuzzer.run(bytes)
        case .relay: RelayFuzzer.run(bytes)
        case .flow: FlowFuzzer.run(bytes)
        case .recording: RecordingFuzzer.run(bytes)
        case .replay: ReplayFuzzer.run(bytes)
        case .wav: WAVFuzzer.run(bytes)
        case .auth: AuthFuzzer.run(bytes)
        }
    }
}

extension UnsafeRawBufferPointer {
    /// The input as text, invalid UTF-8 repaired, for the parsers whose API takes a String.
    var lossyText: String { String(decoding: self, as: UTF8.self) }

    /// Lines split on LF (an empty input is one empty line), as byte slices of the input.
    var lines: [Slice<UnsafeRawBufferPointer>] {
        split(separator: 0x0A, omittingEmptySubsequences: false)
    }
}

/// A violated property: stops the process with `message` (unlike `precondition`, whose message
/// an optimized build drops), which libFuzzer reports as a crash and saves the input for.
func require(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) {
    if !condition { fail(message(), file: file, line: line) }
}

func fail(_ message: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    fatalError("fuzz property violated: \(message)", file: file, line: line)
}
