/// What the headers of a successful response say (doc §3.3, §6), handed out before the audio.
public struct ElevenLabsResponseInfo: Sendable, Equatable {
    public var status: Int
    /// Feed it to `previous_request_ids` to stitch requests.
    public var requestID: String?
    /// Characters billed for this request.
    public var characterCost: Int?
    /// The account's requests in flight (this one included) and its plan's limit.
    public var currentConcurrentRequests: Int?
    public var maximumConcurrentRequests: Int?
    /// `x-region`, `x-trace-id` (log the trace id for support) and `history-item-id`.
    public var region: String?
    public var traceID: String?
    public var historyItemID: String?
    /// How many requests it took, retries included.
    public var attempts: Int

    public init(status: Int, headers: HTTPHeaderFields, attempts: Int) {
        self.status = status
        requestID = headers["request-id"]
        characterCost = headers["character-cost"].flatMap { Int($0) }
        currentConcurrentRequests = headers["current-concurrent-requests"].flatMap { Int($0) }
        maximumConcurrentRequests = headers["maximum-concurrent-requests"].flatMap { Int($0) }
        region = headers["x-region"]
        traceID = headers["x-trace-id"]
        historyItemID = headers["history-item-id"]
        self.attempts = attempts
    }
}
