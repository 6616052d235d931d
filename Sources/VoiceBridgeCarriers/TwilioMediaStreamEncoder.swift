import NIOCore

/// Writes the three messages a server may send on a bidirectional Twilio stream, byte for byte
/// as documented: Twilio logs any extra field as error 31951 and drops the message.
///
/// Everything except the payload and the mark name is fixed per stream, so it is laid out once
/// at init and copied per message.
public struct TwilioMediaStreamEncoder: Sendable {
    public let streamSid: String

    private let mediaPrefix: [UInt8]
    private let markPrefix: [UInt8]
    private let clearMessage: [UInt8]
    private static let objectSuffix: [UInt8] = Array("\"}}".utf8)

    public init(streamSid: String) {
        self.streamSid = streamSid
        let sid = JSONWriting.escaped(streamSid)
        mediaPrefix = Array(#"{"event":"media","streamSid":""#.utf8) + sid + Array(#"","media":{"payload":""#.utf8)
        markPrefix = Array(#"{"event":"mark","streamSid":""#.utf8) + sid + Array(#"","mark":{"name":""#.utf8)
        clearMessage = Array(#"{"event":"clear","streamSid":""#.utf8) + sid + Array(#""}"#.utf8)
    }

    /// `{"event":"media","streamSid":"MZ…","media":{"payload":"<base64>"}}` for raw μ-law bytes.
    public func writeMedia(_ payload: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) {
        buffer.reserveCapacity(
            minimumWritableBytes: mediaPrefix.count + Base64Fast.encodedLength(payload.count) + Self.objectSuffix.count
        )
        buffer.writeBytes(mediaPrefix)
        Base64Fast.encode(payload, into: &buffer)
        buffer.writeBytes(Self.objectSuffix)
    }

    public func writeMedia(_ payload: ByteBuffer, into buffer: inout ByteBuffer) {
        payload.withUnsafeReadableBytes { writeMedia($0, into: &buffer) }
    }

    /// `{"event":"mark","streamSid":"MZ…","mark":{"name":"…"}}`.
    public func writeMark(name: String, into buffer: inout ByteBuffer) {
        buffer.writeBytes(markPrefix)
        JSONWriting.writeEscapedContent(name, into: &buffer)
        buffer.writeBytes(Self.objectSuffix)
    }

    /// `{"event":"clear","streamSid":"MZ…"}`.
    public func writeClear(into buffer: inout ByteBuffer) {
        buffer.writeBytes(clearMessage)
    }

    /// Writes whichever message carries `command`.
    public func write(_ command: PlayoutCommand, into buffer: inout ByteBuffer) {
        switch command {
        case .media(let payload): writeMedia(payload, into: &buffer)
        case .mark(let name): writeMark(name: name, into: &buffer)
        case .clear: writeClear(into: &buffer)
        }
    }
}
