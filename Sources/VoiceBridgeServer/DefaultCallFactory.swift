import Logging

/// The call behind each media socket when `serve` is not told otherwise.
enum DefaultCallFactory {
    static func make(configuration: BridgeConfiguration, logger: Logger) -> MediaCallFactory {
        // TEMPORARY until VoiceBridgeCalls lands: a call that listens and says nothing.
        { _, _ in SilentCall() }
    }
}

/// TEMPORARY stand-in (see DefaultCallFactory).
final class SilentCall: MediaCall {
    func receive(_ event: CarrierEvent) {}
    func socketClosed() {}
    func statusCallback(_ status: String) {}
    func shutdown() {}
}
