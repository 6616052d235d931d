#!/usr/bin/env python3
"""Concurrent-call benchmark: `voicebridge serve` against N simulated Twilio calls.

Starts a fresh server for each N (so its memory baseline is clean), runs `voicebridge call
--calls N` against it, and reads the server's CPU time and RSS from /proc while every call is
up. Receive-side numbers (gaps, first media, underruns) come from the simulator's aggregate
timeline. Both processes share this machine, as the issue's target says.

    swift build -c release --product voicebridge
    python3 Benchmarks/call-load.py --counts 1,100,500,1000,2000

It prints a Markdown table; `--json FILE` also writes the raw numbers.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_bytes(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def wait_healthy(port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on port {port} did not become healthy")


def run(binary, n, port, seconds, ramp, warm):
    env = dict(os.environ, VOICEBRIDGE_LOG_LEVEL="warning")
    env.pop("ELEVENLABS_API_KEY", None)
    env.pop("TWILIO_AUTH_TOKEN", None)
    log = open(f"/tmp/call-load-server-{n}.log", "w")
    server = subprocess.Popen([binary, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                              env=env, stdout=log, stderr=log)
    try:
        wait_healthy(port)
        if server.poll() is not None:
            raise SystemExit(f"server exited ({server.returncode}); see /tmp/call-load-server-{n}.log")
        time.sleep(0.5)
        base_rss = rss_bytes(server.pid)
        timeline = f"/tmp/call-load-{n}.json"
        # The caller presses 1 during the greeting, so every call barges in once and then
        # hears a full reply: the server talks for most of the call.
        sim = subprocess.Popen([binary, "call", f"http://127.0.0.1:{port}/twiml", "--calls", str(n),
                                "--ramp", str(ramp), "--max-duration", str(seconds), "--dtmf", "3:1",
                                "--timeline", timeline, "--log-level", "warning"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        # Measure only while every call is up: after the ramp and a settling margin.
        time.sleep(ramp + warm)
        cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
        sim_cpu0 = cpu_seconds(sim.pid)
        peak_rss = 0
        window = max(2.0, seconds - warm - 2.0)
        end = t0 + window
        while time.monotonic() < end:
            peak_rss = max(peak_rss, rss_bytes(server.pid))
            time.sleep(0.25)
        cpu1, t1 = cpu_seconds(server.pid), time.monotonic()
        sim_cpu1 = cpu_seconds(sim.pid)
        out, _ = sim.communicate(timeout=seconds + ramp + 60)
        with open(timeline) as f:
            report = json.load(f)
        agg = report.get("aggregate", report)
        busy = (cpu1 - cpu0) / (t1 - t0)
        return {
            "calls": n,
            "server_cpu_cores": busy,
            "server_cpu_pct_per_call": 100 * busy / n,
            "sim_cpu_cores": (sim_cpu1 - sim_cpu0) / (t1 - t0),
            "rss_base_mib": base_rss / 2**20,
            "rss_peak_mib": peak_rss / 2**20,
            "rss_kib_per_call": (peak_rss - base_rss) / 1024 / n,
            "gap_p50_ms": agg["gaps"].get("p50Ms"),
            "gap_p99_ms": agg["gaps"].get("p99Ms"),
            "gap_max_ms": agg["gaps"].get("maxMs"),
            "first_media_p50_ms": agg["firstMedia"].get("p50Ms"),
            "first_media_p99_ms": agg["firstMedia"].get("p99Ms"),
            "underruns": agg.get("underruns", 0) if "calls" in report else agg["underruns"]["count"],
            "failed_calls": agg.get("failedCalls", 0),
            "violations": agg.get("violations", agg.get("violationCount", 0)),
            "send_late_p99_ms": agg.get("sendLateness", {}).get("p99Ms"),
            "summary": out.decode(errors="replace").strip().splitlines()[-1:] if out else [],
        }
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", default=".build/release/voicebridge")
    p.add_argument("--counts", default="1,100,500,1000,2000")
    p.add_argument("--seconds", type=float, default=20, help="length of each call")
    p.add_argument("--ramp", type=float, default=None, help="spread call starts over this many seconds (default: N/200)")
    p.add_argument("--warm", type=float, default=3, help="settling time after the ramp before measuring")
    p.add_argument("--port", type=int, default=8091)
    p.add_argument("--json")
    a = p.parse_args()
    rows = []
    for n in (int(x) for x in a.counts.split(",")):
        ramp = a.ramp if a.ramp is not None else max(1.0, n / 200)
        r = run(a.binary, n, a.port, a.seconds, ramp, a.warm)
        rows.append(r)
        print(f"N={n}: {r['summary']}", file=sys.stderr)
    cols = [("calls", "N"), ("server_cpu_pct_per_call", "server CPU %/call"), ("server_cpu_cores", "server cores"),
            ("sim_cpu_cores", "sim cores"), ("rss_kib_per_call", "RSS KiB/call"), ("gap_p50_ms", "gap p50"),
            ("gap_p99_ms", "gap p99"), ("gap_max_ms", "gap max"), ("first_media_p50_ms", "first p50"),
            ("first_media_p99_ms", "first p99"), ("underruns", "underruns"), ("failed_calls", "failed"),
            ("violations", "violations"), ("send_late_p99_ms", "sim late p99")]
    print("| " + " | ".join(c[1] for c in cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        cells = []
        for key, _ in cols:
            v = r.get(key)
            cells.append(f"{v:.3f}" if isinstance(v, float) else str(v))
        print("| " + " | ".join(cells) + " |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
