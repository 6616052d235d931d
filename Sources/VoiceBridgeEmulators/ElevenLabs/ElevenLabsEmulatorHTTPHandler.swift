import Logging
import NIOCore
import NIOHTTP1
import VoiceBridgeCarriers
import VoiceBridgeSpeech

/// The HTTP side (§3): `POST /v1/text-to-speech/{voice_id}/stream` (raw audio, chunked),
/// `.../stream/with-timestamps` (NDJSON), and `POST /v1/single-use-token/{type}`.
///
/// Confined to the connection's event loop. Requests on one connection are served one at a time
/// (keep-alive is honoured).
final class ElevenLabsEmulatorHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    struct Setup {
        var configuration: ElevenLabsEmulatorConfiguration
        var recorder: ElevenLabsEmulatorRecorder
        var speech: any SpeechSource
        var logger: Logger
    }

    /// The largest request body accepted.
    static let maxBodyBytes = 1 << 20

    private let configuration: ElevenLabsEmulatorConfiguration
    private let recorder: ElevenLabsEmulatorRecorder
    private let speech: any SpeechSource
    private let logger: Logger
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var bodyTooLarge = false
    private var context: ChannelHandlerContext?
    private var generation: ElevenLabsEmulatorGeneration?
    private var admitted = false
    private var disconnectTimer: Scheduled<Void>?
    private var requestCounter = 0

    init(_ setup: Setup) {
        configuration = setup.configuration
        recorder = setup.recorder
        speech = setup.speech
        logger = setup.logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopStreaming()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopStreaming()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.removeAll(keepingCapacity: true)
            bodyTooLarge = false
            // libcurl asks before sending a large body; answer at once rather than make it wait
            // a second for nothing (uvicorn, behind the live service, does the same).
            if head.headers["expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
            }
        case .body(var buffer):
            if body.count + buffer.readableBytes > Self.maxBodyBytes {
                bodyTooLarge = true
            } else if let bytes = buffer.readBytes(length: buffer.readableBytes) {
                body += bytes
            }
        case .end:
            guard let head else { return }
            self.head = nil
            handle(head)
        }
    }

    // MARK: - Routing

    private func handle(_ head: HTTPRequestHead) {
        let target = ElevenLabsEmulatorRequestTarget(uri: head.uri)
        let recordID = recorder.begin(
            kind: .http, method: head.method.rawValue, uri: head.uri, path: target.path, query: target.query,
            headers: head.headers.map { ($0.name, $0.value) }
        )
        let bodyText = String(decoding: body, as: UTF8.self)
        if !body.isEmpty { recorder.body(recordID, bodyText) }
        logger.info("request", metadata: ["method": "\(head.method.rawValue)", "uri": "\(ElevenLabsEmulatorRedaction.redactURI(head.uri))"])
        let keepAlive = head.isKeepAlive

        switch target.route {
        case .textToSpeech(let voiceID, let withTimestamps) where head.method == .POST:
            textToSpeech(head, target: target, voiceID: voiceID, withTimestamps: withTimestamps, recordID: recordID, keepAlive: keepAlive)
        case .singleUseToken(let type) where head.method == .POST:
            singleUseToken(head, type: type, recordID: recordID, keepAlive: keepAlive)
        case .textToSpeech, .singleUseToken:
            respond(405, "{\"detail\":\"Method Not Allowed\"}", recordID: recordID, keepAlive: keepAlive)
        case .webSocket, .realtimeSpeechToText:
            // A WebSocket path without the upgrade headers.
            respond(426, "{\"detail\":\"Upgrade Required\"}", recordID: recordID, keepAlive: keepAlive)
        case .unknown:
            respond(404, ElevenLabsEmulatorProtocol.notFoundBody, recordID: recordID, keepAlive: keepAlive)
        }
    }

    private func singleUseToken(_ head: HTTPRequestHead, type: String, recordID: Int, keepAlive: Bool) {
        guard let key = head.headers["xi-api-key"].first, configuration.accepts(apiKey: key) else {
            respond(401, ElevenLabsEmulatorProtocol.invalidAPIKeyBody, recordID: recordID, keepAlive: keepAlive)
            return
        }
        let types = ["realtime_scribe", "batch_scribe", "tts_websocket"]
        guard types.contains(type) else {
            let problem = ElevenLabsEmulatorProtocol.ValidationProblem(
                location: ["path", "token_type"], message: "Input should be 'realtime_scribe', 'batch_scribe' or 'tts_websocket'", type: "enum"
            )
            respond(422, ElevenLabsEmulatorProtocol.validationBody([problem]), recordID: recordID, keepAlive: keepAlive)
            return
        }
        let token = recorder.issueToken()
        respond(200, ElevenLabsEmulatorJSONWriter.object([("token", ElevenLabsEmulatorJSONWriter.quoted(token))]), recordID: recordID, keepAlive: keepAlive)
    }

    // MARK: - Text to speech

    private func textToSpeech(_ head: HTTPRequestHead, target: ElevenLabsEmulatorRequestTarget, voiceID: String, withTimestamps: Bool, recordID: Int, keepAlive: Bool) {
        guard let key = head.headers["xi-api-key"].first, configuration.accepts(apiKey: key) else {
            respond(401, ElevenLabsEmulatorProtocol.invalidAPIKeyBody, recordID: recordID, keepAlive: keepAlive)
            return
        }
        let requestedText = ElevenLabsEmulatorJSON.parse(body)?["text"]?.stringValue
        switch recorder.takeHTTPRefusal(text: requestedText) {
        case .tooManyConcurrent:
            respond(429, ElevenLabsEmulatorProtocol.tooManyConcurrentRequestsBody(limit: configuration.maxConcurrentRequests), recordID: recordID, keepAlive: keepAlive)
            return
        case .systemBusy:
            respond(429, ElevenLabsEmulatorProtocol.systemBusyBody, recordID: recordID, keepAlive: keepAlive)
            return
        case .serverError:
            respond(500, ElevenLabsEmulatorProtocol.serverErrorBody, recordID: recordID, keepAlive: keepAlive)
            return
        case nil:
            break
        }
        let formatName = target.query["output_format"] ?? ElevenLabsEmulatorOutputFormat.httpDefaultName
        let format: ElevenLabsEmulatorOutputFormat
        switch ElevenLabsEmulatorOutputFormat.parse(formatName) {
        case .success(let parsed):
            format = parsed
        case .failure(let problem):
            let type: String
            switch problem {
            case .unknown: type = "enum"
            case .unsupported: type = "unsupported_in_emulator"
            }
            let item = ElevenLabsEmulatorProtocol.ValidationProblem(location: ["query", "output_format"], message: problem.reason, type: type)
            respond(422, ElevenLabsEmulatorProtocol.validationBody([item]), recordID: recordID, keepAlive: keepAlive)
            return
        }
        let request: Request
        switch Request.parse(body, tooLarge: bodyTooLarge) {
        case .success(let parsed):
            request = parsed
        case .failure(let problems):
            respond(422, ElevenLabsEmulatorProtocol.validationBody(problems.problems), recordID: recordID, keepAlive: keepAlive)
            return
        }
        let characters = request.text.unicodeScalars.count
        let limit = configuration.characterLimit(model: request.modelID)
        guard characters <= limit else {
            respond(400, ElevenLabsEmulatorProtocol.characterLimitBody(characters: characters, limit: limit), recordID: recordID, keepAlive: keepAlive)
            return
        }
        if configuration.faults.quotaExceeded {
            let body = ElevenLabsEmulatorProtocol.quotaExceededBody(quota: configuration.quota, remaining: configuration.faults.quotaRemaining, required: characters)
            respond(401, body, recordID: recordID, keepAlive: keepAlive)
            return
        }
        guard let current = recorder.admitHTTP(limit: configuration.maxConcurrentRequests) else {
            respond(429, ElevenLabsEmulatorProtocol.tooManyConcurrentRequestsBody(limit: configuration.maxConcurrentRequests), recordID: recordID, keepAlive: keepAlive)
            return
        }
        admitted = true
        stream(request, format: format, withTimestamps: withTimestamps, current: current, recordID: recordID, keepAlive: keepAlive)
    }

    private func stream(_ request: Request, format: ElevenLabsEmulatorOutputFormat, withTimestamps: Bool, current: Int, recordID: Int, keepAlive: Bool) {
        guard let context else { return }
        recorder.status(recordID, 200)
        var headers = HTTPHeaders()
        // The spec says audio/mpeg whatever the format (§3.2).
        headers.add(name: "content-type", value: withTimestamps ? "application/json" : "audio/mpeg")
        headers.add(name: "request-id", value: Self.randomHex(20))
        headers.add(name: "x-trace-id", value: Self.randomHex(32))
        headers.add(name: "character-cost", value: "\(request.text.unicodeScalars.count)")
        headers.add(name: "current-concurrent-requests", value: "\(current)")
        headers.add(name: "maximum-concurrent-requests", value: "\(configuration.maxConcurrentRequests)")
        headers.add(name: "transfer-encoding", value: "chunked")
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)

        requestCounter += 1
        // HTTP alignment has no trailing space (§1.5): the text is spoken without trailing whitespace.
        var text = request.text
        while let last = text.last, last.isWhitespace { text.removeLast() }
        let generation = ElevenLabsEmulatorGeneration(
            text: text,
            speech: speech,
            turnOptions: TurnOptions(id: "elevenlabs-emulator-http-\(recordID)", language: request.languageCode),
            format: format,
            timing: .init(
                ttfb: .milliseconds(Int64(configuration.faults.ttfbMs)),
                speed: configuration.faults.speed,
                chunkMs: configuration.chunkMs
            ),
            eventLoop: context.eventLoop
        )
        self.generation = generation
        recorder.generationStarted()
        var sentAny = false
        generation.start(
            onOutput: { [self] output in
                guard let context = self.context, !output.audio.isEmpty else { return }
                var buffer: ByteBuffer
                if withTimestamps {
                    let line = ElevenLabsEmulatorProtocol.timestampsLine(
                        audioBase64: Base64Fast.encode(output.audio), alignment: output.piece.alignment, offsetMs: output.piece.startMs
                    ) + "\n"
                    buffer = context.channel.allocator.buffer(string: line)
                } else {
                    buffer = context.channel.allocator.buffer(bytes: output.audio)
                }
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
                recorder.audioSent(recordID, bytes: output.audio.count)
                if !sentAny {
                    sentAny = true
                    armDisconnect(recordID: recordID)
                }
            },
            onFinish: { [self] error in
                self.generation = nil
                release()
                guard let context = self.context else { return }
                disconnectTimer?.cancel()
                disconnectTimer = nil
                if let error {
                    // Headers are out: the only way to report a failure now is to cut the body short.
                    logger.warning("voice failed", metadata: ["error": "\(error)"])
                    context.close(promise: nil)
                    return
                }
                context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                    if !keepAlive { context.close(promise: nil) }
                }
            }
        )
    }

    private func armDisconnect(recordID: Int) {
        guard let context, let after = recorder.faults.disconnectAfterMs, recorder.takeDisconnect() else { return }
        disconnectTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(after))) { [self] in
            logger.info("dropping http stream (fault injection)")
            recorder.disconnected(recordID)
            stopStreaming()
            context.close(promise: nil)
        }
    }

    private func stopStreaming() {
        generation?.cancel()
        generation = nil
        disconnectTimer?.cancel()
        disconnectTimer = nil
        release()
    }

    private func release() {
        if admitted {
            admitted = false
            recorder.releaseHTTP()
        }
    }

    private func respond(_ status: Int, _ json: String, recordID: Int, keepAlive: Bool) {
        guard let context else { return }
        recorder.status(recordID, status)
        if status >= 400 {
            logger.info("refused", metadata: ["status": "\(status)"])
        }
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: "\(json.utf8.count)")
        if !keepAlive { headers.add(name: "connection", value: "close") }
        let responseHead = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: json)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }

    private static func randomHex(_ count: Int) -> String {
        String((0..<count).map { _ in "0123456789abcdef".randomElement()! })
    }
}

extension ElevenLabsEmulatorHTTPHandler {
    /// The body of a text-to-speech request (§3.1), validated like FastAPI would.
    struct Request {
        var text: String
        var modelID: String?
        var languageCode: String?

        struct Problems: Error {
            var problems: [ElevenLabsEmulatorProtocol.ValidationProblem]
        }

        static func parse(_ body: [UInt8], tooLarge: Bool) -> Result<Request, Problems> {
            typealias Problem = ElevenLabsEmulatorProtocol.ValidationProblem
            guard !tooLarge, let json = ElevenLabsEmulatorJSON.parse(body) else {
                return .failure(Problems(problems: [Problem(location: ["body"], message: "JSON decode error", type: "json_invalid")]))
            }
            guard case .object = json else {
                return .failure(Problems(problems: [Problem(location: ["body"], message: "Input should be a valid dictionary or object to extract fields from", type: "model_attributes_type")]))
            }
            var problems: [Problem] = []
            let text = json["text"]
            if text == nil {
                problems.append(Problem(location: ["body", "text"], message: "Field required", type: "missing"))
            } else if text?.stringValue == nil {
                problems.append(Problem(location: ["body", "text"], message: "Input should be a valid string", type: "string_type"))
            }
            for field in ["model_id", "language_code", "previous_text", "next_text", "apply_text_normalization"] {
                if let value = json[field], !value.isNull, value.stringValue == nil {
                    problems.append(Problem(location: ["body", field], message: "Input should be a valid string", type: "string_type"))
                }
            }
            if let mode = json["apply_text_normalization"]?.stringValue, !["auto", "on", "off"].contains(mode) {
                problems.append(Problem(location: ["body", "apply_text_normalization"], message: "Input should be 'auto', 'on' or 'off'", type: "enum"))
            }
            if let settings = json["voice_settings"], !settings.isNull {
                if case .object = settings {
                    for field in ["stability", "similarity_boost", "style", "speed"] {
                        if let value = settings[field], !value.isNull, value.numberValue == nil {
                            problems.append(Problem(location: ["body", "voice_settings", field], message: "Input should be a valid number", type: "float_type"))
                        }
                    }
                    if let value = settings["use_speaker_boost"], !value.isNull, value.boolValue == nil {
                        problems.append(Problem(location: ["body", "voice_settings", "use_speaker_boost"], message: "Input should be a valid boolean", type: "bool_type"))
                    }
                } else {
                    problems.append(Problem(location: ["body", "voice_settings"], message: "Input should be a valid dictionary or object to extract fields from", type: "model_attributes_type"))
                }
            }
            if let seed = json["seed"], !seed.isNull {
                if let number = seed.numberValue, number == number.rounded() {
                    if number < 0 || number > 4_294_967_295 {
                        problems.append(Problem(location: ["body", "seed"], message: "Input should be between 0 and 4294967295", type: "less_than_equal"))
                    }
                } else {
                    problems.append(Problem(location: ["body", "seed"], message: "Input should be a valid integer", type: "int_type"))
                }
            }
            guard problems.isEmpty, let textValue = text?.stringValue else { return .failure(Problems(problems: problems)) }
            return .success(Request(text: textValue, modelID: json["model_id"]?.stringValue, languageCode: json["language_code"]?.stringValue))
        }
    }
}
