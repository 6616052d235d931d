import Foundation
import VoiceBridgeCarriers

/// The console's page, script and style, served from the binary: nothing to build, nothing
/// fetched from elsewhere (the Content-Security-Policy forbids it anyway). Text from calls is
/// only ever set as `textContent`, never parsed as markup.
enum ConsolePage {
    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>VoiceBridge console</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="/console/app.css">
    <script src="/console/app.js" defer></script>
    </head>
    <body>
    <header>
      <h1>VoiceBridge <span>live console</span></h1>
      <span id="connection" class="badge off">connecting</span>
      <a href="/console/recordings" class="quiet">recorded calls</a>
      <form method="post" action="/console/logout"><button type="submit" class="quiet">Sign out</button></form>
    </header>
    <section id="server">
      <div class="stat"><h2>Live calls</h2><p id="active" class="big">0</p></div>
      <div class="stat"><h2>Calls per loop</h2><div id="loops" class="bars"></div></div>
      <div class="stat wide"><h2>Frame gaps</h2><div id="gaps" class="histogram"></div></div>
      <div class="stat"><h2>First audio</h2><p id="first-audio">–</p></div>
      <div class="stat"><h2>Fallbacks</h2><p id="fallbacks" class="big">0</p></div>
      <div class="stat"><h2>Errors</h2><ul id="errors"></ul></div>
    </section>
    <p id="empty">No live calls.</p>
    <div id="call-tools">
      <input id="filter" type="search" placeholder="Filter: number, flow, step or call SID" aria-label="Filter calls">
      <span id="shown"></span>
    </div>
    <section id="calls"></section>
    <template id="call-template">
      <article class="call">
        <div class="row head">
          <span class="route"><span class="from"></span> → <span class="to"></span></span>
          <span class="elapsed">0:00</span>
        </div>
        <div class="row facts">
          <span class="badge flow"></span>
          <span class="badge step" title="where the flow stands"></span>
          <span class="badge prompt" title="the prompt that started last"></span>
          <span class="badge mode"></span>
          <span class="badge source"></span>
          <span class="sid"></span>
        </div>
        <div class="meters">
          <label>caller<span class="meter"><span class="level level-in"></span></span></label>
          <label>bridge<span class="meter"><span class="level level-out"></span></span></label>
        </div>
        <ol class="events"></ol>
        <form class="actions">
          <input class="say-text" type="text" placeholder="Say to the caller…" maxlength="2000">
          <button class="say" type="submit">Say</button>
          <button class="hangup" type="button">Hang up</button>
          <span class="result"></span>
        </form>
      </article>
    </template>
    </body>
    </html>
    """#

    static func login(message: String?) -> String {
        let note = message.map { #"<p class="error">\#($0)</p>"# } ?? ""
        return #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>VoiceBridge console: sign in</title>
        <link rel="icon" href="data:,">
        <style>\#(loginStyle)</style>
        </head>
        <body class="login">
        <form method="post" action="/console/login">
          <h1>VoiceBridge <span>live console</span></h1>
          \#(note)
          <label for="token">Control token</label>
          <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
          <button type="submit">Sign in</button>
        </form>
        </body>
        </html>
        """#
    }

    /// The sign-in page's style, inline: the page is shown before the token is known, and the
    /// stylesheet, like every other console path, needs it. Allowed by its hash in the CSP.
    static let loginStyle =
        "body{margin:0;min-height:100vh;display:grid;place-items:center;background:#0f1419;color:#dce3ea;"
        + "font:14px/1.4 system-ui,sans-serif}form{background:#182028;border:1px solid #2a3440;border-radius:8px;"
        + "padding:24px;display:grid;gap:10px;width:320px}h1{font-size:18px;margin:0}h1 span{color:#8a97a5;"
        + "font-weight:normal}input{background:#0f1419;color:#dce3ea;border:1px solid #2a3440;border-radius:4px;"
        + "padding:6px 8px}button{background:#4fb3ff;color:#05121d;border:0;border-radius:4px;padding:6px 12px;"
        + "font-weight:600;cursor:pointer}.error{color:#ff6b6b;margin:0}"

    /// `'sha256-…'` of `loginStyle`, for the sign-in page's Content-Security-Policy.
    static let loginStyleSource: String = {
        let hex = Array(SHA256.hex(Array(loginStyle.utf8)).utf8)
        var digest: [UInt8] = []
        var i = 0
        while i + 1 < hex.count {
            digest.append(UInt8(String(decoding: hex[i...i + 1], as: UTF8.self), radix: 16) ?? 0)
            i += 2
        }
        return "'sha256-\(Data(digest).base64EncodedString())'"
    }()

    static let style = #"""
    :root { --bg: #0f1419; --panel: #182028; --line: #2a3440; --text: #dce3ea; --dim: #8a97a5;
      --accent: #4fb3ff; --good: #3ecf8e; --warn: #f5b942; --bad: #ff6b6b; }
    * { box-sizing: border-box; }
    body { margin: 0; background: var(--bg); color: var(--text);
      font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
    header { display: flex; align-items: center; gap: 12px; padding: 12px 20px; border-bottom: 1px solid var(--line); }
    header form { margin-left: auto; }
    h1 { font-size: 18px; margin: 0; } h1 span { color: var(--dim); font-weight: normal; }
    h2 { font-size: 11px; text-transform: uppercase; letter-spacing: .06em; color: var(--dim); margin: 0 0 6px; }
    button { background: var(--accent); color: #05121d; border: 0; border-radius: 4px; padding: 5px 12px; font-weight: 600; cursor: pointer; }
    button.quiet { background: transparent; color: var(--dim); border: 1px solid var(--line); font-weight: normal; }
    button.hangup { background: var(--bad); }
    input { background: var(--bg); color: var(--text); border: 1px solid var(--line); border-radius: 4px; padding: 5px 8px; }
    #server { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 12px; padding: 16px 20px; }
    .stat { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; min-height: 84px; }
    .stat.wide { grid-column: span 2; }
    .stat p { margin: 0; } .big { font-size: 26px; font-weight: 600; }
    .stat ul { margin: 0; padding: 0; list-style: none; font-size: 12px; }
    .bars, .histogram { display: flex; align-items: flex-end; gap: 3px; height: 52px; }
    .bars div, .histogram div { flex: 1; background: var(--accent); min-height: 1px; position: relative; }
    .histogram div.late { background: var(--warn); }
    .bars div span, .histogram div span { position: absolute; bottom: -15px; left: 0; right: 0; text-align: center; font-size: 9px; color: var(--dim); }
    .histogram, .bars { margin-bottom: 14px; }
    #empty { padding: 0 20px; color: var(--dim); }
    #call-tools { display: flex; gap: 12px; align-items: center; padding: 0 20px 12px; }
    #filter { flex: 0 1 360px; }
    #shown { color: var(--dim); }
    #calls { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 12px; padding: 0 20px 20px; }
    .call { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
    .call.ending { opacity: .5; }
    .row { display: flex; align-items: center; gap: 8px; }
    .head { justify-content: space-between; font-size: 15px; font-weight: 600; }
    .elapsed { font-variant-numeric: tabular-nums; color: var(--dim); font-weight: normal; }
    .facts { flex-wrap: wrap; margin: 6px 0; }
    .badge { border: 1px solid var(--line); border-radius: 10px; padding: 1px 8px; font-size: 12px; color: var(--dim); }
    .badge.mode.playing { color: var(--good); border-color: var(--good); }
    .badge.mode.listening { color: var(--warn); border-color: var(--warn); }
    .badge.off { color: var(--bad); border-color: var(--bad); } .badge.on { color: var(--good); border-color: var(--good); }
    .sid { font: 11px ui-monospace, monospace; color: var(--dim); margin-left: auto; }
    .meters { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; margin: 6px 0; }
    .meters label { display: flex; align-items: center; gap: 6px; font-size: 12px; color: var(--dim); }
    .meter { flex: 1; height: 8px; background: var(--bg); border-radius: 4px; overflow: hidden; }
    .level { display: block; height: 100%; width: 0; background: linear-gradient(90deg, var(--good), var(--warn) 80%, var(--bad)); transition: width .2s linear; }
    .events { list-style: none; margin: 6px 0; padding: 0; font-size: 12px; max-height: 132px; overflow: auto; }
    .events li { padding: 2px 0; border-top: 1px solid var(--line); display: flex; gap: 6px; }
    .events .at { color: var(--dim); font-variant-numeric: tabular-nums; min-width: 42px; }
    .events .kind { min-width: 62px; font-weight: 600; }
    .events [data-kind="played"] .kind { color: var(--good); }
    .events [data-kind="cleared"] .kind, .events [data-kind="failed"] .kind { color: var(--bad); }
    .events [data-kind="digit"] .kind { color: var(--accent); }
    .events [data-kind="barge-in"] .kind { color: var(--warn); }
    .events .heard { color: var(--text); font-style: italic; }
    .actions { display: flex; gap: 6px; align-items: center; margin-top: 6px; }
    .actions .say-text { flex: 1; }
    .result { font-size: 12px; color: var(--dim); }
    """#

    static let script = #"""
    "use strict";
    (() => {
      const calls = new Map();
      const byId = new Map();
      const historyLength = 12;
      // A server carries thousands of calls; the page lays out at most this many cards (the
      // oldest first), and the filter finds the others. `?show=N` changes it.
      const maxShown = Math.max(1, Number(new URLSearchParams(location.search).get("show")) || 50);
      let filterText = "";
      let layoutDirty = true;
      let clockOffset = 0;
      const $ = (id) => document.getElementById(id);

      function fmtElapsed(ms) {
        const s = Math.max(0, Math.floor(ms / 1000));
        const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
        const mm = h ? String(m).padStart(2, "0") : String(m);
        return (h ? h + ":" : "") + mm + ":" + String(r).padStart(2, "0");
      }

      function makeCall(call) {
        const node = $("call-template").content.firstElementChild.cloneNode(true);
        node.dataset.call = call.callSid;
        node.querySelector(".sid").textContent = call.callSid;
        const form = node.querySelector(".actions");
        form.addEventListener("submit", (e) => {
          e.preventDefault();
          const input = node.querySelector(".say-text");
          const text = input.value.trim();
          if (!text) return;
          act(node, call.callSid, "say", JSON.stringify({ text }), () => { input.value = ""; });
        });
        node.querySelector(".hangup").addEventListener("click", () => act(node, call.callSid, "hangup", null));
        const entry = { node, state: {} };
        calls.set(call.callSid, entry);
        layoutDirty = true;
        return entry;
      }

      function matches(entry) {
        const st = entry.state;
        return [st.from, st.to, st.flow, st.step, entry.node.dataset.call]
          .some((v) => v !== undefined && v !== null && String(v).toLowerCase().includes(filterText));
      }

      // Cards in start order, the filter's matches only, at most maxShown of them; the rest keep
      // their state (and their detached cards) up to date for when they are shown.
      function layout() {
        if (!layoutDirty) return;
        layoutDirty = false;
        const all = [...calls.values()].sort((a, b) => (a.state.startedAtMs || 0) - (b.state.startedAtMs || 0));
        const matching = filterText ? all.filter(matches) : all;
        const shown = matching.slice(0, maxShown).map((e) => e.node);
        const list = $("calls");
        if (shown.length !== list.children.length || shown.some((node, i) => list.children[i] !== node)) list.replaceChildren(...shown);
        $("shown").textContent = matching.length > shown.length
          ? "showing " + shown.length + " of " + matching.length + (filterText ? " matching" : "") + " calls; filter to find the others"
          : filterText ? matching.length + " of " + calls.size + " calls match" : "";
      }

      async function act(node, sid, action, body, done) {
        const result = node.querySelector(".result");
        result.textContent = "…";
        try {
          const response = await fetch("/console/calls/" + encodeURIComponent(sid) + "/" + action, {
            method: "POST", credentials: "same-origin",
            headers: { "X-VoiceBridge-Console": "1", "Content-Type": "application/json" }, body,
          });
          result.textContent = response.ok ? (action === "say" ? "queued" : "hanging up") : "refused (" + response.status + ")";
          if (response.ok && done) done();
        } catch (e) {
          result.textContent = "failed";
        }
      }

      function apply(call) {
        const entry = calls.get(call.callSid) || makeCall(call);
        if ("eventsAdded" in call) {
          call.events = (entry.state.events || []).concat(call.eventsAdded).slice(-historyLength);
          delete call.eventsAdded;
        }
        if ("id" in call) byId.set(call.id, call.callSid);
        const s = Object.assign(entry.state, call);
        if ("startedAtMs" in call || (filterText && ("from" in call || "to" in call || "flow" in call || "step" in call))) layoutDirty = true;
        const n = entry.node;
        if ("from" in call) n.querySelector(".from").textContent = s.from || "unknown";
        if ("to" in call) n.querySelector(".to").textContent = s.to || "unknown";
        if ("flow" in call) n.querySelector(".flow").textContent = "flow " + (s.flow || "–");
        if ("step" in call) n.querySelector(".step").textContent = s.step || "–";
        if ("prompt" in call) n.querySelector(".prompt").textContent = s.prompt ? "\u25B6 " + s.prompt : "no prompt yet";
        if ("source" in call) n.querySelector(".source").textContent = s.source || "–";
        if ("playing" in call || "listening" in call || "phase" in call) {
          const mode = n.querySelector(".mode");
          const word = s.phase !== "active" && s.phase !== "settingUp" ? s.phase : s.playing ? "playing" : s.listening ? "listening" : "idle";
          mode.textContent = word;
          mode.className = "badge mode " + word;
          n.classList.toggle("ending", s.phase === "ended");
        }
        if ("levelIn" in call) setLevel(n.querySelector(".level-in"), s.levelIn);
        if ("levelOut" in call) setLevel(n.querySelector(".level-out"), s.levelOut);
        if ("events" in call) renderEvents(n.querySelector(".events"), s.events);
        if ("startedAtMs" in call) { tickOne(entry); }
      }

      function setLevel(el, level) {
        el.style.width = level + "%";
        el.dataset.level = String(level);
      }

      function renderEvents(list, events) {
        list.replaceChildren();
        for (const ev of events.slice().reverse()) {
          const li = document.createElement("li");
          li.dataset.kind = ev.kind;
          const at = document.createElement("span"); at.className = "at"; at.textContent = fmtElapsed(ev.atMs);
          const kind = document.createElement("span"); kind.className = "kind"; kind.textContent = ev.kind;
          const subject = document.createElement("span"); subject.className = "subject"; subject.textContent = ev.subject;
          li.append(at, kind, subject);
          if (ev.detail) {
            const detail = document.createElement("span");
            detail.className = ev.kind === "cleared" ? "heard" : "detail";
            detail.textContent = ev.kind === "cleared" ? "heard: \u201c" + ev.detail.trim() + "\u201d" : ev.detail;
            li.append(detail);
          }
          list.append(li);
        }
      }

      function remove(sid) {
        const entry = calls.get(sid);
        if (!entry) return;
        entry.node.remove();
        calls.delete(sid);
        layoutDirty = true;
        if (entry.state.id !== undefined) byId.delete(entry.state.id);
      }

      function renderStats(stats) {
        $("active").textContent = stats.activeCalls;
        const loops = $("loops");
        loops.replaceChildren();
        const most = Math.max(1, ...stats.callsPerLoop);
        stats.callsPerLoop.forEach((count, i) => {
          const bar = document.createElement("div");
          bar.style.height = (100 * count / most) + "%";
          bar.title = "loop " + i + ": " + count + " calls";
          const label = document.createElement("span"); label.textContent = count;
          bar.append(label);
          loops.append(bar);
        });
        const gaps = $("gaps");
        gaps.replaceChildren();
        const top = Math.max(1, ...stats.gap.counts);
        stats.gap.counts.forEach((count, i) => {
          const bound = stats.gap.boundsMs[i];
          const bar = document.createElement("div");
          bar.style.height = (count ? Math.max(2, 100 * Math.log1p(count) / Math.log1p(top)) : 0) + "%";
          if (bound === null || bound > 25) bar.className = "late";
          bar.title = "≤ " + (bound === null ? "∞" : bound + " ms") + ": " + count + " frames";
          const label = document.createElement("span"); label.textContent = bound === null ? "∞" : bound;
          bar.append(label);
          gaps.append(bar);
        });
        const fa = stats.firstAudio;
        $("first-audio").textContent = fa.count
          ? "mean " + Math.round(fa.meanMs) + " ms · p50 ≤ " + (fa.p50Ms ?? "∞") + " ms · p95 ≤ " + (fa.p95Ms ?? "∞") + " ms (" + fa.count + ")"
          : "none yet";
        $("fallbacks").textContent = stats.fallbacks;
        const errors = $("errors");
        errors.replaceChildren();
        const kinds = Object.keys(stats.errors);
        if (!kinds.length) { const li = document.createElement("li"); li.textContent = "none"; errors.append(li); }
        for (const kind of kinds) {
          const li = document.createElement("li");
          li.textContent = kind + ": " + stats.errors[kind];
          errors.append(li);
        }
      }

      function tickOne(entry) {
        if (!entry.state.startedAtMs || !entry.node.isConnected) return;
        entry.node.querySelector(".elapsed").textContent = fmtElapsed(Date.now() + clockOffset - entry.state.startedAtMs);
      }

      function updateEmpty() { $("empty").hidden = calls.size > 0; }

      function connect() {
        const source = new EventSource("/console/events");
        const badge = $("connection");
        source.onopen = () => { badge.textContent = "live"; badge.className = "badge on"; };
        source.onerror = () => { badge.textContent = "reconnecting"; badge.className = "badge off"; };
        source.addEventListener("snapshot", (e) => {
          const data = JSON.parse(e.data);
          clockOffset = data.nowMs - Date.now();
          const seen = new Set(data.calls.map((c) => c.callSid));
          for (const sid of [...calls.keys()]) if (!seen.has(sid)) remove(sid);
          byId.clear();
          for (const call of data.calls) {
            const entry = calls.get(call.callSid);
            if (entry) entry.state = {};
            apply(call);
          }
          if (data.stats) renderStats(data.stats);
          layout();
          updateEmpty();
        });
        source.addEventListener("delta", (e) => {
          const data = JSON.parse(e.data);
          for (const call of data.added || []) apply(call);
          for (const call of data.changed || []) apply(call);
          const levels = data.levels || [];
          for (let i = 0; i + 2 < levels.length; i += 3) {
            const sid = byId.get(levels[i]);
            if (sid !== undefined) apply({ callSid: sid, levelIn: levels[i + 1], levelOut: levels[i + 2] });
          }
          for (const sid of data.removed || []) remove(sid);
          if (data.stats) renderStats(data.stats);
          layout();
          updateEmpty();
        });
      }

      $("filter").addEventListener("input", (e) => {
        filterText = e.target.value.trim().toLowerCase();
        layoutDirty = true;
        layout();
      });
      setInterval(() => { for (const entry of calls.values()) tickOne(entry); }, 500);
      connect();
    })();
    """#
}
