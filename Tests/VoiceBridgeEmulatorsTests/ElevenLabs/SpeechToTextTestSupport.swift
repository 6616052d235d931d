import Foundation
import NIOCore
import NIOWebSocket
import Testing
import VoiceBridgeAudio
import VoiceBridgeCarriers
import VoiceBridgeEmulators

/// Helpers for the realtime speech-to-text socket (shared/docs/elevenlabs-stt.md).
enum SpeechToText {
    static func path(_ query: String = "model_id=scribe_v2_realtime&audio_format=ulaw_8000") -> String {
        "/v1/speech-to-text/realtime?\(query)"
    }

    /// Quick latencies, so tests don't wait; everything else as the service.
    static func configuration(
        _ change: (inout ElevenLabsEmulatorConfiguration.SpeechToText) -> Void = { _ in }
    ) -> ElevenLabsEmulatorConfiguration {
        var speechToText = ElevenLabsEmulatorConfiguration.SpeechToText(partialLatencyMs: 20, commitLatencyMs: 20)
        change(&speechToText)
        return ElevenLabsEmulatorConfiguration(speechToText: speechToText)
    }

    /// `text` as the phone simulator says it, with silence around it, in μ-law.
    static func coded(_ text: String, leadMs: Int = 200, tailMs: Int = 300) throws -> [UInt8] {
        let pcm = [Int16](repeating: 0, count: leadMs * 8) + (try SpokenTextCode.encode(text)) + [Int16](repeating: 0, count: tailMs * 8)
        return G711.encode(pcm, law: .ulaw)
    }

    /// Audio cut into chunks of `ms` (the last may be shorter).
    static func chunks(_ audio: [UInt8], ms: Int = 100, bytesPerMs: Int = 8) -> [[UInt8]] {
        stride(from: 0, to: audio.count, by: ms * bytesPerMs).map { Array(audio[$0..<min(audio.count, $0 + ms * bytesPerMs)]) }
    }

    /// An `input_audio_chunk` as the SDKs write it.
    static func message(_ audio: [UInt8], commit: Bool = false, sampleRate: Int = 8000, previousText: String? = nil) -> String {
        var fields = [
            #""message_type":"input_audio_chunk""#,
            #""audio_base_64":"\#(Base64Fast.encode(audio))""#,
            #""commit":\#(commit)"#,
            #""sample_rate":\#(sampleRate)"#,
        ]
        if let previousText { fields.append(#""previous_text":"\#(previousText)""#) }
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// A server message's fields.
    static func fields(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    static func type(_ text: String) -> String? { fields(text)["message_type"] as? String }

    /// Connects and checks the first message is `session_started`; returns the socket and it.
    static func start(port: Int, query: String = "model_id=scribe_v2_realtime&audio_format=ulaw_8000") async throws -> (TestWebSocket, [String: Any]) {
        let socket = try await TestWebSocket.connect(port: port, path: path(query), headers: validKey)
        guard case .text(let first) = await socket.next() else {
            Issue.record("no session_started")
            throw Refused()
        }
        #expect(type(first) == "session_started", "\(first)")
        return (socket, fields(first))
    }

    struct Refused: Error {}

    /// Texts until one of `type` arrives (included), or the socket ends, or 10 s pass.
    static func messages(from socket: TestWebSocket, through type: String) async -> [String] {
        var texts: [String] = []
        while let event = await socket.next() {
            guard case .text(let text) = event else { break }
            texts.append(text)
            if Self.type(text) == type { break }
        }
        return texts
    }

    /// The error message and close that end a refused session.
    static func refusal(_ socket: TestWebSocket) async -> (type: String?, error: String?, close: TestWebSocket.Event?) {
        let (messages, end) = await socket.collect(timeout: .seconds(10))
        let last = messages.last.map(fields)
        #expect(messages.count == 1, "\(messages)")
        return (last?["message_type"] as? String, last?["error"] as? String, end)
    }

    /// Which chunk completes each word, by a decoder fed the same chunks as the emulator: the
    /// moment its partial may come, and not before.
    static func wordChunks(_ chunks: [[UInt8]]) -> [Int: [String]] {
        let decoder = SpokenTextDecoder()
        var words: [Int: [String]] = [:]
        for (index, chunk) in chunks.enumerated() {
            for case .word(let word) in decoder.feed(G711.decode(chunk, law: .ulaw)) { words[index, default: []].append(word.text) }
        }
        return words
    }
}

extension TestWebSocket {
    func sendBinary(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: ByteBuffer(bytes: bytes)))
    }
}
