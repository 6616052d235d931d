"""`voicebridge replay FILE --html OUT`: the call timeline page, checked in Chromium through its
DOM against the times the recordings themselves hold (within one frame, 20 ms)."""

import json
import pathlib

import pytest

from conftest import FIXTURES, ROOT

FRAME_MS = 20
SCREENSHOT = ROOT / "docs" / "console-timeline.png"


def read_recording(path):
    """The header and the event lines of a recording (JSON Lines, `//` comments allowed)."""
    objects = []
    for raw in pathlib.Path(path).read_text().splitlines():
        raw = raw.strip()
        if raw and not raw.startswith("//"):
            objects.append(json.loads(raw))
    return objects[0], objects[1:]


def recorded_times(lines):
    """What the file says happened, and when: clears, keys, prompt starts and ends."""
    clears = [line["t"] for line in lines if line.get("out") == "clear"]
    keys = []
    for line in lines:
        if "in" in line:
            try:
                message = json.loads(line["in"])
            except ValueError:
                continue
            # Twilio, Telnyx, SignalWire, Plivo and Exotel nest the digit; Asterisk (DTMF_END) and
            # Vonage (websocket:dtmf) do not.
            if isinstance(message, dict) and "dtmf" in str(message.get("event", "")).lower():
                nested = message.get("dtmf")
                keys.append((nested["digit"] if isinstance(nested, dict) else message["digit"], line["t"]))
        elif "dtmf" in line:
            keys.append((line["dtmf"], line["t"]))
    starts, ends, audio_only = {}, {}, set()
    for line in lines:
        if line.get("flow") == "play" and "audioBytes" in line:
            audio_only.add(line["id"])
        if line.get("flow") == "event" and line.get("event") == "promptStarted":
            starts.setdefault(line["id"], line["t"])
        if line.get("flow") == "event" and line.get("event") in ("promptFinished", "promptInterrupted"):
            ends.setdefault(line["id"], (line["event"], line["t"]))
    return clears, keys, starts, ends, audio_only


def items(page, kind):
    """Every element of a kind, as its data attributes (camelCase: data-t-ms is tMs)."""
    return page.eval_on_selector_all(f'[data-kind="{kind}"]', "els => els.map(e => Object.assign({}, e.dataset))")


def drawn_at_ms(page, selector):
    """Where an element is drawn, in ms of the timeline: its left edge over the scale."""
    return page.eval_on_selector(selector, """el => {
        // Overlays (the divergence) span every lane; lanes all start at the same x.
        const body = el.closest('.lane-body') || document.querySelector('.lane-body');
        const px = parseFloat(getComputedStyle(document.getElementById('timeline')).getPropertyValue('--px'));
        return (el.getBoundingClientRect().left - body.getBoundingClientRect().left) / px;
    }""")


def open_page(page, html):
    page.goto(html.as_uri())
    page.wait_for_selector("#timeline")


def check_audio(page):
    """Both directions are playable audio as long as the call."""
    for direction in ("caller", "bridge"):
        selector = f"#audio-{direction}"
        page.wait_for_function(f"document.querySelector('{selector}').readyState >= 1", timeout=10_000)
        duration, expected_ms, error = page.eval_on_selector(
            selector, "a => [a.duration, Number(a.dataset.durationMs), a.error && a.error.code]")
        assert error is None
        assert duration == pytest.approx(expected_ms / 1000, abs=0.05)
        assert duration > 1


def check_recorded_times(page, lines):
    clears, keys, starts, ends, audio_only = recorded_times(lines)

    shown_clears = sorted(float(c["tMs"]) for c in items(page, "clear"))
    assert len(shown_clears) == len(clears)
    for shown, recorded in zip(shown_clears, sorted(clears)):
        assert abs(shown - recorded) <= FRAME_MS

    shown_keys = [(k["digit"], float(k["tMs"])) for k in items(page, "dtmf")]
    assert [d for d, _ in shown_keys] == [d for d, _ in keys]
    for (_, shown), (_, recorded) in zip(shown_keys, keys):
        assert abs(shown - recorded) <= FRAME_MS

    prompts = {p["id"]: p for p in items(page, "prompt")}
    assert set(prompts) == set(starts)
    for prompt_id, started in starts.items():
        prompt = prompts[prompt_id]
        assert abs(float(prompt["startMs"]) - started) <= FRAME_MS
        assert prompt["text"] or prompt_id in audio_only  # a tone has no words
        if prompt_id in ends:
            event, ended = ends[prompt_id]
            assert abs(float(prompt["endMs"]) - ended) <= FRAME_MS
            assert prompt["outcome"] == ("finished" if event == "promptFinished" else "interrupted")

    # Drawn where their data says, too.
    for kind in ("clear", "dtmf", "prompt"):
        for index, item in enumerate(items(page, kind)):
            drawn = drawn_at_ms(page, f'[data-kind="{kind}"] >> nth={index}')
            assert abs(drawn - float(item["tMs"])) <= FRAME_MS, (kind, item)


def test_a_key_barge_in(page, replay):
    recording = FIXTURES / "03-barge-in-dtmf.jsonl"
    code, output, html = replay(recording)
    assert code == 0, output
    assert "timeline: " in output
    open_page(page, html)
    _, lines = read_recording(recording)
    check_recorded_times(page, lines)
    check_audio(page)

    assert page.get_attribute('[data-kind="verdict"]', "data-verdict") == "passed"
    [verdict] = items(page, "barge-in")
    assert verdict["verdict"] == "accepted" and verdict["reason"]
    [key] = items(page, "dtmf")
    assert key["digit"] == "1"
    requests = items(page, "tts-request")
    assert [r["turn"] for r in requests] == ["1", "2", "3"]
    assert all(float(r["ttfbMs"]) >= 0 for r in requests)
    words = items(page, "word")
    assert words and words[0]["text"] == "Welcome"
    assert not items(page, "divergence")
    steps = [s["step"] for s in items(page, "flow")]
    assert "play" in steps and "event:digit" in steps

    # Clicking the timeline moves the playhead and seeks both players there.
    page.click("#timeline", position={"x": 400, "y": 10})
    assert not page.is_hidden("#playhead")
    assert page.eval_on_selector("#audio-caller", "a => a.currentTime") > 0


def test_a_speech_barge_in(page, replay):
    recording = FIXTURES / "02-barge-in-speech.jsonl"
    code, output, html = replay(recording)
    assert code == 0, output
    open_page(page, html)
    _, lines = read_recording(recording)
    check_recorded_times(page, lines)
    check_audio(page)

    [verdict] = items(page, "barge-in")
    assert verdict["verdict"] == "accepted"
    assert float(verdict["latencyMs"]) >= 200  # bargeIn.minSpeechMs
    stopped = next(line for line in lines if line.get("event") == "callerSpeechStopped")
    [heard] = items(page, "caller-speech-detected")
    assert abs(float(heard["endMs"]) - stopped["t"]) <= FRAME_MS
    assert abs(float(heard["endMs"]) - float(heard["startMs"]) - stopped["durationMs"]) <= FRAME_MS
    marks = items(page, "mark")
    assert [m["name"] for m in marks] == ["2.1"]
    assert marks[0]["echo"] == "played"
    echoed = next(line for line in lines if "in" in line and '"mark"' in line["in"])
    assert abs(float(marks[0]["echoMs"]) - echoed["t"]) <= 4 * FRAME_MS
    # The caller's waveform is drawn, not a flat line.
    assert len(page.get_attribute('svg.wave.caller path', "d")) > 1000

    # The README's picture: both voices, the barge-in, the playhead a moment after it.
    page.set_viewport_size({"width": 1280, "height": 800})
    page.click("#zoom-fit")
    page.click("#timeline", position={"x": 560, "y": 10})
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size < 500_000


def test_a_failed_replay_marks_its_first_divergence(page, replay, tmp_path):
    # The README's example: a stricter barge-in minimum, so the caller's speech no longer clears.
    header, lines = read_recording(FIXTURES / "02-barge-in-speech.jsonl")
    header["config"]["bargeIn"]["minSpeechMs"] = 1000
    broken = tmp_path / "02-changed.jsonl"
    broken.write_text("\n".join(json.dumps(o, separators=(",", ":")) for o in [header] + lines) + "\n")
    code, output, html = replay(broken)
    assert code == 1, output
    assert "FAIL" in output
    open_page(page, html)
    assert page.get_attribute('[data-kind="verdict"]', "data-verdict") == "failed"
    [divergence] = items(page, "divergence")
    recorded_clear = next(line["t"] for line in lines if line.get("out") == "clear")
    assert abs(float(divergence["tMs"]) - recorded_clear) <= FRAME_MS
    assert divergence["expected"] == "clear"
    assert divergence["actual"].startswith("media")
    assert divergence["reason"]
    assert abs(drawn_at_ms(page, '[data-kind="divergence"]') - recorded_clear) <= FRAME_MS
    assert page.is_visible(".divergence-summary")
    # The replayed call cleared only once a whole second of speech was heard.
    assert all(float(c["tMs"]) > recorded_clear + 500 for c in items(page, "clear"))
    check_audio(page)


def test_text_from_callers_and_apps_is_not_markup(page, replay, tmp_path):
    hostile = "<img src=x onerror=alert(1)><script>alert(2)</script> & \"quotes\""
    recording = tmp_path / "hostile.jsonl"
    recording.write_text("\n".join([
        '{"recording":"voicebridge-call","version":1,"flow":"demo","carrier":"simulated","durationMs":5000}',
        '{"t":0,"start":{}}',
        json.dumps({"t": 1500, "stt": "committed", "text": hostile}),
        '{"t":2000,"dtmf":"1"}',
    ]) + "\n")
    code, output, html = replay(recording)
    assert code == 1, output  # no expectations yet: nothing to compare
    open_page(page, html)
    assert page.eval_on_selector_all("#timeline img, #timeline script, .log img", "els => els.length") == 0
    assert page.eval_on_selector_all("script", "els => els.length") == 1  # the page's own
    [transcript] = items(page, "transcript")
    assert transcript["text"] == hostile
    assert hostile in page.inner_text(".log")
    assert page.get_attribute('[data-kind="verdict"]', "data-verdict") == "no-expectations"
    [key] = items(page, "dtmf")
    assert float(key["tMs"]) == 2000


def test_zoom_keeps_items_at_their_times(page, replay):
    code, output, html = replay(FIXTURES / "03-barge-in-dtmf.jsonl")
    assert code == 0, output
    open_page(page, html)
    before = page.eval_on_selector('[data-kind="clear"]', "e => e.getBoundingClientRect().left")
    page.click("#zoom-in")
    after = page.eval_on_selector('[data-kind="clear"]', "e => e.getBoundingClientRect().left")
    assert after > before + 100
    t = float(page.get_attribute('[data-kind="clear"]', "data-t-ms"))
    assert abs(drawn_at_ms(page, '[data-kind="clear"]') - t) <= FRAME_MS


def test_html_takes_one_file(voicebridge_bin, tmp_path):
    import subprocess
    done = subprocess.run(
        [voicebridge_bin, "replay", str(FIXTURES), "--html", str(tmp_path / "x.html")],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "--html takes one FILE" in done.stdout + done.stderr
    assert not (tmp_path / "x.html").exists()


@pytest.mark.parametrize("recording", sorted(FIXTURES.glob("*.jsonl")), ids=lambda p: p.name)
def test_every_fixture_draws_what_it_recorded(page, replay, recording):
    code, output, html = replay(recording)
    assert code == 0, output
    open_page(page, html)
    _, lines = read_recording(recording)
    check_recorded_times(page, lines)
    check_audio(page)
