import Hummingbird
import Logging
import NIOHTTP1
import VoiceBridgeCarriers

/// Asterisk through `chan_websocket`: no webhook and no markup. A `websocket_client` connects
/// per call to `ws(s)://<public>/asterisk/media` (its `v(k=v,…)` URI parameters become flow
/// variables) and is admitted by HTTP Basic credentials when `asterisk.password` is set.
///
/// Transfers are the dialplan's: when the bridge ends the stream, `Dial()` returns and the
/// dialplan goes on; a flow's transfer target is logged, not dialled.
enum AsteriskCarrier {
    /// `audio` names the codec of the dialplan's `c(…)`: Asterisk's `MEDIA_START` decides the
    /// stream's format, this only picks what ElevenLabs is asked for so that it passes through.
    static let settings = CarrierSettingsSpec(
        section: "asterisk", keys: ["username", "password"], secrets: ["password"],
        environment: [(name: "ASTERISK_WS_USERNAME", key: "username"), (name: "ASTERISK_WS_PASSWORD", key: "password")],
        audioFormats: AsteriskDialect.rules.supportedFormats)
    static let registration = CarrierRegistration(settings: settings, surface: surface)

    static let mediaPath = "/asterisk/media"

    static func surface(_ services: CarrierServices) -> CarrierSurface {
        let password = services.configuration.carrierSetting("asterisk", "password")
        let credentials = password.map {
            BasicCredentials(username: services.configuration.carrierSetting("asterisk", "username") ?? "", password: $0)
        }
        if credentials == nil {
            services.logger.notice("asterisk.password is unset: anyone who reaches /asterisk/media can open a call")
        }
        return CarrierSurface(
            dialect: AsteriskDialect.self,
            mediaPrefix: mediaPath,
            directPath: mediaPath,
            mediaFormat: services.configuration.carrierAudio(settings),
            checkUpgrade: { _, headers in
                guard let credentials else { return .accepted }
                return credentials.accepts(headers.first(name: "Authorization"))
                    ? .accepted : .badSignature("Asterisk's upgrade does not carry the configured Basic credentials")
            },
            registerRoutes: { router in
                router.get(RouterPath(mediaPath)) { _, _ in
                    CarrierServices.plain(.badRequest, "media streams need a WebSocket upgrade")
                }
            })
    }
}
