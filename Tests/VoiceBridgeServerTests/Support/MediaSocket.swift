import Foundation
import NIOCore

/// One WebSocket frame as the server put it on the wire.
struct WSFrame: Sendable, Equatable {
    var fin: Bool
    var opcode: UInt8
    var masked: Bool
    var payload: [UInt8]

    static let text: UInt8 = 0x1
    static let binary: UInt8 = 0x2
    static let close: UInt8 = 0x8
    static let ping: UInt8 = 0x9
    static let pong: UInt8 = 0xA

    var text: String { String(decoding: payload, as: UTF8.self) }
    var closeCode: UInt16? {
        guard opcode == Self.close, payload.count >= 2 else { return nil }
        return UInt16(payload[0]) << 8 | UInt16(payload[1])
    }
    var closeReason: String { payload.count > 2 ? String(decoding: payload[2...], as: UTF8.self) : "" }

    /// Parses one complete frame from the front of `buffer`.
    static func parse(_ buffer: inout ByteBuffer) -> WSFrame? {
        var copy = buffer
        guard let b0 = copy.readInteger(as: UInt8.self), let b1 = copy.readInteger(as: UInt8.self) else { return nil }
        var length = Int(b1 & 0x7F)
        if length == 126 {
            guard let l = copy.readInteger(as: UInt16.self) else { return nil }
            length = Int(l)
        } else if length == 127 {
            guard let l = copy.readInteger(as: UInt64.self) else { return nil }
            length = Int(l)
        }
        var mask: [UInt8]?
        if b1 & 0x80 != 0 {
            guard let m = copy.readBytes(length: 4) else { return nil }
            mask = m
        }
        guard var payload = copy.readBytes(length: length) else { return nil }
        if let mask { for i in payload.indices { payload[i] ^= mask[i % 4] } }
        buffer = copy
        return WSFrame(fin: b0 & 0x80 != 0, opcode: b0 & 0x0F, masked: mask != nil, payload: payload)
    }

    /// A client frame (masked, as RFC 6455 requires of clients).
    static func encode(opcode: UInt8, payload: [UInt8], fin: Bool = true) -> ByteBuffer {
        var out = ByteBuffer()
        out.writeInteger(UInt8((fin ? 0x80 : 0) | opcode))
        if payload.count <= 125 {
            out.writeInteger(UInt8(0x80 | payload.count))
        } else if payload.count <= 65535 {
            out.writeInteger(UInt8(0x80 | 126))
            out.writeInteger(UInt16(payload.count))
        } else {
            out.writeInteger(UInt8(0x80 | 127))
            out.writeInteger(UInt64(payload.count))
        }
        let mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
        out.writeBytes(mask)
        out.writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
        return out
    }
}

/// A Twilio-side media socket over `RawClient`: handshake by hand, frames by hand.
final class MediaSocket: Sendable {
    let client: RawClient

    private init(client: RawClient) { self.client = client }

    enum Upgrade {
        case opened(MediaSocket)
        case refused(RawHTTPResponse)
    }

    static func open(port: Int, path: String, headers: [(String, String)] = []) async throws -> Upgrade {
        let client = try await RawClient.connect(port: port)
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        try await client.send(request + "\r\n")
        guard let response = try await client.read("upgrade response", { RawHTTPResponse.parse(&$0) }) else {
            throw RawClient.Timeout(what: "upgrade response (closed first)")
        }
        if response.status == 101 {
            return .opened(MediaSocket(client: client))
        }
        await client.close()
        return .refused(response)
    }

    /// Opens or fails the test.
    static func connect(port: Int, path: String, headers: [(String, String)] = []) async throws -> MediaSocket {
        switch try await open(port: port, path: path, headers: headers) {
        case .opened(let socket): return socket
        case .refused(let response):
            throw RawClient.Timeout(what: "upgrade, refused with \(response.status): \(response.body)")
        }
    }

    func sendText(_ text: String) async throws {
        try await client.send(WSFrame.encode(opcode: WSFrame.text, payload: Array(text.utf8)))
    }

    func sendFrame(opcode: UInt8, payload: [UInt8], fin: Bool = true) async throws {
        try await client.send(WSFrame.encode(opcode: opcode, payload: payload, fin: fin))
    }

    func sendClose(code: UInt16 = 1000) async throws {
        try await sendFrame(opcode: WSFrame.close, payload: [UInt8(code >> 8), UInt8(code & 0xFF)])
    }

    /// The next frame, or nil when the server closed the TCP connection.
    func nextFrame(timeout: Duration = .seconds(5)) async throws -> WSFrame? {
        try await client.read("WebSocket frame", timeout: timeout) { WSFrame.parse(&$0) }
    }

    /// Reads until a close frame; returns it (nil if the connection ended without one).
    func closeFrame(timeout: Duration = .seconds(5)) async throws -> WSFrame? {
        while let frame = try await nextFrame(timeout: timeout) {
            if frame.opcode == WSFrame.close { return frame }
        }
        return nil
    }

    /// The next text message, skipping control frames; nil on close.
    func nextText(timeout: Duration = .seconds(5)) async throws -> String? {
        while let frame = try await nextFrame(timeout: timeout) {
            if frame.opcode == WSFrame.text { return frame.text }
            if frame.opcode == WSFrame.close { return nil }
        }
        return nil
    }

    func close() async { await client.close() }
}

/// Twilio's inbound messages, as documented (docs/twilio-media-streams.md §1).
enum Twilio {
    static let accountSid = "AC0123456789abcdef0123456789abcdef"
    static let callSid = "CA0123456789abcdef0123456789abcdef"
    static let streamSid = "MZ0123456789abcdef0123456789abcdef"

    static func connected() -> String {
        #"{"event":"connected","protocol":"Call","version":"1.0.0"}"#
    }

    static func start(callSid: String, streamSid: String = streamSid, accountSid: String = accountSid) -> String {
        #"{"event":"start","sequenceNumber":"1","start":{"accountSid":"\#(accountSid)","streamSid":"\#(streamSid)","callSid":"\#(callSid)","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1},"customParameters":{}},"streamSid":"\#(streamSid)"}"#
    }

    static func media(sequence: Int, streamSid: String = streamSid, payload: [UInt8] = silence) -> String {
        let chunk = sequence - 1
        return #"{"event":"media","sequenceNumber":"\#(sequence)","media":{"track":"inbound","chunk":"\#(chunk)","timestamp":"\#(chunk * 20)","payload":"\#(Data(payload).base64EncodedString())"},"streamSid":"\#(streamSid)"}"#
    }

    static func dtmf(sequence: Int, digit: String) -> String {
        #"{"event":"dtmf","streamSid":"\#(streamSid)","sequenceNumber":"\#(sequence)","dtmf":{"track":"inbound_track","digit":"\#(digit)"}}"#
    }

    static func mark(sequence: Int, name: String) -> String {
        #"{"event":"mark","sequenceNumber":"\#(sequence)","streamSid":"\#(streamSid)","mark":{"name":"\#(name)"}}"#
    }

    static func stop(sequence: Int, callSid: String) -> String {
        #"{"event":"stop","sequenceNumber":"\#(sequence)","stop":{"accountSid":"\#(accountSid)","callSid":"\#(callSid)"},"streamSid":"\#(streamSid)"}"#
    }

    /// 20 ms of μ-law silence.
    static let silence = [UInt8](repeating: 0xFF, count: 160)

    /// Form-encodes webhook parameters the way Twilio does (application/x-www-form-urlencoded).
    static func form(_ parameters: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return parameters.map { name, value in
            let n = name.addingPercentEncoding(withAllowedCharacters: allowed)!
            let v = value.addingPercentEncoding(withAllowedCharacters: allowed)!
            return "\(n)=\(v)"
        }.joined(separator: "&")
    }
}

extension MediaSocket {
    /// Twilio's side of a live call: 20 ms of caller silence every 20 ms, as a real stream
    /// sends, from sequence number 2 (after `start`) until the task is cancelled.
    func streamCallerSilence() -> Task<Void, any Error> {
        Task {
            var sequence = 2
            while !Task.isCancelled {
                try await sendText(Twilio.media(sequence: sequence))
                sequence += 1
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }
}
