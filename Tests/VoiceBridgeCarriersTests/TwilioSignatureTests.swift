import Foundation
import Testing
import VoiceBridgeCarriers

/// Expected signatures were computed outside this code, with Python's standard library
/// following twilio-python's RequestValidator.compute_signature:
///
///     def sig(token, url, params):
///         s = url
///         for name in sorted(set(k for k, _ in params)):
///             for value in sorted(set(v for k, v in params if k == name)):
///                 s += name + value
///         return base64.b64encode(hmac.new(token.encode(), s.encode(), hashlib.sha1).digest()).decode()
@Suite struct TwilioSignatureTests {
    static let docURL = "https://mycompany.com/myapp.php?foo=1&bar=2"
    static func docParameters(phone: String) -> [(String, String)] {
        [("Digits", "1234"), ("To", "+18005551212"), ("From", phone), ("Caller", phone), ("CallSid", "CA1234567890ABCDE")]
    }

    @Test func twiliosDocumentedExample() {
        // Twilio's webhook-security page: token 12345 → GvWf1cFY/Q7PnoempGyD5oXAezc=
        // (re-derived with sig("12345", url, params) above before being trusted).
        let signer = TwilioSignature(authToken: "12345")
        #expect(signer.compute(url: Self.docURL, parameters: Self.docParameters(phone: "+14158675310")) == "GvWf1cFY/Q7PnoempGyD5oXAezc=")
        // twilio-node's fixture for the same request with the 5309 number.
        #expect(signer.compute(url: Self.docURL, parameters: Self.docParameters(phone: "+14158675309")) == "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
        #expect(signer.isValid(signature: "GvWf1cFY/Q7PnoempGyD5oXAezc=", url: Self.docURL, parameters: Self.docParameters(phone: "+14158675310")))
    }

    @Test func sortingDeduplicationAndUnicode() {
        let signer = TwilioSignature(authToken: "secret-token")
        // sig("secret-token", "https://example.com/voice", [("To","b"),("To","a"),("From","x"),("To","a")])
        #expect(signer.compute(url: "https://example.com/voice", parameters: [("To", "b"), ("To", "a"), ("From", "x"), ("To", "a")]) == "HFRk4+AluuJBIHlvnRTAUd8cWCo=")
        // sig("secret-token", "https://example.com/sms", [("Body","héllo wörld ✓"),("From","+1555")])
        #expect(signer.compute(url: "https://example.com/sms", parameters: [("From", "+1555"), ("Body", "héllo wörld ✓")]) == "tunXJ7PuxI2MioI4BEA0mXl3bW8=")
        // Names sort by code point, not by Swift's canonical-equivalence ordering: "e\u{301}"
        // comes before "\u{e9}" although Swift considers the two strings equal.
        // sig("secret-token", "https://example.com/voice", [("\u00e9","1"),("e\u0301","2")])
        #expect(signer.compute(url: "https://example.com/voice", parameters: [("\u{E9}", "1"), ("e\u{301}", "2")]) == "0IuMuwOXTFwJavYk29XIBj/xbJE=")
    }

    @Test func portVariantsAreAccepted() {
        let signer = TwilioSignature(authToken: "12345")
        let parameters = Self.docParameters(phone: "+14158675310")
        // sig("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", params)
        let signedWithPort = "5s2PFy0qmPcZucb4eH4b08ZJtL0="
        #expect(signer.compute(url: "https://mycompany.com:443/myapp.php?foo=1&bar=2", parameters: parameters) == signedWithPort)
        #expect(signer.isValid(signature: signedWithPort, url: Self.docURL, parameters: parameters))
        #expect(signer.isValid(signature: "GvWf1cFY/Q7PnoempGyD5oXAezc=", url: "https://mycompany.com:443/myapp.php?foo=1&bar=2", parameters: parameters))

        let other = TwilioSignature(authToken: "secret-token")
        // sig("secret-token", "wss://media.example.com:443/twilio/stream/abc", [])
        #expect(other.isValid(signature: "VE8dx5UW+mvEyb09jmI2JdWjeSc=", url: "wss://media.example.com/twilio/stream/abc", parameters: []))
        // sig("secret-token", "http://example.com:80/voice?x=1", [("A","1")])
        #expect(other.isValid(signature: "23mowP8ceUcWwpAYVLRhOdb+Brc=", url: "http://example.com/voice?x=1", parameters: [("A", "1")]))
        #expect(other.isValid(signature: "23mowP8ceUcWwpAYVLRhOdb+Brc=", url: "http://example.com:80/voice?x=1", parameters: [("A", "1")]))
        // The wrong default port is not a variant.
        #expect(!other.isValid(signature: "23mowP8ceUcWwpAYVLRhOdb+Brc=", url: "https://example.com/voice?x=1", parameters: [("A", "1")]))
    }

    @Test func tamperingIsRejected() {
        let signer = TwilioSignature(authToken: "12345")
        let signature = "GvWf1cFY/Q7PnoempGyD5oXAezc="
        var parameters = Self.docParameters(phone: "+14158675310")
        #expect(signer.isValid(signature: signature, url: Self.docURL, parameters: parameters))

        #expect(!signer.isValid(signature: signature, url: "https://mycompany.com/myapp.php?foo=1&bar=3", parameters: parameters))
        #expect(!signer.isValid(signature: signature, url: "http://mycompany.com/myapp.php?foo=1&bar=2", parameters: parameters))
        #expect(!signer.isValid(signature: "GvWf1cFY/Q7PnoempGyD5oXAezC=", url: Self.docURL, parameters: parameters))
        #expect(!signer.isValid(signature: "GvWf1cFY/Q7PnoempGyD5oXAez", url: Self.docURL, parameters: parameters))
        #expect(!signer.isValid(signature: "", url: Self.docURL, parameters: parameters))
        #expect(!TwilioSignature(authToken: "54321").isValid(signature: signature, url: Self.docURL, parameters: parameters))
        parameters[0].1 = "9999"
        #expect(!signer.isValid(signature: signature, url: Self.docURL, parameters: parameters))
        #expect(!signer.isValid(signature: signature, url: Self.docURL, parameters: Array(Self.docParameters(phone: "+14158675310").dropLast())))
        #expect(!signer.isValid(signature: signature, url: Self.docURL, parameters: Self.docParameters(phone: "+14158675310") + [("Extra", "")]))
    }

    @Test func jsonBodyVariant() {
        let signer = TwilioSignature(authToken: "secret-token")
        let body = #"{"CallSid":"CA1","Status":"completed"}"#
        // hashlib.sha256(body).hexdigest(); signature = sig("secret-token", url, [])
        let url = "https://example.com/status?bodySHA256=c8aa38215665bad5d18544d83a61d0220e18ee621b9a3a175fb9c63834ec7036"
        let signature = "1XxY9F6lWiMA5zofarEKdp9olKk="
        #expect(signer.isValid(signature: signature, url: url, body: body))
        #expect(signer.isValid(signature: signature, url: url.replacingOccurrences(of: "example.com", with: "example.com:443"), body: body))
        #expect(!signer.isValid(signature: signature, url: url, body: body + " "))
        #expect(!signer.isValid(signature: "1XxY9F6lWiMA5zofarEKdp9olKK=", url: url, body: body))
        #expect(!signer.isValid(signature: signature, url: "https://example.com/status", body: body))
        // A body hash that matches but a URL that was not what got signed.
        #expect(!signer.isValid(signature: signature, url: url + "&x=1", body: body))
    }
}

@Suite struct FormURLEncodedTests {
    @Test func parsesPlusPercentEmptyAndDuplicates() {
        let pairs = FormURLEncoded.parse("CallSid=CA1&From=%2B1555&Body=hello+w%C3%B6rld%21&Empty=&flag&&To=a&To=b&bad=%zz%4")
        let expected: [(String, String)] = [
            ("CallSid", "CA1"), ("From", "+1555"), ("Body", "hello wörld!"), ("Empty", ""), ("flag", ""),
            ("To", "a"), ("To", "b"), ("bad", "%zz%4"),
        ]
        #expect(pairs.map(\.0) == expected.map(\.0))
        #expect(pairs.map(\.1) == expected.map(\.1))
        #expect(FormURLEncoded.parse("").isEmpty)
        #expect(FormURLEncoded.parse("a=b=c").first! == ("a", "b=c"))
    }

    @Test func encodeRoundTrips() {
        let pairs: [(String, String)] = [("Body", "a b&c=d+e/é✓*-._~"), ("From", "+1555")]
        let encoded = FormURLEncoded.encode(pairs)
        #expect(encoded == "Body=a+b%26c%3Dd%2Be%2F%C3%A9%E2%9C%93*-._%7E&From=%2B1555")
        let decoded = FormURLEncoded.parse(encoded)
        #expect(decoded.map(\.0) == pairs.map(\.0))
        #expect(decoded.map(\.1) == pairs.map(\.1))
    }

    @Test func signatureOverAParsedBody() {
        // A form body as Twilio would post the documented example.
        let body = "CallSid=CA1234567890ABCDE&Caller=%2B14158675310&Digits=1234&From=%2B14158675310&To=%2B18005551212"
        let signer = TwilioSignature(authToken: "12345")
        #expect(signer.isValid(signature: "GvWf1cFY/Q7PnoempGyD5oXAezc=", url: TwilioSignatureTests.docURL, parameters: FormURLEncoded.parse(body)))
    }

    @Test func queryValue() {
        #expect(FormURLEncoded.queryValue(named: "bodySHA256", in: "https://h/p?a=1&bodySHA256=ab%63#frag") == "abc")
        #expect(FormURLEncoded.queryValue(named: "x", in: "https://h/p?a=1") == nil)
        #expect(FormURLEncoded.queryValue(named: "x", in: "https://h/p#x=1") == nil)
    }
}
