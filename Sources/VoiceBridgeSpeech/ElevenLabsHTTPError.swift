import Foundation

/// Why an ElevenLabs HTTP request produced no (or not all of its) audio.
///
/// Every non-2xx answer becomes one of these and its body is read as JSON, never as audio: an
/// error body played to a caller is loud noise.
public enum ElevenLabsHTTPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 401 `invalid_api_key`: the key is wrong or revoked. Retrying can't help.
    case invalidAPIKey(ElevenLabsErrorDetail)
    /// 401 `quota_exceeded`: the account is out of credits (quota errors come as 401, not 402).
    case quotaExceeded(ElevenLabsErrorDetail)
    /// Any other 401.
    case unauthorized(ElevenLabsErrorDetail)
    /// 403, e.g. `only_for_creator+`: the plan doesn't allow this voice or format.
    case forbidden(ElevenLabsErrorDetail)
    /// 404: unknown voice or path.
    case notFound(ElevenLabsErrorDetail)
    /// 400, e.g. `max_character_limit_exceeded` or `voice_not_found`.
    case badRequest(ElevenLabsErrorDetail)
    /// 422: the body failed validation; `issues` is FastAPI's `detail` array.
    case validationFailed([ElevenLabsValidationIssue], ElevenLabsErrorDetail)
    /// 429 `too_many_concurrent_requests` / `concurrent_limit_exceeded`, still refused after
    /// waiting for a slot as long as the retry policy allows.
    case tooManyConcurrentRequests(ElevenLabsErrorDetail)
    /// 429 `system_busy`, after the allowed backoffs.
    case systemBusy(ElevenLabsErrorDetail)
    /// 429 `rate_limit_exceeded` (or a 429 without a known code), after the allowed backoffs.
    case rateLimited(ElevenLabsErrorDetail)
    /// 5xx, after the allowed backoffs.
    case serverError(ElevenLabsErrorDetail)
    /// Any other status.
    case unexpectedStatus(ElevenLabsErrorDetail)
    /// No answer, or the answer broke off. `afterAudio` tells whether audio had already been
    /// handed out (then the request is never retried: it would repeat speech).
    case transport(HTTPTransferError, attempts: Int, afterAudio: Bool)
    /// A 2xx body that isn't what the endpoint promises (e.g. a bad NDJSON line).
    case malformedResponse(String)
    /// The request was never sent (e.g. an empty API key).
    case invalidConfiguration(String)

    /// The parsed error body, when the server sent one.
    public var detail: ElevenLabsErrorDetail? {
        switch self {
        case .invalidAPIKey(let d), .quotaExceeded(let d), .unauthorized(let d), .forbidden(let d), .notFound(let d),
            .badRequest(let d), .validationFailed(_, let d), .tooManyConcurrentRequests(let d), .systemBusy(let d),
            .rateLimited(let d), .serverError(let d), .unexpectedStatus(let d):
            d
        case .transport, .malformedResponse, .invalidConfiguration:
            nil
        }
    }

    public var description: String {
        switch self {
        case .invalidAPIKey(let d): "ElevenLabs rejected the API key \(d)"
        case .quotaExceeded(let d): "ElevenLabs quota exceeded \(d)"
        case .unauthorized(let d): "ElevenLabs refused the request \(d)"
        case .forbidden(let d): "ElevenLabs forbids this request on this plan \(d)"
        case .notFound(let d): "ElevenLabs has no such voice or endpoint \(d)"
        case .badRequest(let d): "ElevenLabs rejected the request \(d)"
        case .validationFailed(let issues, let d):
            "ElevenLabs found the request invalid \(d): "
                + issues.map { "\($0.location.joined(separator: ".")): \($0.message)" }.joined(separator: "; ")
        case .tooManyConcurrentRequests(let d): "ElevenLabs concurrency limit still reached after waiting \(d)"
        case .systemBusy(let d): "ElevenLabs is busy \(d)"
        case .rateLimited(let d): "ElevenLabs rate limit exceeded \(d)"
        case .serverError(let d): "ElevenLabs server error \(d)"
        case .unexpectedStatus(let d): "unexpected answer from ElevenLabs \(d)"
        case .transport(let error, let attempts, let afterAudio):
            "no answer from ElevenLabs after \(attempts) attempt(s)\(afterAudio ? ", mid-stream" : ""): \(error)"
        case .malformedResponse(let why): "malformed ElevenLabs response: \(why)"
        case .invalidConfiguration(let why): "ElevenLabs request not sent: \(why)"
        }
    }

    /// Classifies a non-2xx response from its status and JSON body (doc §3.4). Both body shapes
    /// are understood: `{"detail": {"code", "message", ...}}` and the legacy
    /// `{"detail": {"status", "message"}}`; 422 carries an array in `detail`.
    static func from(status: Int, body: [UInt8], headers: HTTPHeaderFields, attempts: Int) -> ElevenLabsHTTPError {
        var detail = ElevenLabsErrorDetail(httpStatus: status, attempts: attempts)
        detail.requestID = headers["request-id"]
        var issues: [ElevenLabsValidationIssue] = []
        let json = try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
        switch (json as? [String: Any])?["detail"] {
        case let object as [String: Any]:
            detail.code = (object["code"] as? String) ?? (object["status"] as? String)
            detail.message = object["message"] as? String
            detail.type = object["type"] as? String
            detail.param = object["param"] as? String
            if let id = object["request_id"] as? String { detail.requestID = id }
        case let array as [Any]:
            issues = array.compactMap { ElevenLabsValidationIssue(json: $0) }
            detail.message = issues.first?.message
        case let text as String:
            detail.message = text
        default:
            // Not the documented shape: keep a short, printable excerpt for the log.
            let text = String(decoding: body.prefix(200), as: UTF8.self)
            let printable = String(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F })
            if !printable.isEmpty { detail.message = printable }
        }

        let code = detail.code
        switch status {
        case 400: return .badRequest(detail)
        case 401:
            switch code {
            case "quota_exceeded": return .quotaExceeded(detail)
            case "invalid_api_key": return .invalidAPIKey(detail)
            default: return .unauthorized(detail)
            }
        case 403: return .forbidden(detail)
        case 404: return .notFound(detail)
        case 422: return .validationFailed(issues, detail)
        case 429:
            switch code {
            case "too_many_concurrent_requests", "concurrent_limit_exceeded": return .tooManyConcurrentRequests(detail)
            case "system_busy": return .systemBusy(detail)
            default: return .rateLimited(detail)
            }
        case 500...599: return .serverError(detail)
        default: return .unexpectedStatus(detail)
        }
    }
}

/// The fields of an ElevenLabs error body, plus what the client knows about the attempt.
public struct ElevenLabsErrorDetail: Sendable, Equatable, CustomStringConvertible {
    public var httpStatus: Int
    /// `code`, or the legacy `status` when there is no `code` (e.g. "quota_exceeded").
    public var code: String?
    public var message: String?
    public var type: String?
    public var param: String?
    /// The body's `request_id`, else the `request-id` header.
    public var requestID: String?
    /// Requests made, retries included.
    public var attempts: Int

    public init(httpStatus: Int, code: String? = nil, message: String? = nil, type: String? = nil, param: String? = nil, requestID: String? = nil, attempts: Int = 1) {
        self.httpStatus = httpStatus
        self.code = code
        self.message = message
        self.type = type
        self.param = param
        self.requestID = requestID
        self.attempts = attempts
    }

    public var description: String {
        var s = "(\(httpStatus)"
        if let code { s += " \(code)" }
        s += ")"
        if let message { s += ": \(message)" }
        if let requestID { s += " [request-id \(requestID)]" }
        if attempts > 1 { s += " after \(attempts) attempts" }
        return s
    }
}

/// One entry of a 422 body's `detail` array: `{"loc": [...], "msg": "...", "type": "..."}`.
public struct ElevenLabsValidationIssue: Sendable, Equatable {
    /// Path to the offending field, e.g. ["body", "text"].
    public var location: [String]
    public var message: String
    public var type: String?

    public init(location: [String], message: String, type: String? = nil) {
        self.location = location
        self.message = message
        self.type = type
    }

    init?(json: Any) {
        guard let object = json as? [String: Any] else { return nil }
        let loc = (object["loc"] as? [Any]) ?? []
        location = loc.map { "\($0)" }
        message = (object["msg"] as? String) ?? ""
        type = object["type"] as? String
    }
}
