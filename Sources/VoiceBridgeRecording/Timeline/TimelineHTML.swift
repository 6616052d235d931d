import Foundation

/// A `CallTimeline` as one self-contained HTML page: styles, script and both directions' audio
/// (WAV data: URIs) inline, so the file opens anywhere, offline, and a content security policy
/// forbids it to fetch anything.
///
/// Every item on the timeline is an element with `data-kind` and its times in `data-*-ms`
/// attributes, for browser tests and for anyone reading the DOM. Positions are CSS variables
/// (`--t`, `--d` in ms, `--px` pixels per ms), so the script zooms by changing one variable.
/// Every text from a recording (prompts, transcripts, reasons) is escaped: callers and apps write
/// them.
public enum TimelineHTML {
    /// Replays the recording at `path` and renders its timeline; what the server serves at
    /// `/console/recordings/<name>`.
    public static func page(recordingAt path: String, engine: ReplayEngine) throws -> String {
        let recording = try RecordedCall(contentsOf: path)
        return page(CallTimeline(try engine.replay(recording, path: path)))
    }

    public static func page(_ timeline: CallTimeline) -> String {
        var out = ""
        out.reserveCapacity(timeline.caller.samples.count * 6 + 100_000)
        out += """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; media-src data:; img-src data:">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <link rel="icon" href="data:,">
            <title>\(escape(timeline.name)) · VoiceBridge call timeline</title>
            <style>\(style)</style>
            </head>
            <body>

            """
        header(timeline, into: &out)
        players(timeline, into: &out)
        if let d = timeline.divergence { divergenceSummary(d, report: timeline.report, into: &out) }
        lanes(timeline, into: &out)
        log(timeline, into: &out)
        out += "<script>\(script)</script>\n</body>\n</html>\n"
        return out
    }

    // MARK: - Sections

    private static func header(_ t: CallTimeline, into out: inout String) {
        let verdictText = switch t.verdict {
        case .passed: "replays as recorded"
        case .failed: "diverges from the recording"
        case .noExpectations: "no expectations to compare"
        }
        out += #"<header><h1>\#(escape(t.name))</h1>"#
        out += #"<p class="summary"><span class="verdict \#(t.verdict.rawValue)" data-kind="verdict" data-verdict="\#(t.verdict.rawValue)">\#(verdictText)</span>"#
        out += " · flow <b>\(escape(t.flow))</b> · \(escape(t.dialect)) (\(escape(t.carrier)))"
        out += " · \(ms(t.durationMs / 1000)) s"
        out += " · prompts: \(t.prompts.count) · clears: \(t.clears.count) · keys: \(t.keys.count) · barge-in verdicts: \(t.bargeIns.count)"
        if let cost = t.cost { out += " · \(escape(cost))" }
        out += "</p></header>\n"
    }

    private static func players(_ t: CallTimeline, into out: inout String) {
        out += #"<section class="players">"#
        for (direction, title, audio) in [("caller", "Caller", t.caller), ("bridge", "Bridge", t.bridge)] {
            out += #"<label class="player \#(direction)">\#(title) "#
            out += #"<audio id="audio-\#(direction)" class="track-audio" data-kind="audio" data-direction="\#(direction)" data-duration-ms="\#(ms(audio.durationMs))" controls preload="auto" src="data:audio/wav;base64,"#
            out += Data(audio.wav).base64EncodedString()
            out += "\"></audio></label>"
        }
        out += #"<span class="zoom"><button type="button" id="zoom-out" title="Zoom out">−</button><button type="button" id="zoom-fit">Fit</button><button type="button" id="zoom-in" title="Zoom in">+</button> <span id="zoom-level"></span> <span id="clock">0 ms</span></span>"#
        out += "</section>\n"
    }

    private static func divergenceSummary(_ d: CallTimeline.DivergenceMark, report: String, into out: inout String) {
        out += #"<section class="divergence-summary"><h2>First divergence at outbound event #\#(d.number) (\#(ms(d.t)) ms)</h2>"#
        out += "<p>\(escape(d.reason))</p><ul>"
        out += "<li class=\"expected\">recorded: \(escape(d.expected ?? "(nothing)"))\(d.expectedMs.map { " at \(ms($0)) ms" } ?? "")</li>"
        out += "<li class=\"actual\">replayed: \(escape(d.actual ?? "(nothing)"))\(d.actualMs.map { " at \(ms($0)) ms" } ?? "")</li>"
        out += "</ul><pre>\(escape(report))</pre></section>\n"
    }

    private static func lanes(_ t: CallTimeline, into out: inout String) {
        out += #"<div class="scroller"><div id="timeline" class="timeline" data-duration-ms="\#(ms(t.durationMs))" style="--px:0.2;--dur:\#(ms(t.durationMs))">"#
        out += "\n"
        out += lane("Time (ms)", id: "axis", packed: false) { "" }

        out += lane("Caller audio", packed: false, extraClass: "wave-lane") {
            var s = ""
            s += waveform(t.caller, duration: t.durationMs, direction: "caller")
            for span in t.callerSpans {
                let label = span.kind == "speech-detected" ? "speech heard" : span.kind
                s += spanItem(kind: "caller-\(span.kind)", start: span.startMs, end: span.endMs, label: label, attributes: [:])
            }
            return s
        }
        out += lane("Caller: keys and transcripts", packed: true) {
            var s = ""
            for key in t.keys {
                s += pointItem(
                    kind: "dtmf", t: key.t, label: "key \(key.digit)\(key.inBand ? " (in band)" : "")",
                    attributes: ["digit": key.digit, "inband": String(key.inBand)])
            }
            for transcript in t.transcripts {
                s += pointItem(
                    kind: "transcript", t: transcript.t, label: "\(transcript.kind): \(transcript.text)",
                    attributes: ["stt-kind": transcript.kind, "text": transcript.text])
            }
            return s
        }

        if !t.relayMessages.isEmpty {
            out += lane("Relay app", packed: true) {
                var s = ""
                for m in t.relayMessages {
                    s += pointItem(
                        kind: "relay", t: m.t, label: "\(m.toApp ? "→" : "←") \(m.type)",
                        attributes: ["direction": m.toApp ? "to-app" : "from-app", "type": m.type, "text": m.text])
                }
                return s
            }
        }
        out += lane("Bridge audio", packed: false, extraClass: "wave-lane") {
            var s = ""
            s += waveform(t.bridge, duration: t.durationMs, direction: "bridge")
            return s
        }
        out += lane("Prompts", packed: true) {
            var s = ""
            for p in t.prompts {
                var attributes = [
                    "id": p.id, "text": p.text, "outcome": p.outcome.rawValue, "decided-ms": ms(p.decidedMs),
                    "streamed": String(p.streamed),
                ]
                if let i = p.interruptible { attributes["interruptible"] = i }
                if let h = p.heard { attributes["heard"] = h }
                if let turn = p.turn { attributes["turn"] = turn }
                s += spanItem(
                    kind: "prompt", start: p.startMs, end: p.endMs,
                    label: "\(p.id) (\(p.outcome.rawValue)): \(p.text.isEmpty ? "(audio, no text)" : p.text)",
                    attributes: attributes, extraClass: p.outcome.rawValue)
            }
            return s
        }
        out += lane("Words heard", packed: false, extraClass: "words") {
            var s = ""
            for p in t.prompts {
                for word in p.words {
                    s += spanItem(kind: "word", start: word.startMs, end: word.endMs, label: word.text, attributes: ["text": word.text, "prompt": p.id])
                }
            }
            return s
        }
        out += lane("Bridge: marks, clears, end", packed: true) {
            var s = ""
            for mark in t.marks {
                var attributes = ["name": mark.name]
                let echo: String
                switch mark.echo {
                case let .played(at):
                    attributes["echo"] = "played"
                    attributes["echo-ms"] = ms(at)
                    echo = "played at \(ms(at)) ms"
                case let .cleared(at):
                    attributes["echo"] = "cleared"
                    attributes["echo-ms"] = ms(at)
                    echo = "cleared at \(ms(at)) ms"
                case .none:
                    attributes["echo"] = "none"
                    echo = "never echoed"
                }
                s += pointItem(kind: "mark", t: mark.sentMs, label: "mark \(mark.name) · \(echo)", attributes: attributes, extraClass: attributes["echo"]!)
            }
            for clear in t.clears {
                s += pointItem(kind: "clear", t: clear, label: "clear", attributes: [:])
            }
            for end in t.ends {
                var attributes = ["reason": end.reason]
                if let code = end.closeCode { attributes["close-code"] = String(code) }
                let label = end.closeCode.map { "close \($0): \(end.reason)" } ?? "end: \(end.reason)"
                s += pointItem(kind: "end", t: end.t, label: label, attributes: attributes)
            }
            return s
        }

        out += lane("Barge-in verdicts", packed: true) {
            var s = ""
            for b in t.bargeIns {
                var attributes = ["verdict": b.accepted ? "accepted" : "rejected", "reason": b.reason]
                if let latency = b.latencyMs { attributes["latency-ms"] = ms(latency) }
                let label = "barge-in \(b.accepted ? "accepted" : "rejected"): \(b.reason)\(b.latencyMs.map { " (\(ms($0)) ms)" } ?? "")"
                s += pointItem(kind: "barge-in", t: b.t, label: label, attributes: attributes, extraClass: b.accepted ? "accepted" : "rejected")
            }
            return s
        }
        out += lane("Flow", packed: true) {
            var s = ""
            for run in repeats(t.flowSteps) {
                let step = run.first
                var label = step.detail.isEmpty ? step.step : "\(step.step) \(step.detail)"
                var attributes = ["step": step.step, "detail": step.detail]
                if run.count > 1 {
                    attributes["repeats"] = String(run.count)
                    attributes["last-ms"] = ms(run.lastMs)
                    label += " ×\(run.count) until \(ms(run.lastMs)) ms"
                }
                s += pointItem(kind: "flow", t: step.t, label: shortened(label), attributes: attributes, title: label)
            }
            return s
        }
        out += lane("Speech requests (upstream)", packed: true) {
            var s = ""
            for r in t.requests {
                var attributes = ["turn": r.turn, "text": r.text, "streamed": String(r.streamed)]
                if let s = r.source { attributes["source"] = s }
                if let ttfb = r.ttfbMs { attributes["ttfb-ms"] = ms(ttfb) }
                if let f = r.firstChunkMs { attributes["first-chunk-ms"] = ms(f) }
                if let d = r.doneMs { attributes["done-ms"] = ms(d) }
                if let c = r.cancelledMs { attributes["cancelled-ms"] = ms(c) }
                if let e = r.error { attributes["error"] = e }
                let ttfb = r.ttfbMs.map { "TTFB \(ms($0)) ms" } ?? "no audio"
                let label = "turn \(r.turn)\(r.streamed ? " (streamed)" : "") · \(ttfb)\(r.error.map { " · error: \($0)" } ?? ""): \(r.text)"
                s += spanItem(kind: "tts-request", start: r.t, end: r.endMs, label: shortened(label, to: 60), attributes: attributes, title: label)
            }
            return s
        }

        if let d = t.divergence {
            var attributes = ["number": String(d.number), "reason": d.reason]
            if let e = d.expected { attributes["expected"] = e }
            if let e = d.expectedMs { attributes["expected-ms"] = ms(e) }
            if let a = d.actual { attributes["actual"] = a }
            if let a = d.actualMs { attributes["actual-ms"] = ms(a) }
            out += pointItem(
                kind: "divergence", t: d.t, label: "first divergence #\(d.number): \(d.reason)", attributes: attributes,
                extraClass: "overlay")
        }
        out += #"<div id="playhead" class="playhead" style="--t:0" hidden></div>"#
        out += "</div></div>\n"
    }

    /// Every item but words and audio, in time order, as a table a person can read.
    private static func log(_ t: CallTimeline, into out: inout String) {
        var rows: [(t: Double, lane: String, text: String)] = []
        for k in t.keys { rows.append((k.t, "caller", "key \(k.digit)\(k.inBand ? " (in band)" : "")")) }
        for s in t.callerSpans { rows.append((s.startMs, "caller", "\(s.kind) until \(ms(s.endMs)) ms")) }
        for x in t.transcripts { rows.append((x.t, "speech-to-text", "\(x.kind): \(x.text)")) }
        for m in t.relayMessages { rows.append((m.t, m.toApp ? "to the relay app" : "from the relay app", m.text)) }
        for p in t.prompts {
            rows.append((p.startMs, "prompt", "\(p.id) starts: \(p.text)"))
            rows.append((p.endMs, "prompt", "\(p.id) \(p.outcome.rawValue)\(p.heard.map { "; heard: \($0)" } ?? "")"))
        }
        for m in t.marks { rows.append((m.sentMs, "bridge", "mark \(m.name) sent")) }
        for c in t.clears { rows.append((c, "bridge", "clear")) }
        for e in t.ends { rows.append((e.t, "bridge", e.closeCode.map { "close \($0): \(e.reason)" } ?? "end: \(e.reason)")) }
        for b in t.bargeIns { rows.append((b.t, "barge-in", "\(b.accepted ? "accepted" : "rejected"): \(b.reason)")) }
        for f in t.flowSteps { rows.append((f.t, "flow", "\(f.step) \(f.detail)")) }
        for r in t.requests {
            rows.append((r.t, "upstream", "turn \(r.turn) requested\(r.ttfbMs.map { ", first audio after \(ms($0)) ms" } ?? ""): \(r.text)"))
        }
        if let d = t.divergence { rows.append((d.t, "divergence", "#\(d.number): \(d.reason)")) }
        rows = rows.enumerated().sorted { ($0.element.t, $0.offset) < ($1.element.t, $1.offset) }.map(\.element)
        out += #"<section class="log"><h2>Events</h2><table><thead><tr><th>ms</th><th>where</th><th>what</th></tr></thead><tbody>"#
        for row in rows {
            out += "<tr><td>\(ms(row.t))</td><td>\(escape(row.lane))</td><td>\(escape(row.text))</td></tr>"
        }
        out += "</tbody></table></section>\n"
    }

    // MARK: - Pieces

    private static func lane(
        _ title: String, id: String? = nil, packed: Bool, extraClass: String = "", _ body: () -> String
    ) -> String {
        var out = #"<div class="lane \#(extraClass)"><div class="lane-title">\#(escape(title))</div>"#
        out += #"<div class="lane-body\#(packed ? " packed" : "")"\#(id.map { " id=\"\($0)\"" } ?? "")>"#
        out += body()
        out += "</div></div>\n"
        return out
    }

    /// `title`: the tooltip's text, when the label is a shortened form of it.
    private static func pointItem(
        kind: String, t: Double, label: String, attributes: [String: String], extraClass: String = "", title: String? = nil
    ) -> String {
        var s = #"<div class="event point \#(kind) \#(extraClass)" data-kind="\#(kind)" data-t-ms="\#(ms(t))""#
        s += dataAttributes(attributes)
        s += #" style="--t:\#(ms(t))" title="\#(escape("\(ms(t)) ms · \(title ?? label)"))"><span>\#(escape(label))</span></div>"#
        return s
    }

    /// A streamed answer sets its pacing timer every 30 ms: each step that comes back within a
    /// second of its last time is folded into its first, so the lane shows what the flow did.
    static func repeats(_ steps: [CallTimeline.FlowStep]) -> [(first: CallTimeline.FlowStep, count: Int, lastMs: Double)] {
        var runs: [(first: CallTimeline.FlowStep, count: Int, lastMs: Double)] = []
        struct Kind: Hashable {
            var step: String
            var detail: String
        }
        var open: [Kind: Int] = [:]
        for step in steps {
            let key = Kind(step: step.step, detail: step.detail)
            if let i = open[key], step.t - runs[i].lastMs <= 1000 {
                runs[i].count += 1
                runs[i].lastMs = step.t
            } else {
                open[key] = runs.count
                runs.append((step, 1, step.t))
            }
        }
        return runs
    }

    /// A flow step's whole prompt text would run across the timeline; the tooltip and the event
    /// table keep it whole.
    private static func shortened(_ text: String, to limit: Int = 72) -> String {
        text.count <= limit ? text : text.prefix(limit - 1) + "…"
    }

    private static func spanItem(
        kind: String, start: Double, end: Double, label: String, attributes: [String: String], extraClass: String = "",
        title: String? = nil
    ) -> String {
        let d = max(0, end - start)
        var s = #"<div class="event span \#(kind) \#(extraClass)" data-kind="\#(kind)" data-t-ms="\#(ms(start))" data-start-ms="\#(ms(start))" data-end-ms="\#(ms(end))""#
        s += dataAttributes(attributes)
        s += #" style="--t:\#(ms(start));--d:\#(ms(d))" title="\#(escape("\(ms(start))–\(ms(end)) ms · \(title ?? label)"))"><span>\#(escape(label))</span></div>"#
        return s
    }

    private static func dataAttributes(_ attributes: [String: String]) -> String {
        attributes.keys.sorted().map { " data-\($0)=\"\(escape(attributes[$0]!))\"" }.joined()
    }

    /// The waveform as one filled SVG path: the top of each bucket left to right, then the
    /// bottom back, scaled to the track's loudest sample so a quiet caller is still visible.
    static func waveform(_ audio: TimelineAudio, duration: Double, direction: String) -> String {
        let bucketMs = max(5, Int(duration / 4000))
        let peaks = audio.peaks(bucketMs: bucketMs)
        let loudest = max(0.02, peaks.map { max(-$0.low, $0.high) }.max() ?? 0)
        var top = ""
        var bottom: [String] = []
        top.reserveCapacity(peaks.count * 12)
        bottom.reserveCapacity(peaks.count)
        for (i, p) in peaks.enumerated() {
            let x = i * bucketMs
            let high = String(format: "%.2f", -p.high / loudest)
            let low = String(format: "%.2f", -p.low / loudest)
            top += i == 0 ? "M\(x) \(high)" : "L\(x) \(high)"
            bottom.append("L\(x) \(low)")
        }
        let path = peaks.isEmpty ? "M0 0" : top + bottom.reversed().joined() + "Z"
        return #"<svg class="wave \#(direction)" data-kind="waveform" data-direction="\#(direction)" viewBox="0 -1 \#(ms(max(1, duration))) 2" preserveAspectRatio="none" aria-label="\#(direction) waveform"><path d="\#(path)"/></svg>"#
    }

    /// Text as HTML: safe in element content and in double- or single-quoted attributes.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    private static func ms(_ value: Double) -> String { JSONLine.format(value) }
}
