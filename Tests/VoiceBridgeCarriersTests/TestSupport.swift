import VoiceBridgeCarriers
import NIOCore

/// Deterministic generator so a failing random case can be reproduced from its seed.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension RandomNumberGenerator {
    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &self) }
    }
}

func buffer(_ text: String) -> ByteBuffer {
    ByteBuffer(string: text)
}

func buffer(_ bytes: [UInt8]) -> ByteBuffer {
    ByteBuffer(bytes: bytes)
}

func text(_ buffer: ByteBuffer) -> String {
    String(buffer: buffer)
}

func bytes(_ buffer: ByteBuffer) -> [UInt8] {
    Array(buffer.readableBytesView)
}

let sampleStreamSid = "MZ0123456789abcdef0123456789abcdef"
let sampleAccountSid = "AC0123456789abcdef0123456789abcdef"
let sampleCallSid = "CA0123456789abcdef0123456789abcdef"

/// 160 bytes of μ-law silence (0xFF), base64: 53 × "////" + "/w==", 216 characters.
let silencePayloadBase64 = String(repeating: "////", count: 53) + "/w=="

func decodeInbound(_ json: String) throws(TwilioProtocolError) -> CarrierEvent {
    var decoder = TwilioMediaStreamDecoder()
    return try decoder.decode(buffer(json))
}

func mediaJSON(
    sequenceNumber: String = #""2""#,
    streamSid: String = sampleStreamSid,
    track: String = #""inbound""#,
    chunk: String = #""1""#,
    timestamp: String = #""20""#,
    payload: String = "\"\(silencePayloadBase64)\""
) -> String {
    #"{"event":"media","sequenceNumber":\#(sequenceNumber),"media":{"track":\#(track),"chunk":\#(chunk),"timestamp":\#(timestamp),"payload":\#(payload)},"streamSid":"\#(streamSid)"}"#
}
