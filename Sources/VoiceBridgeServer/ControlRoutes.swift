import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import VoiceBridgeCalls
import VoiceBridgeCarriers

/// The control API, on the same server: `POST /calls/{callSid}/say`, `POST /calls/{callSid}/hangup`
/// and `GET /calls`. Every request needs `Authorization: Bearer <control token>` (compared in
/// constant time); without a configured token the routes do not exist (404).
///
/// Actions run on the call's own event loop through `LiveCalls`, like status callbacks.
struct ControlRoutes: Sendable {
    let token: String
    let liveCalls: LiveCalls
    let logger: Logger

    static let maxBodyBytes = 16 * 1024

    struct SayRequest: Decodable {
        var text: String
        /// true/false, or `none`, `dtmf`, `speech`, `any` (default any).
        var interruptible: InterruptibleValue?
    }

    enum InterruptibleValue: Decodable {
        case value(Interruptible)

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let b = try? container.decode(Bool.self) {
                self = .value(b ? .any : .none)
            } else {
                let s = try container.decode(String.self)
                guard let v = Interruptible(rawValue: s) else {
                    throw DecodingError.dataCorruptedError(in: container, debugDescription: "interruptible must be true, false, none, dtmf, speech or any")
                }
                self = .value(v)
            }
        }

        var interruptible: Interruptible { if case let .value(v) = self { v } else { .any } }
    }

    func register(on router: Router<BasicRequestContext>) {
        router.post("/calls/:callSid/say") { request, context in
            try await authorized(request) { try await say(request, callSid: context.parameters.get("callSid") ?? "") }
        }
        router.post("/calls/:callSid/hangup") { request, context in
            try await authorized(request) { await hangUp(callSid: context.parameters.get("callSid") ?? "") }
        }
        router.get("/calls") { request, _ in
            try await authorized(request) { await list() }
        }
    }

    private func authorized(_ request: Request, _ body: () async throws -> Response) async throws -> Response {
        guard BearerToken.matches(authorization: request.headers[.authorization], token: token) else {
            logger.warning("control API request refused: bad or missing bearer token", metadata: ["path": "\(request.uri.path)"])
            return json(.unauthorized, #"{"error":"a valid bearer token is required"}"#, headers: [.wwwAuthenticate: "Bearer"])
        }
        return try await body()
    }

    /// Also what the console's Say button runs.
    func say(_ request: Request, callSid: String) async throws -> Response {
        let body = try await request.body.collect(upTo: Self.maxBodyBytes)
        let say: SayRequest
        do {
            say = try JSONDecoder().decode(SayRequest.self, from: Data(body.readableBytesView))
        } catch {
            return json(.badRequest, #"{"error":"expected {\"text\": string, \"interruptible\": bool or none|dtmf|speech|any}"}"#)
        }
        guard !say.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            return json(.badRequest, #"{"error":"text must not be empty"}"#)
        }
        let outcome = await liveCalls.control(callSid: callSid, .say(say.text, say.interruptible?.interruptible ?? .any))
        logger.info("control: say", metadata: ["callSid": "\(callSid)", "outcome": "\(outcome)"])
        return response(outcome, callSid: callSid)
    }

    /// Also what the console's Hang up button runs.
    func hangUp(callSid: String) async -> Response {
        let outcome = await liveCalls.control(callSid: callSid, .hangUp)
        logger.info("control: hangup", metadata: ["callSid": "\(callSid)", "outcome": "\(outcome)"])
        return response(outcome, callSid: callSid)
    }

    private func list() async -> Response {
        let calls = await liveCalls.states()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(["calls": calls])) ?? Data(#"{"calls":[]}"#.utf8)
        return json(.ok, String(decoding: data, as: UTF8.self))
    }

    private func response(_ outcome: LiveCalls.ControlOutcome, callSid: String) -> Response {
        let sid = String(data: (try? JSONEncoder().encode(callSid)) ?? Data(), encoding: .utf8) ?? "\"\""
        switch outcome {
        case .done: return json(.accepted, #"{"callSid":\#(sid),"status":"accepted"}"#)
        case .notFound: return json(.notFound, #"{"error":"no live call with this callSid"}"#)
        case .refused: return json(.conflict, #"{"error":"the call cannot do this now"}"#)
        }
    }

    private func json(_ status: HTTPResponse.Status, _ text: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
    }
}
