import NIOCore
import VoiceBridgeCarriers

/// Every carrier dialect's inbound side, on the same input.
///
/// Input: one WebSocket message per line; a line that starts with a NUL byte is a binary frame
/// (the rest of the line), any other line a text frame. Seeds are recorded calls' messages.
///
/// Two passes per dialect:
/// 1. the bare decoder over every frame, carrying on past errors, so the decoder's state after a
///    refused message is exercised too;
/// 2. `MediaSession` (decoder → gate → encoder, exactly the live path) bound to the call the first
///    start named, stopping at the first close as the server does. Once started, the session's
///    encoder writes a media frame, a mark named by carrier-chosen text, and a clear. For the
///    dialects that write Twilio's JSON, what it wrote must read back exactly through Twilio's
///    strict peer decoder: a stream id or mark name the carrier chose must never make the bridge
///    write a message the carrier refuses.
enum CarrierFuzzer {
    static let maxMessageBytes = TwilioMediaStreamDecoder.defaultMaxMessageBytes

    static func run(_ bytes: UnsafeRawBufferPointer) {
        let frames = bytes.lines.map { line -> CarrierFrame in
            if line.first == 0 {
                return .binary(ByteBuffer(bytes: line.dropFirst()))
            }
            return .text(ByteBuffer(bytes: line))
        }
        exercise(TwilioDialect.self, frames)
        exercise(SignalWireDialect.self, frames)
        exercise(TelnyxDialect.self, frames)
        exercise(PlivoDialect.self, frames)
        exercise(VonageDialect.self, frames)
        exercise(ExotelDialect.self, frames)
        exercise(AsteriskDialect.self, frames)
    }

    static func exercise<Dialect: CarrierDialect>(_ dialect: Dialect.Type, _ frames: [CarrierFrame]) {
        var decoder = Dialect.makeDecoder(maxMessageBytes: maxMessageBytes)
        var firstStart: StreamStart?
        for frame in frames {
            guard let event = try? decoder.decode(frame) else { continue }
            if case .start(let start) = event, firstStart == nil { firstStart = start }
        }

        var session = MediaSession<Dialect>(
            callID: firstStart?.callID ?? "CA00000000000000000000000000000000", accountID: nil, maxMessageBytes: maxMessageBytes)
        for frame in frames {
            switch session.receive(frame) {
            case .close:
                return
            case .started(let start):
                if let encoder = session.encoder { write(with: encoder, for: start) }
            case .forward, .ignore:
                break
            }
        }
    }

    /// What the bridge writes once a stream has started: the three playout commands.
    static func write(with encoder: some CarrierOutboundEncoder, for start: StreamStart) {
        // The format passed the gate, so it is one the dialect supports and its frame is small.
        let frame = [UInt8](repeating: start.mediaFormat.silenceByte, count: start.mediaFormat.frameBytes)
        // Carrier-chosen text: the longest custom parameter value, else the call id.
        let markName = start.customParameters.values.max { $0.utf8.count < $1.utf8.count } ?? start.callID

        var media = ByteBuffer()
        frame.withUnsafeBytes { encoder.writeMedia($0, into: &media) }
        var mark = ByteBuffer()
        encoder.writeMark(name: markName, into: &mark)
        var clear = ByteBuffer()
        encoder.writeClear(into: &clear)

        guard encoder is TwilioMediaStreamEncoder else { return }
        var peer = TwilioCarrierDecoder(streamSid: start.streamID, maxMessageBytes: 1 << 22)
        let readMedia = Result { () throws(CarrierProtocolError) in try peer.decode(media) }
        guard case .success(.media(let payload)) = readMedia, Array(payload.readableBytesView) == frame else {
            fail("Twilio encoder wrote a media message its peer refuses or misreads: \(readMedia) for streamSid \(start.streamID.debugDescription)")
        }
        let readMark = Result { () throws(CarrierProtocolError) in try peer.decode(mark) }
        guard case .success(.mark(let name)) = readMark, name == markName else {
            fail("Twilio encoder wrote a mark its peer refuses or misreads: \(readMark) for name \(markName.debugDescription), streamSid \(start.streamID.debugDescription)")
        }
        let readClear = Result { () throws(CarrierProtocolError) in try peer.decode(clear) }
        guard case .success(.clear) = readClear else {
            fail("Twilio encoder wrote a clear its peer refuses: \(readClear) for streamSid \(start.streamID.debugDescription)")
        }
    }
}
