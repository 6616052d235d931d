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
        .direct(AsteriskDialect.self, path: mediaPath, settings: settings, services: services)
    }
}
