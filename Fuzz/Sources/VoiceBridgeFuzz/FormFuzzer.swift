import VoiceBridgeCarriers

/// Form bodies (every carrier webhook) and query strings.
///
/// Property: parsing is a normal form. What parse returns, encoded and parsed again, is the same
/// pairs in the same order, so a signature computed over re-encoded pairs covers what was read.
enum FormFuzzer {
    static let signature = TwilioSignature(authToken: "fuzz-auth-token")

    static func run(_ bytes: UnsafeRawBufferPointer) {
        let body = bytes.lossyText
        let pairs = FormURLEncoded.parse(body)
        let again = FormURLEncoded.parse(FormURLEncoded.encode(pairs))
        require(again.count == pairs.count, "encode → parse changed the number of pairs")
        for (lhs, rhs) in zip(pairs, again) {
            require(lhs.0 == rhs.0 && lhs.1 == rhs.1, "encode → parse changed a pair: \(lhs) became \(rhs)")
        }

        if let first = pairs.first {
            let url = "https://bridge.example/twiml?" + body + "#fragment"
            _ = FormURLEncoded.queryValue(named: first.0, in: url)
        }
        _ = FormURLEncoded.queryValue(named: "token", in: body)

        // The signature check parses the body the same way before hashing.
        _ = signature.isValid(signature: "c2lnbmF0dXJl", url: "https://bridge.example/twiml", body: Array(bytes))
        let computed = signature.compute(url: "https://bridge.example/twiml", parameters: pairs)
        require(signature.isValid(signature: computed, url: "https://bridge.example/twiml", parameters: pairs), "a signature computed over the parsed pairs does not validate")
    }
}
