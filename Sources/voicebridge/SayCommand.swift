import ArgumentParser
import Foundation
import Logging
import VoiceBridgeSpeech

/// `voicebridge say "text"`: one ElevenLabs HTTP stream, written out as the bytes arrive, e.g.
/// `voicebridge say "Hello" --format mp3_44100_128 | ffplay -nodisp -autoexit -`.
struct SayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "say",
        abstract: "Speak text through ElevenLabs' HTTP stream and write the audio as it arrives.",
        discussion: """
            The API key comes from ELEVENLABS_API_KEY; ELEVENLABS_BASE_URL points at another server \
            (an emulator) and ELEVENLABS_CA_BUNDLE at a PEM file of CAs to trust for it. \
            ulaw_8000 is raw headerless G.711 μ-law (play it with \
            `ffplay -nodisp -autoexit -f mulaw -ar 8000 -`); pcm_16000 is raw signed 16-bit mono \
            (`-f s16le -ar 16000`); mp3_44100_128 plays as is. \
            Exits non-zero, writing nothing, when ElevenLabs refuses the request.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case ulaw_8000, pcm_16000, mp3_44100_128

        var outputFormat: ElevenLabsOutputFormat { ElevenLabsOutputFormat(rawValue: rawValue) }
    }

    @Argument(help: "The text to speak.")
    var text: String

    @Option(help: "Voice id.")
    var voice: String = ElevenLabsSpeechRequest.defaultVoiceID

    @Option(help: "Model id.")
    var model: String = ElevenLabsSpeechRequest.defaultModelID

    @Option(help: "Output format.")
    var format: Format = .ulaw_8000

    @Option(name: .long, help: ArgumentHelp("Where the audio goes: a file, or - for standard output.", valueName: "file"))
    var out: String = "-"

    @Option(name: .customLong("ca-bundle"), help: ArgumentHelp("PEM file of CAs to trust (overrides ELEVENLABS_CA_BUNDLE).", valueName: "path"))
    var caBundle: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "notice"

    func validate() throws {
        if text.allSatisfy(\.isWhitespace) { throw ValidationError("nothing to say: the text is empty") }
        _ = try parseLogLevel(logLevel)
    }

    func run() async throws {
        let level = try parseLogLevel(logLevel)
        // Logs go to standard error: standard output may be the audio.
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        CurlMulti.initializeGlobally()

        var configuration: ElevenLabsHTTPClient.Configuration
        do {
            configuration = try ElevenLabsHTTPClient.Configuration.fromEnvironment()
        } catch {
            Self.complain("ELEVENLABS_API_KEY is not set: export your ElevenLabs API key (or an emulator's) first.")
            throw ExitCode(78)  // EX_CONFIG
        }
        if let caBundle { configuration.caBundlePath = caBundle }
        let toStdout = out == "-"
        if toStdout, isatty(STDOUT_FILENO) != 0 {
            Self.complain("refusing to write audio to a terminal: pipe it (| ffplay -nodisp -autoexit -) or use --out FILE.")
            throw ExitCode.validationFailure
        }

        let client = ElevenLabsHTTPClient(configuration: configuration, logger: Logger(label: "voicebridge.say"))
        let request = ElevenLabsSpeechRequest(text: text, voiceID: voice, modelID: model, outputFormat: format.outputFormat)
        let sink = AudioSink(path: toStdout ? nil : out)
        var info: ElevenLabsResponseInfo?
        var bytes = 0
        do {
            for try await event in client.stream(request) {
                switch event {
                case .response(let response):
                    info = response
                    try sink.open()  // Only now: a refused request leaves no empty file behind.
                case .audio(let audio):
                    try sink.write(audio)
                    bytes += audio.count
                }
            }
            try sink.close()
        } catch let error as ElevenLabsHTTPError {
            sink.abandon()
            Self.complain("\(error)")
            throw ExitCode.failure
        } catch let error as AudioSink.Failure {
            sink.abandon()
            Self.complain("\(error)")
            throw ExitCode.failure
        }

        var summary = "\(bytes) bytes of \(format.rawValue)"
        if format == .ulaw_8000 { summary += String(format: " (%.2f s)", Double(bytes) / 8000) }
        if let id = info?.requestID { summary += ", request-id \(id)" }
        if let cost = info?.characterCost { summary += ", \(cost) characters billed" }
        if !toStdout { summary += ", written to \(out)" }
        FileHandle.standardError.write(Data((summary + "\n").utf8))
    }

    static func complain(_ message: String) {
        FileHandle.standardError.write(Data("voicebridge say: error: \(message)\n".utf8))
    }
}

/// Standard output or a file, written unbuffered so a player downstream hears audio as soon as
/// it exists.
private final class AudioSink {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private let path: String?
    private var fd: Int32 = -1

    init(path: String?) {
        self.path = path
    }

    func open() throws {
        guard fd < 0 else { return }
        guard let path else {
            signal(SIGPIPE, SIG_IGN)  // A player that quits early is an error to report, not a crash.
            fd = STDOUT_FILENO
            return
        }
        fd = Foundation.open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if fd < 0 { throw Failure(description: "can't open \(path): \(String(cString: strerror(errno)))") }
    }

    func write(_ bytes: [UInt8]) throws {
        try open()
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "can't write the audio: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    func close() throws {
        guard fd >= 0, path != nil else { return }
        defer { fd = -1 }
        if Foundation.close(fd) != 0 { throw Failure(description: "can't close \(path ?? "-"): \(String(cString: strerror(errno)))") }
    }

    /// A failed stream leaves no partial file that looks like a finished one.
    func abandon() {
        guard fd >= 0, let path else { return }
        _ = Foundation.close(fd)
        fd = -1
        unlink(path)
    }
}
