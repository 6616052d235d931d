import VoiceBridgeCarriers

/// Every carrier the server speaks. A carrier lives in its own folder under Carriers/ (its HTTP
/// surface and settings here, its dialect in VoiceBridgeCarriers); adding one adds a line to `all`.
enum CarrierRegistry {
    static let all: [CarrierRegistration] = [
        TwilioCarrier.registration,
        TelnyxCarrier.registration,
        SignalWireCarrier.registration,
        PlivoCarrier.registration,
        AsteriskCarrier.registration,
        VonageCarrier.registration,
        ExotelCarrier.registration,
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
    /// What the carrier's `audio` key may ask for, the first being the default; empty when the
    /// carrier has no choice (Twilio's μ-law). Byte order as the carrier's wire has it.
    let audioFormats: [MediaFormat]

    static let audioKey = "audio"

    init(
        section: String, keys: Set<String>, secrets: Set<String>, environment: [(name: String, key: String)],
        audioFormats: [MediaFormat] = []
    ) {
        self.section = section
        self.keys = audioFormats.isEmpty ? keys : keys.union([Self.audioKey])
        self.secrets = secrets
        self.environment = environment
        self.audioFormats = audioFormats
    }

    /// The format `name` (`l16_16000`) stands for on this carrier; nil if it offers no such format.
    func audioFormat(named name: String) -> MediaFormat? {
        audioFormats.first { $0.settingName == name.lowercased() }
    }
}

extension BridgeConfiguration {
    /// A carrier's setting, from its section or the environment.
    func carrierSetting(_ section: String, _ key: String) -> String? {
        carrierSettings[section]?[key]
    }

    /// The audio format the bridge asks `spec`'s carrier for: its `audio` setting, else its
    /// default. (`validated()` has refused names the carrier does not offer.)
    func carrierAudio(_ spec: CarrierSettingsSpec) -> MediaFormat {
        carrierSetting(spec.section, CarrierSettingsSpec.audioKey).flatMap(spec.audioFormat(named:))
            ?? spec.audioFormats.first ?? .mulaw8kMono
    }

    /// Refuses an `audio` setting its carrier does not offer, naming the ones it does.
    func validateCarrierAudio() throws(ConfigurationError) {
        for spec in CarrierRegistry.all.compactMap(\.settings) {
            guard let name = carrierSetting(spec.section, CarrierSettingsSpec.audioKey) else { continue }
            if spec.audioFormat(named: name) == nil {
                let offered = spec.audioFormats.map(\.settingName).joined(separator: ", ")
                throw ConfigurationError("\(spec.section).\(CarrierSettingsSpec.audioKey): \"\(name)\" is not a format \(spec.section) streams; use one of \(offered)")
            }
        }
    }
}
