/// One HTTP request for `CurlMulti`: where, what, and how long to wait.
///
/// Its description names the header fields but never prints their values, so a request can be
/// logged or dumped without leaking a credential such as `xi-api-key`.
public struct HTTPRequest: Sendable {
    /// "GET", "POST", or any other method name.
    public var method: String
    /// An absolute `http://` or `https://` URL (other schemes are refused).
    public var url: String
    public var headers: HTTPHeaderFields
    /// The request body, sent as is with its length; nil sends none.
    public var body: [UInt8]?

    /// Give up if no connection (TCP and TLS) is made within this time.
    public var connectTimeout: Duration
    /// Give up once the transfer has moved fewer than `stallBytesPerSecond` bytes per second for
    /// this long: the server went quiet. nil waits forever. It also bounds the wait for the first
    /// byte, since a stalled server and a slow one look alike from here. curl averages the speed
    /// over the last few seconds, so the abort can come a few seconds after the last byte.
    public var stallTimeout: Duration?
    public var stallBytesPerSecond: Int
    /// Give up on the whole transfer after this long; nil for no limit. Streams of speech are as
    /// long as the text, so the stall timeout is usually the better guard.
    public var totalTimeout: Duration?

    /// Verify the server's certificate chain and host name. Only a test against a throwaway
    /// server should turn it off; trusting a local certificate is what `caBundlePath` is for.
    public var verifiesTLS: Bool
    /// A PEM file of CA certificates to trust instead of the system's (CURLOPT_CAINFO), e.g. the
    /// self-signed certificate of a local emulator.
    public var caBundlePath: String?

    public init(
        method: String = "GET",
        url: String,
        headers: HTTPHeaderFields = [:],
        body: [UInt8]? = nil,
        connectTimeout: Duration = .seconds(10),
        stallTimeout: Duration? = .seconds(30),
        stallBytesPerSecond: Int = 1,
        totalTimeout: Duration? = nil,
        verifiesTLS: Bool = true,
        caBundlePath: String? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.connectTimeout = connectTimeout
        self.stallTimeout = stallTimeout
        self.stallBytesPerSecond = stallBytesPerSecond
        self.totalTimeout = totalTimeout
        self.verifiesTLS = verifiesTLS
        self.caBundlePath = caBundlePath
    }
}

extension HTTPRequest: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        let names = headers.map(\.name).joined(separator: ", ")
        return "\(method) \(url) headers: [\(names)] body: \(body?.count ?? 0) bytes"
    }

    public var debugDescription: String { description }

    /// `dump()` and the debugger see the redacted description, not the header values.
    public var customMirror: Mirror {
        Mirror(self, children: ["request": description], displayStyle: .struct)
    }
}

/// The status line and header fields of a response, before its body.
public struct HTTPResponseHead: Sendable, Equatable {
    public var status: Int
    public var headers: HTTPHeaderFields

    public init(status: Int, headers: HTTPHeaderFields) {
        self.status = status
        self.headers = headers
    }
}

/// What a transfer reports, in order: one `head`, then the body in pieces as they arrive. The
/// stream finishes after the last piece, or throws (`HTTPTransferError`, or `CancellationError`
/// after `HTTPTransfer.cancel()`).
public enum HTTPTransferEvent: Sendable, Equatable {
    case head(HTTPResponseHead)
    case body([UInt8])
}
