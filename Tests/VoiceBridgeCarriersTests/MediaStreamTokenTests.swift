import Testing
import VoiceBridgeAudio
import VoiceBridgeCarriers

@Suite struct MediaStreamTokenTests {
    static let secret = Array(0..<32).map(UInt8.init)
    static let nonce = Array(100..<116).map(UInt8.init)
    let minter = MediaStreamTokenMinter(secret: MediaStreamTokenTests.secret)

    @Test func layoutMatchesAnIndependentComputation() throws {
        // Python:
        //   body = b'\x01' + struct.pack('>q', 1700000000) + bytes([16]) + bytes(range(100,116)) + callSid
        //   mac = hmac.new(bytes(range(32)), b"voicebridge.media-stream-token.v1\0" + body, hashlib.sha256).digest()
        //   base64.urlsafe_b64encode(body + mac).rstrip(b'=')
        let token = minter.mint(callSid: sampleCallSid, expiresAt: 1_700_000_000, nonce: Self.nonce)
        #expect(token == "AQAAAABlU_EAEGRlZmdoaWprbG1ub3BxcnNDQTAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmvSn0tBxVRghIkgO2rRx0O7xsFCT7eUVdhE-fSXt8uCk")
        let verified = try minter.verify(token, now: 1_699_999_000)
        #expect(verified == VerifiedToken(callSid: sampleCallSid, expiresAt: 1_700_000_000, nonceID: "ZGVmZ2hpamtsbW5vcHFycw"))
    }

    @Test func tokensAreURLPathSafe() {
        for _ in 0..<50 {
            let token = minter.mint(callSid: sampleCallSid, expiresAt: 2_000_000_000)
            #expect(token.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            })
        }
    }

    @Test func expiry() throws {
        let token = minter.mint(callSid: "CA1", expiresAt: 1000, nonce: [1])
        #expect(try minter.verify(token, now: 999).callSid == "CA1")
        #expect(throws: TokenError.expired) { try minter.verify(token, now: 1000) }
        #expect(throws: TokenError.expired) { try minter.verify(token, now: 5000) }
    }

    @Test func tamperingIsDetected() throws {
        let token = minter.mint(callSid: sampleCallSid, expiresAt: 2_000_000_000, nonce: Self.nonce)
        #expect(throws: TokenError.badSignature) {
            try MediaStreamTokenMinter(secret: Array(repeating: 7, count: 32)).verify(token, now: 0)
        }
        // Flipping any one character changes the decoded bytes; the MAC must catch it (or the
        // shape check, for the version and length bytes).
        let characters = Array(token)
        for index in characters.indices {
            var changed = characters
            changed[index] = changed[index] == "A" ? "B" : "A"
            do {
                _ = try minter.verify(String(changed), now: 0)
                Issue.record("accepted a token changed at \(index)")
            } catch {
                #expect(error == .badSignature || error == .malformed)
            }
        }
        // Same MAC, another call: the MAC covers the callSid.
        var bytes = Base64Fast.decodeURLSafe(token)!
        bytes[bytes.count - 33] ^= 1
        #expect(throws: TokenError.badSignature) { try minter.verify(Base64Fast.encodeURLSafe(bytes), now: 0) }
    }

    @Test(arguments: ["", "!!!!", "AQ", "abc=", "a+b/", String(repeating: "A", count: 600)])
    func malformedTokens(_ token: String) {
        #expect(throws: TokenError.malformed) { try minter.verify(token, now: 0) }
    }

    @Test func truncatedTokensAreRefused() {
        let token = minter.mint(callSid: sampleCallSid, expiresAt: 2_000_000_000, nonce: Self.nonce)
        for length in 0..<token.count {
            do {
                _ = try minter.verify(String(token.prefix(length)), now: 0)
                Issue.record("accepted a \(length)-character prefix")
            } catch {
                #expect(error == .badSignature || error == .malformed)
            }
        }
    }

    @Test func randomNoncesDiffer() throws {
        let a = try minter.verify(minter.mint(callSid: "CA1", expiresAt: 100), now: 0)
        let b = try minter.verify(minter.mint(callSid: "CA1", expiresAt: 100), now: 0)
        #expect(a.nonceID != b.nonceID)
        let random = SecureRandom.bytes(32)
        #expect(random.count == 32)
        #expect(random != SecureRandom.bytes(32))
        #expect(SecureRandom.bytes(0).isEmpty)
    }

    @Test func singleUseWithTheRegistry() throws {
        var registry = UsedTokenRegistry()
        let token = minter.mint(callSid: "CA1", expiresAt: 1000, nonce: [9, 9])
        let verified = try minter.verify(token, now: 10)
        let consumed1 = registry.consume(verified.nonceID, expiresAt: verified.expiresAt, now: 10)
        #expect(consumed1)
        let consumed2 = registry.consume(verified.nonceID, expiresAt: verified.expiresAt, now: 11)
        #expect(!consumed2)
        #expect(throws: TokenError.expired) { try minter.verify(token, now: 1000) }
    }
}

@Suite struct UsedTokenRegistryTests {
    @Test func eachIdIsAcceptedOnce() {
        var registry = UsedTokenRegistry()
        let consumed3 = registry.consume("a", expiresAt: 100, now: 0)
        #expect(consumed3)
        let consumed4 = registry.consume("b", expiresAt: 100, now: 0)
        #expect(consumed4)
        let consumed5 = registry.consume("a", expiresAt: 100, now: 1)
        #expect(!consumed5)
        let consumed6 = registry.consume("a", expiresAt: 500, now: 1)
        #expect(!consumed6)
        #expect(registry.count == 2)
    }

    @Test func expiredTokensAreRefusedAndNotStored() {
        var registry = UsedTokenRegistry()
        let consumed7 = registry.consume("late", expiresAt: 100, now: 100)
        #expect(!consumed7)
        #expect(registry.count == 0)
    }

    @Test func entriesAreForgottenAtExpirySoMemoryStaysBounded() {
        var registry = UsedTokenRegistry()
        // Hours of tokens that each live 60 s, one per second: never more than 60 are kept.
        var peak = 0
        var accepted = 0
        for second in Int64(0)..<10_000 {
            if registry.consume("t\(second)", expiresAt: second + 60, now: second) { accepted += 1 }
            peak = max(peak, registry.count)
        }
        #expect(accepted == 10_000)
        #expect(peak <= 60)
        registry.forgetExpired(now: 1_000_000)
        #expect(registry.count == 0)
    }

    @Test func expiryOrderIsRespectedWhateverTheInsertionOrder() {
        var registry = UsedTokenRegistry()
        var random = SplitMix64(seed: 3)
        var expiries: [String: Int64] = [:]
        for index in 0..<1000 {
            let expiry = Int64.random(in: 1...10_000, using: &random)
            expiries["id\(index)"] = expiry
            let consumed8 = registry.consume("id\(index)", expiresAt: expiry, now: 0)
            #expect(consumed8)
        }
        for now in stride(from: Int64(0), through: 10_000, by: 500) {
            registry.forgetExpired(now: now)
            #expect(registry.count == expiries.values.filter { $0 > now }.count)
        }
        // Still-live ids stay refused until they expire.
        var fresh = UsedTokenRegistry()
        let consumed9 = fresh.consume("x", expiresAt: 50, now: 0)
        #expect(consumed9)
        let consumed10 = fresh.consume("y", expiresAt: 10, now: 0)
        #expect(consumed10)
        let consumed11 = fresh.consume("x", expiresAt: 50, now: 20)
        #expect(!consumed11)
    }

    @Test func aFullRegistryRefusesRatherThanEvicts() {
        var registry = UsedTokenRegistry(capacity: 2)
        let consumed12 = registry.consume("a", expiresAt: 100, now: 0)
        #expect(consumed12)
        let consumed13 = registry.consume("b", expiresAt: 100, now: 0)
        #expect(consumed13)
        let consumed14 = registry.consume("c", expiresAt: 100, now: 0)
        #expect(!consumed14)
        let consumed15 = registry.consume("a", expiresAt: 100, now: 0)
        #expect(!consumed15)
        let consumed16 = registry.consume("c", expiresAt: 200, now: 100)
        #expect(consumed16)
    }
}
