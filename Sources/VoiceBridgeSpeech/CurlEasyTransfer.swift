import CCurl

/// One easy handle and the state of its response. Created, driven and destroyed on the curl
/// thread only; its C callbacks run there too, inside `curl_multi_perform`.
final class CurlEasyTransfer {
    let id: Int
    let handle: UnsafeMutableRawPointer
    private let continuation: AsyncThrowingStream<HTTPTransferEvent, any Error>.Continuation
    private var headerList: UnsafeMutablePointer<curl_slist>?
    /// curl writes its detailed error text here (CURLOPT_ERRORBUFFER).
    private let errorBuffer: UnsafeMutablePointer<CChar>

    /// The response being received: a 1xx interim response is replaced by the final one.
    private var status: Int?
    private var headers = HTTPHeaderFields()
    private var headDelivered = false

    init(id: Int, request: HTTPRequest, continuation: AsyncThrowingStream<HTTPTransferEvent, any Error>.Continuation) throws(HTTPTransferError) {
        guard let handle = curl_easy_init() else { throw .invalidRequest("curl_easy_init failed") }
        self.id = id
        self.handle = handle
        self.continuation = continuation
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        try configure(request)  // On a throw the object dies at once and deinit cleans up.
    }

    deinit {
        curl_easy_cleanup(handle)
        curl_slist_free_all(headerList)
        errorBuffer.deallocate()
    }

    private func configure(_ request: HTTPRequest) throws(HTTPTransferError) {
        let lowercasedURL = request.url.lowercased()
        guard lowercasedURL.hasPrefix("http://") || lowercasedURL.hasPrefix("https://") else {
            throw .invalidRequest("not an http(s) URL")
        }
        try set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(errorBuffer))
        try set(CURLOPT_URL, request.url)
        try set(CURLOPT_PROTOCOLS_STR, "http,https")
        try set(CURLOPT_FOLLOWLOCATION, 0)
        // Signals can't be used for timeouts in a threaded process; curl's threaded resolver
        // keeps DNS from blocking the loop.
        try set(CURLOPT_NOSIGNAL, 1)
        try set(CURLOPT_TCP_KEEPALIVE, 1)
        try set(CURLOPT_USERAGENT, "voicebridge/0.1 libcurl")

        switch request.method.uppercased() {
        case "GET": try set(CURLOPT_HTTPGET, 1)
        case "POST": break  // Set by the body below; a POST without one sends an empty body.
        default: try set(CURLOPT_CUSTOMREQUEST, request.method)
        }
        if let body = request.body {
            try set(CURLOPT_POSTFIELDSIZE, body.count)  // Before the copy: binary-safe, no strlen.
            if body.isEmpty {
                try set(CURLOPT_COPYPOSTFIELDS, "")
            } else {
                let rc = body.withUnsafeBytes { vb_curl_easy_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress)) }
                try check(rc, CURLOPT_COPYPOSTFIELDS)
            }
        } else if request.method.uppercased() == "POST" {
            try set(CURLOPT_POSTFIELDSIZE, 0)
            try set(CURLOPT_COPYPOSTFIELDS, "")
        }

        for field in request.headers {
            guard Self.isSafeHeader(field.name, field.value) else {
                throw .invalidRequest("header \(field.name) has a line break or an invalid name")
            }
            headerList = curl_slist_append(headerList, "\(field.name): \(field.value)")
        }
        // No "Expect: 100-continue": a request body must never wait a round trip (or curl's 1 s
        // fallback) for permission to be sent.
        if !request.headers.contains("Expect") { headerList = curl_slist_append(headerList, "Expect:") }
        try check(vb_curl_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList), CURLOPT_HTTPHEADER)

        try set(CURLOPT_CONNECTTIMEOUT_MS, request.connectTimeout.milliseconds)
        if let stall = request.stallTimeout {
            try set(CURLOPT_LOW_SPEED_LIMIT, max(1, request.stallBytesPerSecond))
            try set(CURLOPT_LOW_SPEED_TIME, max(1, Int((stall.milliseconds + 999) / 1000)))
        }
        if let total = request.totalTimeout { try set(CURLOPT_TIMEOUT_MS, total.milliseconds) }

        try set(CURLOPT_SSL_VERIFYPEER, request.verifiesTLS ? 1 : 0)
        try set(CURLOPT_SSL_VERIFYHOST, request.verifiesTLS ? 2 : 0)
        if let caBundle = request.caBundlePath { try set(CURLOPT_CAINFO, caBundle) }

        let context = Unmanaged.passUnretained(self).toOpaque()
        try set(CURLOPT_WRITEDATA, pointer: context)
        try set(CURLOPT_HEADERDATA, pointer: context)
        try check(vb_curl_easy_setopt_write_callback(handle, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            let length = size * count
            guard let context, length > 0 else { return length }
            let transfer = Unmanaged<CurlEasyTransfer>.fromOpaque(context).takeUnretainedValue()
            transfer.receivedBody(UnsafeRawBufferPointer(start: data, count: length))
            return length
        }, CURLOPT_WRITEFUNCTION)
        try check(vb_curl_easy_setopt_write_callback(handle, CURLOPT_HEADERFUNCTION) { data, size, count, context in
            let length = size * count
            guard let context, length > 0 else { return length }
            let transfer = Unmanaged<CurlEasyTransfer>.fromOpaque(context).takeUnretainedValue()
            transfer.receivedHeaderLine(UnsafeRawBufferPointer(start: data, count: length))
            return length
        }, CURLOPT_HEADERFUNCTION)
    }

    // MARK: - Callbacks from curl

    private func receivedHeaderLine(_ raw: UnsafeRawBufferPointer) {
        guard !headDelivered else { return }  // Trailers after a chunked body: not part of the head.
        var line = Substring(String(decoding: raw, as: UTF8.self))
        while let last = line.last, last.isNewline { line.removeLast() }  // "\r\n" is one Character.
        if line.hasPrefix("HTTP/") {
            // A new response starts (after a 1xx): forget the interim one's fields.
            status = line.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) }
            headers = HTTPHeaderFields()
        } else if line.isEmpty {
            if let status, status >= 200 { deliverHead() }
        } else if let colon = line.firstIndex(of: ":") {
            let name = line[..<colon].trimmingSpaces()
            let value = line[line.index(after: colon)...].trimmingSpaces()
            headers.append(name: String(name), value: String(value))
        }
    }

    private func receivedBody(_ bytes: UnsafeRawBufferPointer) {
        deliverHead()
        continuation.yield(.body(Array(bytes)))
    }

    private func deliverHead() {
        guard !headDelivered else { return }
        headDelivered = true
        var code = 0
        if status == nil, vb_curl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK {
            status = code
        }
        continuation.yield(.head(HTTPResponseHead(status: status ?? 0, headers: headers)))
    }

    // MARK: - Ends, called by the loop after the handle left the multi

    func complete(_ result: CURLcode) {
        if result == CURLE_OK {
            deliverHead()
            continuation.finish()
        } else {
            let detail = String(cString: errorBuffer)
            continuation.finish(throwing: HTTPTransferError(code: result, detail: detail))
        }
    }

    func cancelled() {
        continuation.finish(throwing: CancellationError())
    }

    // MARK: - Typed setopt (curl_easy_setopt is variadic and out of Swift's reach)

    private func set(_ option: CURLoption, _ value: Int) throws(HTTPTransferError) {
        try check(vb_curl_easy_setopt_long(handle, option, value), option)
    }

    private func set(_ option: CURLoption, _ value: String) throws(HTTPTransferError) {
        // curl copies string options (all but POSTFIELDS, which is never used here).
        try check(vb_curl_easy_setopt_string(handle, option, value), option)
    }

    private func set(_ option: CURLoption, pointer: UnsafeMutableRawPointer) throws(HTTPTransferError) {
        try check(vb_curl_easy_setopt_pointer(handle, option, pointer), option)
    }

    private func check(_ code: CURLcode, _ option: CURLoption) throws(HTTPTransferError) {
        guard code == CURLE_OK else {
            throw HTTPTransferError(
                kind: .invalidRequest, curlCode: Int(code.rawValue),
                message: "curl_easy_setopt(\(option.rawValue)): \(String(cString: curl_easy_strerror(code)))"
            )
        }
    }

    /// A name must be a token and neither part may break the line: a value with CR or LF would
    /// let text smuggle extra header fields into the request.
    private static func isSafeHeader(_ name: String, _ value: String) -> Bool {
        !name.isEmpty
            && name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }
            && !value.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0 }
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var s = self
        while let first = s.first, first == " " || first == "\t" { s.removeFirst() }
        while let last = s.last, last == " " || last == "\t" { s.removeLast() }
        return s
    }
}

extension Duration {
    /// Whole milliseconds, rounded up so a tiny positive timeout never becomes 0 ("no timeout").
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        let ms = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int(max(ms, 0))
    }
}
