import Foundation
import NIOCore
import Testing
import VoiceBridgeAudio
import VoiceBridgeCarriers

@Suite struct Base64FastTests {
    @Test func encodeMatchesFoundationForRandomInputs() {
        var random = SplitMix64(seed: 0xB64)
        for length in 0..<300 {
            let input = random.bytes(length)
            let expected = Data(input).base64EncodedString()
            #expect(Base64Fast.encode(input) == expected, "length \(length)")

            var output = ByteBuffer()
            input.withUnsafeBytes { Base64Fast.encode($0, into: &output) }
            #expect(text(output) == expected, "length \(length)")
        }
    }

    @Test func decodeMatchesFoundationForRandomInputs() {
        var random = SplitMix64(seed: 0x64B)
        for _ in 0..<500 {
            let input = random.bytes(Int.random(in: 0...400, using: &random))
            let encoded = Data(input).base64EncodedString()
            #expect(Base64Fast.decode(encoded) == input)
            #expect(Data(base64Encoded: encoded).map(Array.init) == input)

            var output = ByteBuffer(string: "keep")
            let valid = Array(encoded.utf8).withUnsafeBytes { Base64Fast.decode($0, into: &output) }
            #expect(valid)
            #expect(bytes(output) == Array("keep".utf8) + input, "decode appends")
        }
    }

    @Test func knownVectors() {
        // RFC 4648 §10 test vectors.
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            #expect(Base64Fast.encode(Array(plain.utf8)) == encoded)
            #expect(Base64Fast.decode(encoded) == Array(plain.utf8))
        }
        #expect(Base64Fast.encode([0, 1, 2, 0xFB, 0xFF, 0xBF]) == "AAEC+/+/")
        #expect(Base64Fast.decode(silencePayloadBase64) == [UInt8](repeating: 0xFF, count: 160))
    }

    @Test(arguments: ["abc", "ab=c", "a===", "====", "ab c", "ab\nc", "@@@@", "ab==cd==", "Zm9v=", "Zg=", "Zm9-", "Zm9_", "Zg==Zg=="])
    func rejectsInvalidInput(_ input: String) {
        #expect(Base64Fast.decode(input) == nil)
        // Foundation on Linux accepts a few of these (padding in the middle, a lone '=' quad,
        // surplus padding); a carrier payload like that is malformed, so ours refuses them.
        if !["ab=c", "====", "Zm9v="].contains(input) {
            #expect(Data(base64Encoded: input) == nil, "Foundation agrees that \(input.debugDescription) is invalid")
        }
    }

    @Test func failedDecodeLeavesBufferContentUnchanged() {
        var output = ByteBuffer(string: "xy")
        let valid = Array("Zm9v!!!!".utf8).withUnsafeBytes { Base64Fast.decode($0, into: &output) }
        #expect(!valid)
        #expect(text(output) == "xy")
    }

    @Test func urlSafeRoundTripHasNoPaddingOrUnsafeCharacters() {
        var random = SplitMix64(seed: 7)
        for length in 0..<100 {
            let input = random.bytes(length)
            let encoded = Base64Fast.encodeURLSafe(input)
            #expect(encoded.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            })
            #expect(Base64Fast.decodeURLSafe(encoded) == input)
        }
        #expect(Base64Fast.encodeURLSafe([0xFB, 0xFF, 0xBF]) == "-_-_")
        #expect(Base64Fast.decodeURLSafe("-_-_") == [0xFB, 0xFF, 0xBF])
        #expect(Base64Fast.decodeURLSafe("+/+/") == nil)
        #expect(Base64Fast.decodeURLSafe("Zg==") == nil)
        #expect(Base64Fast.decodeURLSafe("Z") == nil)
    }
}

@Suite struct Base64URLSafeCanonicalTests {
    @Test func nonCanonicalTrailingBitsAreRefused() {
        // "Zg" is the canonical encoding of "f"; "Zh" decodes to the same byte with a stray bit.
        #expect(Base64Fast.decodeURLSafe("Zg") == Array("f".utf8))
        #expect(Base64Fast.decodeURLSafe("Zh") == nil)
    }
}
