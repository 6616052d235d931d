// TEMPORARY: internal stand-ins for APIs that VoiceBridgeCarriers and VoiceBridgeCalls will
// export (names and shapes as agreed). Declarations in this module shadow the imported ones,
// so this file is deleted, not edited, when those modules land on main.

import CNIOBoringSSL
import Foundation
import Logging
import NIOCore

// MARK: VoiceBridgeCarriers

public enum CarrierEvent: Sendable, Equatable {
    case connected(protocolName: String, version: String)
    case start(StreamStart)
    case media(InboundMedia)
    case dtmf(DTMFPress)
    case mark(MarkEcho)
    case stop(StreamStop)
}

public struct StreamStart: Sendable, Equatable {
    public var sequenceNumber: Int
    public var streamSid: String
    public var accountSid: String
    public var callSid: String
    public var tracks: [String]
    public var customParameters: [String: String]
}

public struct InboundMedia: Sendable, Equatable {
    public var sequenceNumber: Int
    public var timestampMs: Int
    public var payload: ByteBuffer
}

public struct DTMFPress: Sendable, Equatable {
    public var sequenceNumber: Int
    public var digit: Character
}

public struct MarkEcho: Sendable, Equatable {
    public var sequenceNumber: Int
    public var name: String
}

public struct StreamStop: Sendable, Equatable {
    public var sequenceNumber: Int
    public var accountSid: String
    public var callSid: String
}

public enum TwilioProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    case messageTooLarge(size: Int, limit: Int)
    case binaryFrame
    case malformedJSON(String)
    case unknownEvent(String)
    case missingField(String)
    case unexpectedField(String)
    case duplicateField(String)
    case wrongType(field: String, expected: String)
    case invalidValue(field: String, reason: String)
    case invalidBase64
    case wrongStreamSid(expected: String, got: String)

    public var description: String {
        switch self {
        case .messageTooLarge(let size, let limit): "message of \(size) bytes exceeds \(limit)"
        case .binaryFrame: "binary frame"
        case .malformedJSON(let d): "malformed JSON: \(d)"
        case .unknownEvent(let e): "unknown event \(e)"
        case .missingField(let f): "missing field \(f)"
        case .unexpectedField(let f): "unexpected field \(f)"
        case .duplicateField(let f): "duplicate field \(f)"
        case .wrongType(let f, let t): "\(f) must be \(t)"
        case .invalidValue(let f, let r): "\(f) invalid: \(r)"
        case .invalidBase64: "invalid base64"
        case .wrongStreamSid(let e, let g): "streamSid \(g) is not \(e)"
        }
    }
}

public struct TwilioMediaStreamDecoder {
    public var maxMessageBytes = 64 * 1024
    public var expectedStreamSid: String?

    public init() {}

    public mutating func decode(_ text: ByteBuffer) throws(TwilioProtocolError) -> CarrierEvent {
        guard text.readableBytes <= maxMessageBytes else {
            throw .messageTooLarge(size: text.readableBytes, limit: maxMessageBytes)
        }
        let object: [String: Any]
        do {
            guard let o = try JSONSerialization.jsonObject(with: Data(text.readableBytesView)) as? [String: Any] else {
                throw TwilioProtocolError.malformedJSON("not an object")
            }
            object = o
        } catch {
            throw .malformedJSON("\(error)")
        }
        guard let event = object["event"] as? String else { throw .missingField("event") }
        func seq() throws(TwilioProtocolError) -> Int {
            guard let s = object["sequenceNumber"] as? String, let n = Int(s) else { throw .missingField("sequenceNumber") }
            return n
        }
        func sid() throws(TwilioProtocolError) {
            guard let sid = object["streamSid"] as? String else { throw .missingField("streamSid") }
            if let expectedStreamSid, sid != expectedStreamSid { throw .wrongStreamSid(expected: expectedStreamSid, got: sid) }
        }
        switch event {
        case "connected":
            return .connected(protocolName: object["protocol"] as? String ?? "", version: object["version"] as? String ?? "")
        case "start":
            guard let start = object["start"] as? [String: Any],
                let streamSid = start["streamSid"] as? String,
                let accountSid = start["accountSid"] as? String,
                let callSid = start["callSid"] as? String
            else { throw .missingField("start") }
            try sid()
            if expectedStreamSid == nil { expectedStreamSid = streamSid }
            return .start(
                StreamStart(
                    sequenceNumber: try seq(), streamSid: streamSid, accountSid: accountSid, callSid: callSid,
                    tracks: start["tracks"] as? [String] ?? ["inbound"],
                    customParameters: start["customParameters"] as? [String: String] ?? [:]
                )
            )
        case "media":
            try sid()
            guard let media = object["media"] as? [String: Any], let payload = media["payload"] as? String else {
                throw .missingField("media.payload")
            }
            guard let bytes = Data(base64Encoded: payload) else { throw .invalidBase64 }
            let ts = (media["timestamp"] as? String).flatMap { Int($0) } ?? 0
            return .media(InboundMedia(sequenceNumber: try seq(), timestampMs: ts, payload: ByteBuffer(bytes: bytes)))
        case "dtmf":
            try sid()
            guard let d = object["dtmf"] as? [String: Any], let digit = (d["digit"] as? String)?.first else {
                throw .missingField("dtmf.digit")
            }
            return .dtmf(DTMFPress(sequenceNumber: try seq(), digit: digit))
        case "mark":
            try sid()
            guard let m = object["mark"] as? [String: Any], let name = m["name"] as? String else { throw .missingField("mark.name") }
            return .mark(MarkEcho(sequenceNumber: try seq(), name: name))
        case "stop":
            try sid()
            let stop = object["stop"] as? [String: Any] ?? [:]
            return .stop(
                StreamStop(
                    sequenceNumber: try seq(), accountSid: stop["accountSid"] as? String ?? "",
                    callSid: stop["callSid"] as? String ?? ""
                )
            )
        default:
            throw .unknownEvent(event)
        }
    }
}

public struct TwilioMediaStreamEncoder: Sendable {
    public let streamSid: String

    public init(streamSid: String) { self.streamSid = streamSid }

    public func writeMedia(_ payload: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"event":"media","streamSid":"\#(streamSid)","media":{"payload":""#)
        buffer.writeString(Data(payload).base64EncodedString())
        buffer.writeString(#""}}"#)
    }

    public func writeMark(name: String, into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"event":"mark","streamSid":"\#(streamSid)","mark":{"name":"\#(name)"}}"#)
    }

    public func writeClear(into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"event":"clear","streamSid":"\#(streamSid)"}"#)
    }
}

private func hmac(_ md: OpaquePointer?, key: [UInt8], message: [UInt8]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 64)
    var length: UInt32 = 0
    _ = HMAC(md, key, key.count, message, message.count, &out, &length)
    return Array(out[0..<Int(length)])
}

private func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var diff: UInt8 = 0
    for i in a.indices { diff |= a[i] ^ b[i] }
    return diff == 0
}

public struct TwilioSignature: Sendable {
    public let authToken: String

    public init(authToken: String) { self.authToken = authToken }

    public func compute(url: String, parameters: [(String, String)]) -> String {
        var message = url
        for (name, value) in parameters.sorted(by: { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }) {
            message += name + value
        }
        return Data(hmac(EVP_sha1(), key: Array(authToken.utf8), message: Array(message.utf8))).base64EncodedString()
    }

    public func isValid(signature: String, url: String, parameters: [(String, String)]) -> Bool {
        var valid = false
        for candidate in Self.portVariants(url) {
            valid = constantTimeEqual(Array(compute(url: candidate, parameters: parameters).utf8), Array(signature.utf8)) || valid
        }
        return valid
    }

    public static func portVariants(_ url: String) -> [String] {
        guard let schemeEnd = url.range(of: "://") else { return [url] }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        let afterScheme = url[schemeEnd.upperBound...]
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        let rest = afterScheme[authorityEnd...]
        let defaultPort = (scheme == "https" || scheme == "wss") ? "443" : "80"
        if let colon = authority.lastIndex(of: ":"), !authority[colon...].contains("]") {
            let stripped = url[..<schemeEnd.upperBound] + authority[..<colon] + rest
            return [url, String(stripped)]
        }
        return [url, String(url[..<schemeEnd.upperBound] + authority + ":" + defaultPort + rest)]
    }
}

public enum FormURLEncoded {
    public static func parse(_ body: String) -> [(String, String)] {
        body.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s)
            }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }
}

public struct VerifiedToken: Sendable, Equatable {
    public var callSid: String
    public var expiresAt: Int64
    public var id: String
}

public enum MediaStreamTokenError: Error { case malformed, badSignature, expired }

public struct MediaStreamTokenMinter: Sendable {
    public let secret: [UInt8]

    public init(secret: [UInt8]) { self.secret = secret }

    private static func b64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    public func mint(callSid: String, expiresAt: Int64, nonce: [UInt8]) -> String {
        let body = "\(callSid).\(expiresAt).\(Self.b64url(nonce))"
        return body + "." + Self.b64url(hmac(EVP_sha256(), key: secret, message: Array(body.utf8)))
    }

    public func verify(_ token: String, now: Int64) throws -> VerifiedToken {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, let expiresAt = Int64(parts[1]) else { throw MediaStreamTokenError.malformed }
        let body = parts[0..<3].joined(separator: ".")
        let mac = Self.b64url(hmac(EVP_sha256(), key: secret, message: Array(body.utf8)))
        guard constantTimeEqual(Array(mac.utf8), Array(parts[3].utf8)) else { throw MediaStreamTokenError.badSignature }
        guard now < expiresAt else { throw MediaStreamTokenError.expired }
        return VerifiedToken(callSid: String(parts[0]), expiresAt: expiresAt, id: String(parts[2]))
    }
}

public struct UsedTokenRegistry: Sendable {
    private var used: [String: Int64] = [:]

    public init() {}

    public mutating func consume(_ id: String, expiresAt: Int64, now: Int64) -> Bool {
        used = used.filter { $0.value > now }
        guard used[id] == nil else { return false }
        used[id] = expiresAt
        return true
    }
}

public struct ConnectStreamTwiML: Sendable {
    public var url: String
    public var parameters: [(name: String, value: String)]

    public init(url: String, parameters: [(name: String, value: String)]) {
        self.url = url
        self.parameters = parameters
    }

    private static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "'", with: "&apos;")
    }

    public func render() -> String {
        var xml = #"<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url=""# + Self.escape(url) + #"">"#
        for p in parameters {
            xml += #"<Parameter name=""# + Self.escape(p.name) + #"" value=""# + Self.escape(p.value) + #""/>"#
        }
        return xml + "</Stream></Connect></Response>"
    }
}

// MARK: VoiceBridgeCalls

public enum CallEndReason: Equatable, Sendable {
    case carrierStop, socketClosed, statusCallback(String), hangUp, redirect, protocolError(String), serverShutdown
}

public protocol CarrierSink: AnyObject {
    func sendMedia(_ frame: UnsafeRawBufferPointer)
    func sendMark(_ name: String)
    func sendClear()
    func flush()
    var isWritable: Bool { get }
    func close(_ reason: CallEndReason)
}

public protocol CallObserver: AnyObject {
    func callStarted()
    func frameSent(gapNanos: Int64?)
    func firstAudio(latencyNanos: Int64)
    func bargeIn(latencyNanos: Int64, accepted: Bool, reason: String)
    func error(kind: String)
    func callEnded(_ reason: CallEndReason)
}

extension CallObserver {
    public func callStarted() {}
    public func frameSent(gapNanos: Int64?) {}
    public func firstAudio(latencyNanos: Int64) {}
    public func bargeIn(latencyNanos: Int64, accepted: Bool, reason: String) {}
    public func error(kind: String) {}
    public func callEnded(_ reason: CallEndReason) {}
}
