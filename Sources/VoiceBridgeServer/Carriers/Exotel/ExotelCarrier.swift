import VoiceBridgeCarriers

/// Exotel's Voicebot applet: no webhook and no markup. The applet's URL is
/// `wss://USER:PASSWORD@<public>/exotel/media?sample-rate=8000` (Exotel sends the credentials as
/// HTTP Basic); its query parameters become flow variables. When the bridge closes the socket
/// the flow's next applet runs, so transfers are Exotel's flow's to make.
enum ExotelCarrier {
    /// `audio` matches the applet's `sample-rate` (and the beta's μ-law): `start.media_format`
    /// decides the stream's format, this picks what ElevenLabs is asked for.
    static let settings = CarrierSettingsSpec(
        section: "exotel", keys: ["username", "password"], secrets: ["password"],
        environment: [(name: "EXOTEL_WS_USERNAME", key: "username"), (name: "EXOTEL_WS_PASSWORD", key: "password")],
        audioFormats: ExotelDialect.rules.supportedFormats)
    static let registration = CarrierRegistration(settings: settings, surface: surface)

    static let mediaPath = "/exotel/media"

    static func surface(_ services: CarrierServices) -> CarrierSurface {
        .direct(ExotelDialect.self, path: mediaPath, settings: settings, services: services)
    }
}
