import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Testing
import VoiceBridgeEmulators
import VoiceBridgeSpeech

private let opensslTool = "/usr/bin/openssl"

/// The emulator behind TLS on loopback (a NIOSSL front with a certificate made by the openssl
/// CLI for this test): trusted through the configured CA file, the socket speaks; without it,
/// verification refuses the certificate. Only the base URL and the CA file differ from plain ws.
@Suite(.timeLimit(.minutes(1)), .enabled(if: FileManager.default.isExecutableFile(atPath: opensslTool)))
struct ElevenLabsWebSocketTLSTests {
    @Test func wssWithATrustedLocalCertificate() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vb-wss-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let cert = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        try runTool(opensslTool, [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ])
        let voice = KnownVoice(msPerCharacter: 10)
        try await withElevenLabsEmulator(voice: voice) { emulator, port in
            let proxy = try await TLSFront.start(certificate: cert, key: key, forwardingTo: port)
            defer { proxy.close(promise: nil) }
            let tlsPort = try #require(proxy.localAddress?.port)

            let trusted = try webSocketSource(port: tlsPort) {
                $0.baseURL = "https://127.0.0.1:\(tlsPort)"
                $0.caFilePath = cert
            }
            defer { trusted.close() }
            let chunks = try await allChunks(trusted.speak("Over TLS.", options: TurnOptions(id: "1")))
            #expect(chunks.flatMap(\.audio) == voice.audio(for: "Over TLS. "))
            #expect(emulator.requests.first?.uri.hasPrefix("/v1/text-to-speech/voice1/multi-stream-input?") == true)

            let untrusted = try webSocketSource(port: tlsPort) { $0.baseURL = "https://127.0.0.1:\(tlsPort)" }
            defer { untrusted.close() }
            await #expect {
                _ = try await allChunks(untrusted.speak("Refused.", options: TurnOptions(id: "2")))
            } throws: { error in
                guard case .connectFailed = error as? ElevenLabsWebSocketError else { return false }
                return true
            }
            #expect(voice.texts == ["Over TLS. "])
        }
    }
}

func runTool(_ tool: String, _ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "\(tool) \(arguments.first ?? "") failed")
}

/// Terminates TLS on loopback and forwards the plain bytes to a local port, both ways.
enum TLSFront {
    static func start(certificate: String, key: String, forwardingTo target: Int) async throws -> any Channel {
        let chain = try NIOSSLCertificate.fromPEMFile(certificate)
        let privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
        let context = try NIOSSLContext(configuration: .makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey)
        ))
        return try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.addHandler(Front(target: target))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    private final class Front: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let target: Int
        var back: (any Channel)?
        var pending: [ByteBuffer] = []
        var closed = false

        init(target: Int) {
            self.target = target
        }

        func channelActive(context: ChannelHandlerContext) {
            let front = context.channel
            let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
            ClientBootstrap(group: context.eventLoop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Back(front: front)) }
                }
                .connect(host: "127.0.0.1", port: target)
                .whenComplete { result in
                    let this = loopBound.value
                    switch result {
                    case .success(let back):
                        if this.closed { back.close(promise: nil); return }
                        this.back = back
                        for buffer in this.pending { back.write(buffer, promise: nil) }
                        this.pending = []
                        back.flush()
                    case .failure:
                        front.close(promise: nil)
                    }
                }
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            if let back { back.writeAndFlush(buffer, promise: nil) } else { pending.append(buffer) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            closed = true
            back?.close(promise: nil)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    private final class Back: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let front: any Channel

        init(front: any Channel) {
            self.front = front
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            front.writeAndFlush(unwrapInboundIn(data), promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            front.close(promise: nil)
            context.fireChannelInactive()
        }
    }
}
