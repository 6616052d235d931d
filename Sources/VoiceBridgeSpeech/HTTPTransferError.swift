import CCurl

/// Why a transfer failed below HTTP: the request never got an answer, or the answer broke off.
/// An HTTP error status is not a transfer error; the caller gets the head and decides.
public struct HTTPTransferError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The request could not be handed to curl (a bad URL or header, an unknown option).
        case invalidRequest
        case couldNotResolveHost
        case couldNotConnect
        /// The connect, stall or total timeout ran out.
        case timedOut
        /// The TLS handshake failed, or the certificate could not be verified.
        case tls
        /// The connection broke, or closed before the response was complete.
        case connectionLost
        case other
    }

    public var kind: Kind
    /// curl's `CURLcode` (0 when curl was never asked).
    public var curlCode: Int
    /// curl's detailed message when it gave one, else its generic text for the code.
    public var message: String

    public init(kind: Kind, curlCode: Int, message: String) {
        self.kind = kind
        self.curlCode = curlCode
        self.message = message
    }

    init(code: CURLcode, detail: String) {
        let generic = String(cString: curl_easy_strerror(code))
        self.init(kind: Self.kind(of: code), curlCode: Int(code.rawValue), message: detail.isEmpty ? generic : detail)
    }

    static func invalidRequest(_ message: String) -> HTTPTransferError {
        HTTPTransferError(kind: .invalidRequest, curlCode: 0, message: message)
    }

    public var description: String { "HTTP transfer failed (\(kind), curl \(curlCode)): \(message)" }

    private static func kind(of code: CURLcode) -> Kind {
        switch code {
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_BAD_FUNCTION_ARGUMENT, CURLE_UNKNOWN_OPTION:
            .invalidRequest
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            .couldNotResolveHost
        case CURLE_COULDNT_CONNECT:
            .couldNotConnect
        case CURLE_OPERATION_TIMEDOUT:
            .timedOut
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE,
            CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
            CURLE_SSL_ENGINE_INITFAILED, CURLE_SSL_CRL_BADFILE, CURLE_SSL_SHUTDOWN_FAILED:
            .tls
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE, CURLE_GOT_NOTHING, CURLE_HTTP2,
            CURLE_HTTP2_STREAM:
            .connectionLost
        default:
            .other
        }
    }
}
