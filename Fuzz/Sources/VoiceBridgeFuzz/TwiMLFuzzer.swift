import VoiceBridgeCarriers

/// The XML the phone simulator reads (TwiML, Plivo XML, Telnyx TeXML; one XML reader behind all
/// three, in VoiceBridgeCarriers) and Vonage's NCCO (JSON).
///
/// Property: render → parse is a fixed point after one round. Whatever was read, the bridge's own
/// renderer writes it in a form that reads back (no escaping gap), and reading that again changes
/// nothing (normalization such as trimming or U+FFFD for control characters happens once).
enum TwiMLFuzzer {
    static func run(_ bytes: UnsafeRawBufferPointer) {
        let text = bytes.lossyText

        if let verbs = try? TwiMLDocument.parse(text) {
            let once = reparse(verbs, "TwiML")
            require(reparse(once, "TwiML") == once, "TwiML render → parse is not a fixed point: \(once)")
        }
        if let plivo = try? PlivoStreamXML.parse(text) {
            let once = reparse(plivo.render(), PlivoStreamXML.parse, "Plivo XML")
            require(reparse(once.render(), PlivoStreamXML.parse, "Plivo XML") == once, "Plivo XML render → parse is not a fixed point: \(once)")
        }
        if let telnyx = try? TelnyxConnectStream.parse(text) {
            let once = reparse(telnyx.render(), TelnyxConnectStream.parse, "TeXML")
            require(reparse(once.render(), TelnyxConnectStream.parse, "TeXML") == once, "TeXML render → parse is not a fixed point: \(once)")
        }
        if let ncco = try? VonageConnectWebSocket.parse(text) {
            let once = reparse(ncco.render(), VonageConnectWebSocket.parse, "NCCO")
            require(reparse(once.render(), VonageConnectWebSocket.parse, "NCCO") == once, "NCCO render → parse is not a fixed point: \(once)")
        }
    }

    static func reparse(_ verbs: [TwiMLVerb], _ what: String) -> [TwiMLVerb] {
        let document = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>" + verbs.map { $0.render() }.joined() + "</Response>"
        return reparse(document, TwiMLDocument.parse, what)
    }

    static func reparse<Value, Failure: Error>(_ rendered: String, _ parse: (String) throws(Failure) -> Value, _ what: String) -> Value {
        do {
            return try parse(rendered)
        } catch {
            fail("\(what) the bridge rendered does not parse (\(error)): \(rendered.debugDescription)")
        }
    }
}
