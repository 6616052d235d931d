import NIOCore
import Testing
@testable import VoiceBridgeServer

/// The media socket's own frame reader: RFC 6455 framing as a strict server reads it.
@Suite struct WebSocketFrameReaderTests {
    static let key: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]

    /// A client frame: masked with `key`.
    static func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, masked: Bool = true) -> [UInt8] {
        var out: [UInt8] = [(fin ? 0x80 : 0) | rsv | opcode]
        let maskBit: UInt8 = masked ? 0x80 : 0
        if payload.count <= 125 {
            out.append(maskBit | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            out.append(maskBit | 126)
            out += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            out.append(maskBit | 127)
            out += (0..<8).reversed().map { UInt8(truncatingIfNeeded: payload.count >> ($0 * 8)) }
        }
        if masked { out += key }
        out += payload.enumerated().map { masked ? $0.element ^ key[$0.offset % 4] : $0.element }
        return out
    }

    enum Seen: Equatable { case text(String), binary([UInt8]), ping([UInt8]), pong, close([UInt8]) }

    static func read(_ chunks: [[UInt8]], max: Int = 1024) -> (seen: [Seen], failure: WebSocketFrameReader.Failure?) {
        var reader = WebSocketFrameReader(maxMessageBytes: max, allocator: ByteBufferAllocator())
        var seen: [Seen] = []
        do {
            for chunk in chunks {
                try reader.read(ByteBuffer(bytes: chunk)) { frame throws(WebSocketFrameReader.Failure) in
                    switch frame {
                    case let .text(b): seen.append(.text(String(buffer: b)))
                    case let .binary(b): seen.append(.binary(Array(b.readableBytesView)))
                    case let .ping(b): seen.append(.ping(Array(b.readableBytesView)))
                    case .pong: seen.append(.pong)
                    case let .close(b): seen.append(.close(Array(b.readableBytesView)))
                    }
                }
            }
        } catch {
            return (seen, error)
        }
        return (seen, nil)
    }

    @Test func framesInOneReadAndSplitAcrossReads() {
        let a = Self.frame(0x1, Array(#"{"event":"media"}"#.utf8))
        let b = Self.frame(0x1, Array(String(repeating: "x", count: 300).utf8))  // 16-bit length
        let both = a + b
        #expect(Self.read([both]).seen == [.text(#"{"event":"media"}"#), .text(String(repeating: "x", count: 300))])
        // Every split point, including inside the header and the mask.
        for cut in 1..<both.count {
            let r = Self.read([Array(both[..<cut]), Array(both[cut...])])
            #expect(r.failure == nil)
            #expect(r.seen.count == 2, "cut at \(cut)")
        }
        // Byte by byte.
        #expect(Self.read(both.map { [$0] }).seen.count == 2)
    }

    @Test func fragmentsJoinAndControlFramesMayComeBetween() {
        let r = Self.read([
            Self.frame(0x1, Array("Hel".utf8), fin: false) + Self.frame(0x9, [1, 2])
                + Self.frame(0x0, Array("lo".utf8), fin: false) + Self.frame(0x0, Array("!".utf8)),
            Self.frame(0x2, [9, 8, 7]) + Self.frame(0xA, []) + Self.frame(0x8, [0x03, 0xE8]),
        ])
        #expect(r.failure == nil)
        #expect(r.seen == [.ping([1, 2]), .text("Hello!"), .binary([9, 8, 7]), .pong, .close([0x03, 0xE8])])
    }

    @Test func brokenFramingIsAProtocolError() {
        let cases: [([UInt8], String)] = [
            (Self.frame(0x1, [1], masked: false), "unmasked"),
            (Self.frame(0x1, [1], rsv: 0x40), "reserved bit"),
            (Self.frame(0x3, [1]), "reserved opcode"),
            (Self.frame(0x0, [1]), "continuation without a message"),
            (Self.frame(0x9, [1], fin: false), "fragmented control frame"),
            (Self.frame(0x9, Array(repeating: 1, count: 126)), "control frame over 125 bytes"),
            (Self.frame(0x1, [1], fin: false) + Self.frame(0x1, [2]), "new message inside a fragmented one"),
        ]
        for (bytes, what) in cases {
            guard case .protocolError = Self.read([bytes]).failure else {
                Issue.record("\(what): not refused")
                continue
            }
        }
    }

    @Test func tooLargeIsRefusedFromTheHeader() {
        // Only the header of a 2 KiB frame has arrived: refused already.
        let big = Self.frame(0x1, Array(repeating: 0x61, count: 2048))
        #expect(Self.read([Array(big.prefix(8))]).failure == .tooLarge("frame of 2048 bytes"))
        // Fragments that add up to more than the limit.
        let half = Array(repeating: UInt8(0x61), count: 600)
        guard case .tooLarge = Self.read([Self.frame(0x1, half, fin: false) + Self.frame(0x0, half)]).failure else {
            Issue.record("oversized fragmented message accepted")
            return
        }
        // Too many fragments.
        var many = Self.frame(0x1, [0x61], fin: false)
        for _ in 0..<64 { many += Self.frame(0x0, [0x61], fin: false) }
        guard case .tooLarge = Self.read([many]).failure else {
            Issue.record("65 fragments accepted")
            return
        }
        // A 64-bit length.
        #expect(Self.read([[0x81, 0xFF, 0, 0, 0, 1, 0, 0, 0, 0]]).failure == .tooLarge("frame of 4294967296 bytes"))
    }
}
