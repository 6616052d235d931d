import HTTPTypes
import VoiceBridgeCarriers

/// SignalWire through cXML, which keeps Twilio's HTTP conventions: the voice webhook answers
/// `<Connect action><Stream>`, signed with the project's Signing Key in `X-SignalWire-Signature`
/// (`X-Twilio-Signature` on compatibility callbacks; carriers.md §3.3), media sockets connect at
/// `/signalwire/media/{token}` (the upgrade's own credentials are unverified in SignalWire's
/// docs, so the one-time token is the credential), and status callbacks end calls.
///
/// Point the number's voice URL at `https://<public>/signalwire/cxml` and its status callback
/// at `https://<public>/signalwire/status`.
enum SignalWireCarrier {
    static let registration = CarrierRegistration(
        settings: CarrierSettingsSpec(
            section: "signalwire", keys: ["signing_key"], secrets: ["signing_key"],
            environment: [(name: "SIGNALWIRE_SIGNING_KEY", key: "signing_key")]),
        surface: surface)

    static let profile = TwilioStyleProfile(
        carrier: SignalWireDialect.name, answerPath: "/signalwire/cxml", statusPath: "/signalwire/status",
        connectActionPath: "/signalwire/connect-action", mediaPrefix: "/signalwire/media/",
        signatureHeaders: [HTTPField.Name("X-SignalWire-Signature")!, HTTPField.Name("X-Twilio-Signature")!])

    static func surface(_ services: CarrierServices) -> CarrierSurface {
        let verifier = TwilioRequestVerifier(
            authToken: services.configuration.carrierSetting("signalwire", "signing_key"), publicURL: services.publicURL,
            mediaPrefix: profile.mediaPrefix)
        let routes = TwilioHTTPRoutes(services: services, verifier: verifier, profile: profile)
        return CarrierSurface(dialect: SignalWireDialect.self, mediaPrefix: profile.mediaPrefix, registerRoutes: { routes.register(on: $0) })
    }
}
