/// Every carrier the server speaks. A carrier lives in its own folder under Carriers/ (its HTTP
/// surface and settings here, its dialect in VoiceBridgeCarriers); adding one adds a line to `all`.
enum CarrierRegistry {
    static let all: [CarrierRegistration] = [
        TwilioCarrier.registration,
        TelnyxCarrier.registration,
        SignalWireCarrier.registration,
        PlivoCarrier.registration,
        AsteriskCarrier.registration,
    ]

    static func settings(forSection section: String) -> CarrierSettingsSpec? {
        all.lazy.compactMap(\.settings).first { $0.section == section }
    }
}

/// One carrier's entry in the registry.
struct CarrierRegistration: Sendable {
    /// Its section in config/voicebridge.yaml; nil when its settings live elsewhere (Twilio's
    /// predate the registry and keep their place).
    let settings: CarrierSettingsSpec?
    let surface: @Sendable (CarrierServices) -> CarrierSurface
}

/// The settings a carrier reads from its config section and the environment.
struct CarrierSettingsSpec: Sendable {
    let section: String
    let keys: Set<String>
    /// Keys whose values never reach a log or a recording.
    let secrets: Set<String>
    /// Environment variables overriding keys: `TELNYX_PUBLIC_KEY` → `public_key`.
    let environment: [(name: String, key: String)]
}

extension BridgeConfiguration {
    /// A carrier's setting, from its section or the environment.
    func carrierSetting(_ section: String, _ key: String) -> String? {
        carrierSettings[section]?[key]
    }
}
