import VoiceBridgeCarriers
import NIOCore

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

func decodeInbound(_ json: String) throws(CarrierProtocolError) -> CarrierEvent {
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
