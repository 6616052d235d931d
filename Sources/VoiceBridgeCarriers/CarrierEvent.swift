/// Placeholder until the Twilio codec lands; replaced by the carrier event model.
public enum CarrierDialect: String, Sendable {
    case twilio
}
