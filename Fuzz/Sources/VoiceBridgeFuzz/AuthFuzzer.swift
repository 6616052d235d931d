import VoiceBridgeCarriers

/// Credentials and signatures an attacker controls byte for byte: the Asterisk upgrade's HTTP
/// Basic header, the media stream token in the socket URL, Vonage's bearer JWT and Telnyx's
/// Ed25519 headers.
///
/// Input: the whole input is the header value / token; for Telnyx, line 1 is `telnyx-timestamp`,
/// line 2 `telnyx-signature-ed25519`, the rest the body.
///
/// Properties (with the secrets fixed here): a token minted for any call id and nonce verifies
/// to that call id; a JWT the Vonage signer makes for a body verifies for that body; a Telnyx
/// signature made for a body verifies.
enum AuthFuzzer {
    static let now: Int64 = 1_800_000_000
    static let basic = BasicCredentials(username: "asterisk", password: "s3cret")
    static let minter = MediaStreamTokenMinter(secret: Array("fuzz-token-secret-0123456789".utf8))
    static let vonage = VonageSignature(secret: "fuzz-vonage-signature-secret")
    static let telnyxKey = Ed25519.PrivateKey(seed: [UInt8](repeating: 7, count: 32))!
    static let telnyx = TelnyxSignature(publicKeyBase64: Base64Fast.encode(telnyxKey.publicKey))!

    static func run(_ bytes: UnsafeRawBufferPointer) {
        let text = bytes.lossyText
        _ = basic.accepts(text)
        _ = try? minter.verify(text, now: now)
        _ = vonage.check(authorization: text, body: Array(bytes), now: now)
        _ = vonage.check(authorization: "Bearer " + text, body: nil, now: now)

        let lines = bytes.lines
        let timestamp = lines.first.map { String(decoding: $0, as: UTF8.self) }
        let signature = lines.count > 1 ? String(decoding: lines[1], as: UTF8.self) : nil
        let body = lines.count > 2 ? Array(lines[2...].joined(separator: [0x0A])) : []
        _ = telnyx.check(signature: signature, timestamp: timestamp, body: body, now: now)

        // Round trips with fuzz-chosen content.
        if !text.isEmpty {
            let nonce = Array(bytes.prefix(16)).isEmpty ? [1] : Array(bytes.prefix(16))
            let token = minter.mint(callSid: text, expiresAt: now + 60, nonce: nonce)
            if token.utf8.count <= 512 {
                let verified = Result { () throws(TokenError) in try minter.verify(token, now: now) }
                guard case .success(let claims) = verified, claims.callSid == text, claims.expiresAt == now + 60 else {
                    fail("a freshly minted token does not verify: \(verified)")
                }
            }
        }
        let authorization = vonage.token(body: Array(bytes), issuedAt: now)  // "Bearer <JWT>"
        let failure = vonage.check(authorization: authorization, body: Array(bytes), now: now)
        require(failure == nil, "a JWT the signer made does not verify: \(String(describing: failure))")
        for (name, value) in telnyxKey.telnyxHeaders(body: Array(bytes), timestamp: now) where name == TelnyxSignature.signatureHeader {
            let failure = telnyx.check(signature: value, timestamp: String(now), body: Array(bytes), now: now)
            require(failure == nil, "a Telnyx signature made for the body does not verify: \(String(describing: failure))")
        }
    }
}
