import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// A minimal voice server for loopback tests: answers the webhook with `<Connect><Stream>` TwiML and,
/// on the socket, plays a fixed script of media, marks and a clear, then closes.
final class FakeVoiceServer: Sendable {
    struct Options: Sendable {
        /// Send a media message with an extra `track` field (a 31951 violation).
        var injectExtraField = false
        /// Send a media message whose payload is 80 bytes.
        var injectShortPayload = false
        /// Send a clear for another stream.
        var injectWrongStreamSid = false
        /// Send a binary frame (Twilio 31950).
        var injectBinaryFrame = false
        /// Instead of the script: echo every caller frame back as outbound media, with a mark every
        /// `markEvery` frames (a load that looks like a bridge streaming a reply).
        var echo = false
        var markEvery = 50
    }

    struct Recorded: Sendable {
        var webhookHeaders = HTTPHeaders()
        var webhookBody = ""
        var webhookURI = ""
        var upgradeURI = ""
        /// Every text message the simulator sent, parsed, with its arrival time.
        var messages: [(at: NIODeadline, json: [String: SendableJSON])] = []
        var clearSentAt: NIODeadline?
    }

    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let options: Options
    private let state = NIOLockedValueBox(Recorded())
    private let boundPort = NIOLockedValueBox(0)
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)

    var recorded: Recorded { state.withLockedValue { $0 } }
    var port: Int { boundPort.withLockedValue { $0 } }
    var webhookURL: String { "http://127.0.0.1:\(port)/voice?from=test" }

    init(options: Options = Options()) { self.options = options }

    func start() async throws {
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                let upgrader = NIOWebSocketServerUpgrader(
                    shouldUpgrade: { [self] channel, head in
                        state.withLockedValue { $0.upgradeURI = head.uri }
                        return channel.eventLoop.makeSucceededFuture(HTTPHeaders())
                    },
                    upgradePipelineHandler: { [self] channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(StreamHandler(server: self))
                        }
                    })
                return channel.eventLoop.makeCompletedFuture {
                    let webhook = WebhookHandler(server: self)
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withServerUpgrade: (
                            upgraders: [upgrader],
                            completionHandler: { context in
                                context.pipeline.syncOperations.removeHandler(webhook, promise: nil)
                            }
                        ))
                    try channel.pipeline.syncOperations.addHandler(webhook)
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        boundPort.withLockedValue { $0 = server.localAddress?.port ?? 0 }
        channel.withLockedValue { $0 = server }
    }

    func stop() async throws {
        try await channel.withLockedValue { $0 }?.close()
        try await group.shutdownGracefully()
    }

    fileprivate func record(_ update: (inout Recorded) -> Void) { state.withLockedValue(update) }

    final class WebhookHandler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let server: FakeVoiceServer
        init(server: FakeVoiceServer) { self.server = server }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                server.record {
                    $0.webhookHeaders = head.headers
                    $0.webhookURI = head.uri
                }
            case .body(let body):
                server.record { $0.webhookBody += String(buffer: body) }
            case .end:
                let twiml = """
                    <?xml version="1.0" encoding="UTF-8"?>
                    <Response><Connect><Stream url="wss://127.0.0.1:\(server.port)/stream?token=dropped">\
                    <Parameter name="session" value="s-42"/></Stream></Connect><Say>Goodbye</Say><Hangup/></Response>
                    """
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "text/xml")
                headers.add(name: "Content-Length", value: String(twiml.utf8.count))
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: twiml)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }

    final class StreamHandler: ChannelInboundHandler {
        typealias InboundIn = WebSocketFrame
        typealias OutboundOut = WebSocketFrame
        let server: FakeVoiceServer
        private var streamSid = ""
        init(server: FakeVoiceServer) { self.server = server }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            switch frame.opcode {
            case .text:
                let text = frame.unmaskedData
                if server.options.echo, !streamSid.isEmpty {
                    echoMedia(context: context, text)
                    return
                }
                guard let object = try? JSONSerialization.jsonObject(with: Data(text.readableBytesView)) as? [String: Any] else {
                    return
                }
                let json = object.mapValues { SendableJSON.wrap($0) }
                if server.options.echo {
                    echo(context: context, object)
                    return
                }
                server.record { $0.messages.append((.now(), json)) }
                if object["event"] as? String == "start", let sid = object["streamSid"] as? String {
                    streamSid = sid
                    play(context: context)
                }
            case .connectionClose:
                var data = frame.unmaskedData
                let code = data.readInteger(as: UInt16.self)
                var reply = ByteBuffer()
                if let code { reply.writeInteger(code) }
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: reply)))
                    .assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            default:
                break
            }
        }

        private var echoed = 0

        private func echo(context: ChannelHandlerContext, _ object: [String: Any]) {
            switch object["event"] as? String {
            case "start":
                streamSid = object["streamSid"] as? String ?? ""
            default:
                break
            }
        }

        /// Echo without a JSON parse, so the fake server costs little next to the simulator.
        private func echoMedia(context: ChannelHandlerContext, _ text: ByteBuffer) {
            let bytes = Array(text.readableBytesView)
            let key = Array(#""payload":""#.utf8)
            guard let start = bytes.firstRange(of: key)?.upperBound,
                let end = bytes[start...].firstIndex(of: UInt8(ascii: "\""))
            else { return }
            var out = ByteBuffer(string: #"{"event":"media","streamSid":"\#(streamSid)","media":{"payload":""#)
            out.writeBytes(bytes[start..<end])
            out.writeString(#""}}"#)
            context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: out)), promise: nil)
            echoed += 1
            if echoed % server.options.markEvery == 0 {
                send(context, #"{"event":"mark","streamSid":"\#(streamSid)","mark":{"name":"m\#(echoed)"}}"#)
            } else {
                context.flush()
            }
        }

        private func play(context: ChannelHandlerContext) {
            let loop = context.eventLoop.assumeIsolated()
            // Each batch goes out in one flush, so it arrives in one read however busy the machine is.
            send(context, media: 0x10, flush: false)
            send(context, media: 0x20, flush: false)
            send(context, media: 0x30, flush: false)
            send(context, #"{"event":"mark","streamSid":"\#(streamSid)","mark":{"name":"m1"}}"#)
            loop.scheduleTask(in: .milliseconds(150)) { [self] in
                send(context, media: 0x40, flush: false)
                send(context, media: 0x40, flush: false)
                send(context, #"{"event":"mark","streamSid":"\#(streamSid)","mark":{"name":"m2"}}"#)
            }
            loop.scheduleTask(in: .milliseconds(170)) { [self] in
                server.record { $0.clearSentAt = .now() }
                send(context, #"{"event":"clear","streamSid":"\#(streamSid)"}"#)
                send(context, #"{"event":"mark","streamSid":"\#(streamSid)","mark":{"name":"m3"}}"#)
            }
            loop.scheduleTask(in: .milliseconds(200)) { [self] in
                if server.options.injectExtraField {
                    let payload = Data(repeating: 0x50, count: 160).base64EncodedString()
                    send(context, #"{"event":"media","streamSid":"\#(streamSid)","media":{"track":"outbound","payload":"\#(payload)"}}"#)
                }
                if server.options.injectShortPayload { send(context, media: 0x60, count: 80) }
                if server.options.injectWrongStreamSid {
                    send(context, #"{"event":"clear","streamSid":"MZ00000000000000000000000000000000"}"#)
                }
                if server.options.injectBinaryFrame {
                    context.writeAndFlush(
                        wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, data: ByteBuffer(bytes: [0xFF, 0xFF]))),
                        promise: nil)
                }
            }
            loop.scheduleTask(in: .milliseconds(400)) { [self] in
                var data = ByteBuffer()
                data.write(webSocketErrorCode: .normalClosure)
                data.writeString("bye")
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)), promise: nil)
            }
        }

        private func send(_ context: ChannelHandlerContext, media byte: UInt8, count: Int = 160, flush: Bool = true) {
            let payload = Data(repeating: byte, count: count).base64EncodedString()
            send(context, #"{"event":"media","streamSid":"\#(streamSid)","media":{"payload":"\#(payload)"}}"#, flush: flush)
        }

        private func send(_ context: ChannelHandlerContext, _ text: String, flush: Bool = true) {
            context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: text))), promise: nil)
            if flush { context.flush() }
        }
    }
}

/// JSON values made Sendable for the recorder.
enum SendableJSON: Sendable, Equatable {
    case string(String)
    case number(Double)
    case object([String: SendableJSON])
    case array([SendableJSON])
    case other

    static func wrap(_ value: Any) -> SendableJSON {
        switch value {
        case let s as String: .string(s)
        case let n as NSNumber: .number(n.doubleValue)
        case let o as [String: Any]: .object(o.mapValues(wrap))
        case let a as [Any]: .array(a.map(wrap))
        default: .other
        }
    }

    var string: String? { if case .string(let s) = self { s } else { nil } }
    subscript(key: String) -> SendableJSON? { if case .object(let o) = self { o[key] } else { nil } }
}
