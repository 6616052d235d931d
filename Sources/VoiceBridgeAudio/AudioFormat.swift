/// The telephony sample formats the bridge moves around.
public enum G711Law: String, Sendable, CaseIterable {
    case ulaw
    case alaw

    /// The byte that decodes to (near) zero: what a partial frame is padded with.
    public var silenceByte: UInt8 {
        switch self {
        case .ulaw: 0xFF
        case .alaw: 0xD5
        }
    }
}
