import VoiceBridgeSpeech

/// The `webhook` step over libcurl: one POST, JSON in and out, bounded by the step's timeout.
public struct CurlWebhookClient: FlowWebhookClient {
    private let engine: CurlMulti

    public init(engine: CurlMulti = .shared) {
        self.engine = engine
    }

    public func post(url: String, json: [UInt8], timeoutMs: Int) async throws -> (status: Int, body: [UInt8]) {
        let timeout = Duration.milliseconds(Int64(timeoutMs))
        let request = HTTPRequest(
            method: "POST",
            url: url,
            headers: ["Content-Type": "application/json", "Accept": "application/json"],
            body: json,
            connectTimeout: timeout,
            stallTimeout: timeout,
            totalTimeout: timeout
        )
        let (head, body) = try await engine.perform(request)
        return (head.status, body)
    }
}
