import NIOConcurrencyHelpers
import Prometheus
import VoiceBridgeCalls
import VoiceBridgeSpeech

/// The server's Prometheus metrics, exported at `/metrics`.
///
/// Each server owns its registry (no global `MetricsSystem.bootstrap`), so several servers can run
/// in one process, as the tests do. Counters and gauges are atomics inside swift-prometheus;
/// histograms take a lock per observation, which is why per-frame observations are batched per
/// call (`CallMetricsObserver`) and reach the shared histogram about once a second per call.
public final class BridgeMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    let activeCalls: Gauge
    let callsStarted: Counter
    let framesSent: Counter
    let frameGap: DurationHistogram
    let firstAudioLatency: DurationHistogram
    let bargeInLatency: DurationHistogram
    let bargeInsAccepted: Counter
    let bargeInsRejected: Counter
    let webhooks: Counter
    let refusedSignatures: Counter
    /// CPU the live console spends reading calls and writing its events: zero while no page is open.
    let consoleCPU: Counter
    /// Speech characters by kind, flow and voice.
    private let speechCharacters = NIOLockedValueBox<[SpeechCostLabels: Counter]>([:])
    /// Flow and voice pairs are few (a flow names its voice; a relay app picks one of a handful),
    /// but a relay app could name a new voice per call: past this many, they count as "other".
    static let maxSpeechCostSeries = 256

    /// Error kinds seen so far. Labels come from code, not input, but are still capped so a bug
    /// can't grow the registry without bound.
    private let errorKinds = NIOLockedValueBox<[String: Counter]>([:])
    private let endReasons = NIOLockedValueBox<[String: Counter]>([:])
    static let maxErrorKinds = 64

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        activeCalls = registry.makeGauge(descriptor: .bridge("active_calls", "", "Media sockets with a live call."))
        callsStarted = registry.makeCounter(descriptor: .bridge("calls_started", "total", "Calls whose stream started."))
        framesSent = registry.makeCounter(descriptor: .bridge("frames_sent", "total", "Media frames sent to carriers."))
        frameGap = registry.makeDurationHistogram(
            descriptor: .bridge("frame_gap", "seconds", "Time between consecutive outbound frames of a call."),
            buckets: [1, 5, 10, 15, 19, 20, 21, 25, 30, 40, 60, 100, 250].map { Duration.milliseconds($0) }
        )
        firstAudioLatency = registry.makeDurationHistogram(
            descriptor: .bridge("first_audio_latency", "seconds", "From a prompt's request to its first outbound frame."),
            buckets: [50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000].map { Duration.milliseconds($0) }
        )
        bargeInLatency = registry.makeDurationHistogram(
            descriptor: .bridge("barge_in_latency", "seconds", "From the caller's speech or key press to the clear."),
            buckets: [10, 25, 50, 100, 150, 200, 300, 500, 750, 1000, 2000].map { Duration.milliseconds($0) }
        )
        let bargeIns = MetricNameDescriptor.bridge("barge_ins", "total", "Interruptions by outcome.")
        bargeInsAccepted = registry.makeCounter(descriptor: bargeIns, labels: [("accepted", "true")])
        bargeInsRejected = registry.makeCounter(descriptor: bargeIns, labels: [("accepted", "false")])
        webhooks = registry.makeCounter(descriptor: .bridge("webhooks", "total", "Voice webhooks answered with TwiML."))
        consoleCPU = registry.makeCounter(
            descriptor: .bridge("console_cpu", "seconds_total", "CPU time the live console spent reading calls (on their loops) and writing its events."))
        refusedSignatures = registry.makeCounter(
            descriptor: .bridge("signature_failures", "total", "Requests whose carrier signature (X-Twilio-Signature, Telnyx Ed25519) did not verify.")
        )
    }

    func recordRefusedSignature() { refusedSignatures.increment() }

    /// Adds one call's speech cost to `voicebridge_speech_characters_total{kind,flow,voice}`.
    /// Voices that sent nothing (the offline voice, cache hits only) add no series.
    func recordSpeechCost(_ cost: SpeechCost, flow: String) {
        for (voice, characters) in cost.byVoice.sorted(by: { $0.key < $1.key }) where characters.sent > 0 {
            for (kind, value) in [("sent", characters.sent), ("heard", characters.heard), ("wasted", characters.wasted)] {
                speechCounter(SpeechCostLabels(kind: kind, flow: flow, voice: voice)).increment(by: Int64(value))
            }
        }
    }

    private func speechCounter(_ labels: SpeechCostLabels) -> Counter {
        let labels = SpeechCostLabels(kind: labels.kind, flow: Self.labelValue(labels.flow), voice: Self.labelValue(labels.voice))
        return speechCharacters.withLockedValue { counters in
            if let counter = counters[labels] { return counter }
            let key = counters.count < Self.maxSpeechCostSeries * 3 ? labels : SpeechCostLabels(kind: labels.kind, flow: "other", voice: "other")
            if let counter = counters[key] { return counter }
            let counter = registry.makeCounter(
                descriptor: .bridge(
                    "speech_characters", "total",
                    "Characters of text sent to the speech service, those heard, and those paid for but never heard (sent = heard + wasted), by flow and voice."),
                labels: [("kind", key.kind), ("flow", key.flow), ("voice", key.voice)])
            counters[key] = counter
            return counter
        }
    }

    /// A flow or voice name as a label value: case kept (voice ids are case-sensitive), anything
    /// but letters, digits and `_.+-` replaced, at most 64 characters.
    static func labelValue(_ value: String) -> String {
        var out = ""
        for scalar in value.unicodeScalars.prefix(64) {
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "_", ".", "+", "-": out.unicodeScalars.append(scalar)
            default: out += "_"
            }
        }
        return out.isEmpty ? "unknown" : out
    }
    func recordWebhook() { webhooks.increment() }

    /// Counts an error by kind (`voicebridge_errors_total{kind="..."}`).
    public func recordError(kind: String) {
        counter(in: errorKinds, .bridge("errors", "total", "Errors by kind."), label: "kind", value: kind)
            .increment()
    }

    func recordCallEnded(reason: String) {
        counter(in: endReasons, .bridge("calls_ended", "total", "Ended calls by reason."), label: "reason", value: reason)
            .increment()
    }

    private func counter(
        in box: NIOLockedValueBox<[String: Counter]>,
        _ descriptor: MetricNameDescriptor,
        label: String,
        value: String
    ) -> Counter {
        let value = Self.sanitizedLabel(value)
        return box.withLockedValue { counters in
            if let counter = counters[value] { return counter }
            let key = counters.count < Self.maxErrorKinds ? value : "other"
            if let counter = counters[key] { return counter }
            let counter = registry.makeCounter(descriptor: descriptor, labels: [(label, key)])
            counters[key] = counter
            return counter
        }
    }

    /// Lower-case letters, digits and underscores, at most 48 characters.
    static func sanitizedLabel(_ value: String) -> String {
        var out = ""
        for scalar in value.unicodeScalars.prefix(48) {
            switch scalar {
            case "a"..."z", "0"..."9", "_": out.unicodeScalars.append(scalar)
            case "A"..."Z": out += String(scalar).lowercased()
            default: out += "_"
            }
        }
        return out.isEmpty ? "unknown" : out
    }

    private let speechCacheBox = NIOLockedValueBox<(cache: SpeechCache, gauges: [Gauge])?>(nil)

    /// Exports the speech cache's figures at every scrape: `voicebridge_speech_cache_{hits,misses,evictions,bytes,entries}`.
    func observe(_ cache: SpeechCache) {
        let help = [
            ("hits", "Utterances played from the speech cache (no synthesis)."),
            ("misses", "Whole-text utterances the speech cache did not hold."),
            ("evictions", "Utterances dropped to keep the speech cache within its bound."),
            ("bytes", "Audio bytes held by the speech cache."), ("entries", "Utterances held by the speech cache."),
        ]
        let gauges = help.map { registry.makeGauge(descriptor: .bridge("speech_cache_" + $0.0, "", $0.1)) }
        speechCacheBox.withLockedValue { $0 = (cache, gauges) }
    }

    /// Prometheus text exposition (format 0.0.4).
    public func render(activeCallCount: Int, placement: LoopPlacement? = nil) -> String {
        activeCalls.set(Double(activeCallCount))
        if let (cache, gauges) = speechCacheBox.withLockedValue({ $0 }) {
            let s = cache.statistics
            for (gauge, value) in zip(gauges, [s.hits, s.misses, s.evictions, s.bytes, s.entries]) { gauge.set(Double(value)) }
        }
        if let placement {
            let gauges = loopGauges(count: placement.loops.count)
            for (i, calls) in placement.callsPerLoop.enumerated() { gauges.calls[i].set(Double(calls)) }
            for (i, open) in placement.connectionsPerLoop.enumerated() { gauges.connections[i].set(Double(open)) }
        }
        return registry.emitToString()
    }

    private let loopGaugeBox = NIOLockedValueBox<(calls: [Gauge], connections: [Gauge])?>(nil)

    /// `voicebridge_loop_calls{loop="i"}` and `voicebridge_loop_connections{loop="i"}`, made once.
    private func loopGauges(count: Int) -> (calls: [Gauge], connections: [Gauge]) {
        loopGaugeBox.withLockedValue { box in
            if let box, box.calls.count == count { return box }
            let calls = (0..<count).map {
                registry.makeGauge(descriptor: .bridge("loop_calls", "", "Live calls on each event loop."), labels: [("loop", "\($0)")])
            }
            let connections = (0..<count).map {
                registry.makeGauge(
                    descriptor: .bridge("loop_connections", "", "Open connections (HTTP and media) on each event loop."),
                    labels: [("loop", "\($0)")])
            }
            box = (calls, connections)
            return (calls, connections)
        }
    }
}

/// Feeds one call's observations into `BridgeMetrics`. Confined to the call's event loop like the
/// call itself, so the per-frame path is two integer adds and an array store: no lock, no
/// allocation. Frames and gaps are flushed to the shared metrics every `flushEvery` frames and
/// when the call ends.
public final class CallMetricsObserver: CallObserver {
    private let metrics: BridgeMetrics
    private let flushEvery: Int
    private var pendingFrames = 0
    /// Gaps waiting to be recorded; capacity reserved once, never grown past `flushEvery`.
    private var pendingGaps: [Int64]
    private var started = false
    private var ended = false
    private var flow = "unknown"
    /// The call's console history, when the server has a console: verdicts go there too.
    var console: CallConsoleLog?

    public init(metrics: BridgeMetrics, flushEvery: Int = 50) {
        self.metrics = metrics
        self.flushEvery = max(1, flushEvery)
        self.pendingGaps = []
        self.pendingGaps.reserveCapacity(self.flushEvery)
    }

    public func callStarted() {
        guard !started else { return }
        started = true
        metrics.callsStarted.increment()
    }

    public func frameSent(gapNanos: Int64?) {
        pendingFrames &+= 1
        if let gapNanos { pendingGaps.append(gapNanos) }
        if pendingFrames >= flushEvery || pendingGaps.count >= flushEvery { flush() }
    }

    // swift-prometheus traps on a negative duration; a metric must never take the server down.
    public func firstAudio(latencyNanos: Int64) {
        metrics.firstAudioLatency.record(.nanoseconds(max(0, latencyNanos)))
    }

    public func bargeIn(latencyNanos: Int64, accepted: Bool, reason: String) {
        console?.noteBargeIn(accepted: accepted, reason: reason)
        if accepted {
            metrics.bargeInsAccepted.increment()
            metrics.bargeInLatency.record(.nanoseconds(max(0, latencyNanos)))
        } else {
            metrics.bargeInsRejected.increment()
        }
    }

    public func error(kind: String) {
        metrics.recordError(kind: kind)
    }

    /// The flow the call runs, for the labels of what it costs.
    public func flowChosen(_ name: String) { flow = name }

    public func speechCost(_ cost: SpeechCost) {
        metrics.recordSpeechCost(cost, flow: flow)
    }

    public func callEnded(_ reason: CallEndReason) {
        flush()
        guard !ended else { return }
        ended = true
        metrics.recordCallEnded(reason: reason.metricLabel)
    }

    /// Moves the batched frame count and gaps into the shared metrics.
    public func flush() {
        if pendingFrames > 0 {
            metrics.framesSent.increment(by: Int64(pendingFrames))
            pendingFrames = 0
        }
        var i = 0  // An index loop: a debug build allocates for a `for … in` over the array.
        while i < pendingGaps.count {
            metrics.frameGap.record(.nanoseconds(max(0, pendingGaps[i])))
            i += 1
        }
        pendingGaps.removeAll(keepingCapacity: true)
    }
}

extension CallEndReason {
    /// A bounded label value for `voicebridge_calls_ended_total`.
    var metricLabel: String {
        switch self {
        case .carrierStop: "carrier_stop"
        case .socketClosed: "socket_closed"
        case .statusCallback: "status_callback"
        case .hangUp: "hang_up"
        case .redirect: "redirect"
        case .protocolError: "protocol_error"
        case .serverShutdown: "server_shutdown"
        case .drained: "drained"
        }
    }
}

extension MetricNameDescriptor {
    /// `voicebridge_<name>_<unit>`.
    fileprivate static func bridge(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "voicebridge", metricName: name, unitName: unit, helpText: help)
    }
}

struct SpeechCostLabels: Hashable, Sendable {
    var kind: String
    var flow: String
    var voice: String
}
