extension TimelineHTML {
    /// Inline, so the page needs nothing but itself. Items sit at `--t` ms on a scale of `--px`
    /// pixels per ms; the script changes `--px` to zoom.
    static let style = """
        :root { color-scheme: light; font: 13px/1.35 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330; background: #f6f7f9; }
        body { margin: 0; padding: 12px 16px 32px; }
        h1 { font-size: 18px; margin: 0 0 4px; }
        h2 { font-size: 14px; margin: 0 0 6px; }
        .summary { margin: 0 0 10px; color: #4a5262; }
        .verdict { font-weight: 600; padding: 1px 6px; border-radius: 3px; }
        .verdict.passed { background: #d9f2df; color: #17612c; }
        .verdict.failed { background: #fbdcdc; color: #9b1c1c; }
        .verdict.no-expectations { background: #eee; color: #555; }
        .players { display: flex; flex-wrap: wrap; gap: 14px; align-items: center; margin-bottom: 10px; }
        .player { display: flex; align-items: center; gap: 6px; font-weight: 600; }
        .player audio { height: 30px; width: 300px; }
        .zoom button { font: inherit; min-width: 28px; margin-right: 2px; }
        #clock { font-variant-numeric: tabular-nums; color: #4a5262; margin-left: 8px; }
        .divergence-summary { background: #fff4f4; border: 1px solid #e7a3a3; border-radius: 4px; padding: 8px 12px; margin-bottom: 10px; }
        .divergence-summary ul { margin: 4px 0; padding-left: 18px; }
        .divergence-summary .expected { color: #17612c; }
        .divergence-summary .actual { color: #9b1c1c; }
        .divergence-summary pre { font-size: 11px; white-space: pre-wrap; margin: 6px 0 0; color: #4a5262; }
        .scroller { overflow-x: auto; background: #fff; border: 1px solid #d5d9e0; border-radius: 4px; }
        .timeline { position: relative; width: calc(var(--dur) * var(--px) * 1px + 260px); padding: 0 4px 6px; }
        .lane { position: relative; border-bottom: 1px solid #eef0f3; }
        .lane-title { position: sticky; left: 0; display: inline-block; font-size: 11px; font-weight: 600; color: #6a7282; padding: 3px 4px 1px; background: rgba(255,255,255,.85); z-index: 2; }
        .lane-body { position: relative; min-height: 20px; }
        .wave-lane .lane-body { height: 56px; }
        svg.wave { position: absolute; left: 0; top: 0; height: 56px; width: calc(var(--dur) * var(--px) * 1px); }
        svg.wave.caller path { fill: #3a78c2; }
        svg.wave.bridge path { fill: #2f9a6a; }
        .event { position: absolute; left: calc(var(--t) * var(--px) * 1px); top: 0; box-sizing: border-box; height: 17px; font-size: 11px; white-space: nowrap; }
        .event > span { display: inline-block; padding: 0 4px; }
        .event.point { border-left: 2px solid #6a7282; }
        .event.point > span { background: rgba(255,255,255,.9); }
        .event.span { width: max(2px, calc(var(--d) * var(--px) * 1px)); overflow: hidden; border-radius: 2px; background: #e3e8f0; border: 1px solid #b9c3d3; }
        .wave-lane .event.span { height: 56px; background: rgba(58,120,194,.12); border: 0; border-top: 3px solid rgba(58,120,194,.5); }
        .wave-lane .event.caller-speech-detected { border-top-color: rgba(214,120,0,.8); background: rgba(214,120,0,.08); top: 0; }
        .wave-lane .event.span > span { color: #29466b; font-size: 10px; }
        .event.prompt { background: #dcefe5; border-color: #7fbf9c; }
        .event.prompt.interrupted { background: #fdebd3; border-color: #e0a350; }
        .event.prompt.failed { background: #fbdcdc; border-color: #d97a7a; }
        .event.prompt.unfinished { background: #eceff3; border-style: dashed; }
        .words .event.word { height: 15px; background: #f1f8f4; border-color: #cde5d6; font-size: 10px; }
        .words .event.word > span { padding: 0 1px; }
        .event.dtmf { border-left-color: #7b3fc4; color: #5a2a96; font-weight: 600; }
        .event.transcript { border-left-color: #d67800; }
        .event.clear { border-left: 2px solid #d12b2b; color: #b01f1f; font-weight: 600; }
        .event.mark { border-left-color: #2f9a6a; }
        .event.mark.cleared { border-left-color: #e0a350; }
        .event.mark.none { border-left-style: dotted; }
        .event.end { border-left-color: #1d2330; font-weight: 600; }
        .event.barge-in.accepted { border-left-color: #d12b2b; }
        .event.barge-in.rejected { border-left-color: #9aa3b2; color: #6a7282; }
        .event.flow { border-left-color: #9aa3b2; color: #3d4556; }
        /* A request answered in milliseconds is a sliver: its label runs on past the bar. */
        .event.tts-request { background: #eee6fb; border-color: #b7a1df; overflow: visible; }
        .event.tts-request > span { background: rgba(255,255,255,.8); }
        .event.divergence.overlay { margin-left: 4px; top: 0; bottom: 0; height: auto; border-left: 3px solid #d12b2b; z-index: 3; pointer-events: none; }
        .event.divergence.overlay > span { background: #d12b2b; color: #fff; font-weight: 600; pointer-events: auto; }
        .playhead { margin-left: 4px; position: absolute; top: 0; bottom: 0; left: calc(var(--t) * var(--px) * 1px); border-left: 1px solid #1d2330; z-index: 4; pointer-events: none; }
        #axis { height: 18px; }
        .tick { position: absolute; left: calc(var(--t) * var(--px) * 1px); top: 0; height: 18px; border-left: 1px solid #c3c9d3; padding-left: 3px; font-size: 10px; color: #6a7282; white-space: nowrap; }
        .log { margin-top: 14px; }
        .log table { border-collapse: collapse; font-size: 12px; background: #fff; }
        .log td, .log th { border-bottom: 1px solid #eef0f3; padding: 2px 8px; text-align: left; vertical-align: top; }
        .log td:first-child { text-align: right; font-variant-numeric: tabular-nums; }
        """

    /// Zoom, the time axis, packing overlapping labels into rows, and the playhead that follows
    /// the audio. The page is whole without it; it only arranges.
    static let script = """
        (function () {
          "use strict";
          var timeline = document.getElementById("timeline");
          if (!timeline) { return; }
          var duration = Number(timeline.getAttribute("data-duration-ms")) || 1;
          var scale = 0.2;
          var rowHeight = 18;
          var audios = Array.prototype.slice.call(document.querySelectorAll("audio.track-audio"));
          var playhead = document.getElementById("playhead");
          var clock = document.getElementById("clock");
          var zoomLevel = document.getElementById("zoom-level");
          var steps = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000, 120000, 300000, 600000];

          function drawAxis() {
            var axis = document.getElementById("axis");
            if (!axis) { return; }
            while (axis.firstChild) { axis.removeChild(axis.firstChild); }
            var step = steps[steps.length - 1];
            for (var i = 0; i < steps.length; i++) {
              if (steps[i] * scale >= 64) { step = steps[i]; break; }
            }
            for (var t = 0; t <= duration; t += step) {
              var tick = document.createElement("div");
              tick.className = "tick";
              tick.style.setProperty("--t", String(t));
              tick.textContent = step >= 1000 ? (t / 1000) + " s" : t + " ms";
              axis.appendChild(tick);
            }
          }

          function packLanes() {
            var lanes = document.querySelectorAll(".lane-body.packed");
            for (var i = 0; i < lanes.length; i++) {
              var items = Array.prototype.slice.call(lanes[i].children).filter(function (e) {
                return e.classList.contains("event");
              });
              items.sort(function (a, b) { return a.offsetLeft - b.offsetLeft; });
              var rows = [];
              for (var j = 0; j < items.length; j++) {
                var item = items[j];
                var left = item.offsetLeft;
                var label = item.firstElementChild;
                var width = Math.max(item.offsetWidth, label ? label.offsetWidth : 0);
                var row = 0;
                while (row < rows.length && rows[row] > left) { row++; }
                rows[row] = left + width + 6;
                item.style.top = (row * rowHeight) + "px";
              }
              lanes[i].style.height = (Math.max(1, rows.length) * rowHeight + 2) + "px";
            }
          }

          function setScale(value) {
            scale = Math.min(20, Math.max(0.001, value));
            timeline.style.setProperty("--px", String(scale));
            drawAxis();
            packLanes();
            if (zoomLevel) { zoomLevel.textContent = Math.round(scale * 1000) + " px/s"; }
          }

          function fit() {
            var scroller = timeline.parentElement;
            setScale(Math.max(200, scroller.clientWidth - 280) / duration);
          }

          function showTime(ms) {
            if (!playhead) { return; }
            playhead.hidden = false;
            playhead.style.setProperty("--t", String(ms));
            if (clock) { clock.textContent = Math.round(ms) + " ms"; }
          }

          function follow() {
            var playing = audios.filter(function (a) { return !a.paused; });
            if (playing.length > 0) {
              showTime(playing[0].currentTime * 1000);
              window.requestAnimationFrame(follow);
            }
          }

          audios.forEach(function (audio) {
            audio.addEventListener("play", function () {
              audios.forEach(function (other) { if (other !== audio && !other.paused) { other.pause(); } });
              window.requestAnimationFrame(follow);
            });
            audio.addEventListener("seeked", function () { showTime(audio.currentTime * 1000); });
          });

          timeline.addEventListener("click", function (event) {
            var rect = timeline.getBoundingClientRect();
            var ms = Math.max(0, Math.min(duration, (event.clientX - rect.left - 4) / scale));
            audios.forEach(function (audio) {
              try { audio.currentTime = ms / 1000; } catch (e) { /* not loaded yet */ }
            });
            showTime(ms);
          });

          function button(id, action) {
            var b = document.getElementById(id);
            if (b) { b.addEventListener("click", action); }
          }
          button("zoom-in", function () { setScale(scale * 2); });
          button("zoom-out", function () { setScale(scale / 2); });
          button("zoom-fit", fit);
          fit();
        })();
        """
}
