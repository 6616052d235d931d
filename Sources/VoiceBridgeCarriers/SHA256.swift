/// SHA-256 from libcrypto, as lowercase hex: the names of cache entries (prompts, speech) and
/// the checksums in the prompt manifest.
public enum SHA256 {
    public static func hex(_ bytes: [UInt8]) -> String {
        CryptoPrimitives.lowercaseHex(CryptoPrimitives.sha256(bytes))
    }
}
