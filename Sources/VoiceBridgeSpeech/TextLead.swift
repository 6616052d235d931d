/// Just-in-time text (`elevenlabs.text_lead_ms`): when a service is too slow for the lead.
enum TextLead {
    /// Text released when the audio ahead of the caller falls to the lead must arrive before that
    /// audio runs out, so the lead must beat the service's time to first audio with some margin.
    /// Under a second it is never called slow: a busy machine's hiccup is not a slow service.
    static func tooSlow(firstAudioAfter ttfb: Duration, lead: Duration) -> Bool {
        lead > .zero && ttfb >= .seconds(1) && ttfb >= lead * 0.75
    }
}
