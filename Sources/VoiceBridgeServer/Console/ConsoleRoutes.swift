import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import VoiceBridgeCarriers

/// The live console at `/console`: a page, its script and style, its event stream and its two
/// buttons, all behind the control token. Without a configured token none of it exists (404),
/// like the control API.
///
/// A browser cannot put a bearer header on an `EventSource`, so the page rides on a cookie:
/// the login form (or `?token=` once, for scripts) trades the token for a session cookie that
/// holds an expiry and an HMAC of it keyed with the token, never the token itself, so the
/// cookie is no bearer token for the control API and stops working when it expires or the
/// token changes. It is `HttpOnly` and `SameSite=Strict`, scoped to `/console`; the buttons'
/// POSTs also need a custom header, which no cross-site form can send. A bearer header works on
/// every console path too.
struct ConsoleRoutes: Sendable {
    let token: String
    let hub: ConsoleHub
    let control: ControlRoutes
    let logger: Logger
    /// Mark the cookie `Secure` (the server is reached over https).
    let secureCookie: Bool
    /// `serve --record`'s calls, each as its timeline; nil when recording is off.
    var recordings: ConsoleRecordings?
    var sessionSeconds: Int = 12 * 3600

    static let cookieName = "voicebridge_console"
    static let actionHeader = HTTPField.Name("X-VoiceBridge-Console")!

    func register(on router: Router<BasicRequestContext>) {
        router.get("/console") { request, _ -> Response in
            switch grant(request) {
            case .bearer, .cookie:
                return asset(ConsolePage.html, type: "text/html; charset=utf-8")
            case .query:
                // The token leaves the address bar at once: the page reloads on the cookie alone.
                var response = redirect(to: "/console")
                response.headers[.setCookie] = sessionCookie()
                return response
            case .none:
                return loginPage(status: .unauthorized, message: nil)
            }
        }
        router.post("/console/login") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 4096)
            let given = FormURLEncoded.parse(String(buffer: body)).first { $0.0 == "token" }?.1
            guard let given, BearerToken.constantTimeEquals(given, token) else {
                logger.warning("console login refused: wrong token")
                return loginPage(status: .unauthorized, message: "That is not the control token.")
            }
            var response = redirect(to: "/console")
            response.headers[.setCookie] = sessionCookie()
            return response
        }
        router.post("/console/logout") { request, _ -> Response in
            guard grant(request) != .none else { return unauthorized() }
            var response = redirect(to: "/console")
            response.headers[.setCookie] = "\(Self.cookieName)=; Path=/console; Max-Age=0; HttpOnly; SameSite=Strict"
            return response
        }
        router.get("/console/app.js") { request, _ -> Response in
            grant(request) == .none ? unauthorized() : asset(ConsolePage.script, type: "text/javascript; charset=utf-8")
        }
        router.get("/console/app.css") { request, _ -> Response in
            grant(request) == .none ? unauthorized() : asset(ConsolePage.style, type: "text/css; charset=utf-8")
        }
        router.get("/console/events") { request, _ -> Response in
            guard grant(request) != .none else { return unauthorized() }
            return events()
        }
        router.get("/console/recordings") { request, _ -> Response in
            guard grant(request) != .none else { return unauthorized() }
            guard let recordings else {
                return json(.notFound, #"{"error":"recording is off: start serve with --record DIR (or recording.directory)"}"#)
            }
            var headers = Self.securityHeaders
            headers[.contentType] = "text/html; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: recordings.listPage())))
        }
        router.get("/console/recordings/:name") { request, context -> Response in
            guard grant(request) != .none else { return unauthorized() }
            guard let recordings else { return json(.notFound, #"{"error":"recording is off"}"#) }
            let name = context.parameters.get("name") ?? ""
            let page: String?
            do {
                page = try recordings.timeline(named: name)
            } catch {
                logger.warning("console: a recording did not replay", metadata: ["recording": "\(name)", "error": "\(error)"])
                return json(.unprocessableContent, #"{"error":"this recording could not be replayed; voicebridge replay FILE says why"}"#)
            }
            guard let page else { return json(.notFound, #"{"error":"no such recording"}"#) }
            var headers = Self.securityHeaders
            headers[.contentType] = "text/html; charset=utf-8"
            // The timeline is one self-contained page: its own style, script and audio, inline.
            headers[HTTPField.Name("Content-Security-Policy")!] =
                "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; media-src data:; img-src data:; frame-ancestors 'none'; base-uri 'none'"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: page)))
        }
        router.post("/console/calls/:callSid/say") { request, context -> Response in
            guard let refusal = refuseAction(request) else {
                return try await control.say(request, callSid: context.parameters.get("callSid") ?? "")
            }
            return refusal
        }
        router.post("/console/calls/:callSid/hangup") { request, context -> Response in
            guard let refusal = refuseAction(request) else {
                return await control.hangUp(callSid: context.parameters.get("callSid") ?? "")
            }
            return refusal
        }
    }

    enum Grant: Equatable {
        case bearer, cookie, query, none
    }

    /// How the request proves it knows the token, if it does.
    func grant(_ request: Request, now: Date = Date()) -> Grant {
        if BearerToken.matches(authorization: request.headers[.authorization], token: token) { return .bearer }
        if let cookie = request.cookies[Self.cookieName]?.value, validSession(cookie, now: now) { return .cookie }
        if let query = request.uri.queryParameters["token"], BearerToken.constantTimeEquals(String(query), token) { return .query }
        return .none
    }

    /// `<expiry>.<HMAC(token, "voicebridge-console|<expiry>")>`, expiry in Unix seconds.
    func sessionValue(expiry: Int) -> String {
        "\(expiry)." + BearerToken.derived(from: token, message: "voicebridge-console|\(expiry)")
    }

    func validSession(_ value: String, now: Date) -> Bool {
        guard let dot = value.firstIndex(of: "."), let expiry = Int(value[..<dot]), expiry > Int(now.timeIntervalSince1970) else { return false }
        return BearerToken.constantTimeEquals(value, sessionValue(expiry: expiry))
    }

    private func sessionCookie() -> String {
        let expiry = Int(Date().timeIntervalSince1970) + sessionSeconds
        return "\(Self.cookieName)=\(sessionValue(expiry: expiry)); Path=/console; Max-Age=\(sessionSeconds); HttpOnly; SameSite=Strict"
            + (secureCookie ? "; Secure" : "")
    }

    private func refuseAction(_ request: Request) -> Response? {
        switch grant(request) {
        case .bearer:
            return nil
        case .cookie:
            // A cookie rides along on any request to this host; the header proves the page's
            // own script sent it.
            guard request.headers[Self.actionHeader] == "1" else {
                return json(.forbidden, #"{"error":"console actions need the X-VoiceBridge-Console: 1 header"}"#)
            }
            return nil
        case .query, .none:
            return unauthorized()
        }
    }

    private func events() -> Response {
        let stream = hub.subscribe()
        var headers = Self.securityHeaders
        headers[.contentType] = "text/event-stream; charset=utf-8"
        // Proxies that buffer would hold the deltas back.
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
                for await bytes in stream { try await writer.write(bytes) }
                try await writer.finish(nil)
            })
    }

    static var securityHeaders: HTTPFields {
        var headers = HTTPFields()
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        // Everything comes from this server: no inline script, nothing fetched elsewhere.
        headers[HTTPField.Name("Content-Security-Policy")!] =
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        return headers
    }

    private func asset(_ text: String, type: String) -> Response {
        var headers = Self.securityHeaders
        headers[.contentType] = type
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private func loginPage(status: HTTPResponse.Status, message: String?) -> Response {
        var headers = Self.securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.wwwAuthenticate] = "Bearer"
        headers[HTTPField.Name("Content-Security-Policy")!] =
            "default-src 'none'; style-src \(ConsolePage.loginStyleSource); img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: ConsolePage.login(message: message))))
    }

    private func redirect(to path: String) -> Response {
        var headers = Self.securityHeaders
        headers[.location] = path
        return Response(status: .seeOther, headers: headers)
    }

    private func unauthorized() -> Response {
        var response = json(.unauthorized, #"{"error":"the console needs the control token"}"#)
        response.headers[.wwwAuthenticate] = "Bearer"
        return response
    }

    private func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        var headers = Self.securityHeaders
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
    }
}
