#!/usr/bin/env python3
"""What one open live-console page costs the server, at N concurrent calls.

Starts `voicebridge serve` with a control token (the support line, prompts built offline, as
call-load.py's `prompts` workload), places N simulated calls that stay up, and then measures the
server's CPU over alternating windows: no console page, one page (a raw `GET /console/events`
reader with the bearer token, which is all a browser's EventSource does), no page, one page, ...
It prints each window's per-thread CPU (event-loop threads one by one, the rest grouped by name),
the bytes and events the page received, the difference between the mean of the "page" and
"no page" windows in % of one core, and the console's own CPU as the server measures it
(`voicebridge_console_cpu_seconds_total`: thread CPU time of the readings on the calls' loops
and of the hub's diffing and encoding; the socket writes of the events are not in it).

    swift build -c release --product voicebridge
    python3 Benchmarks/console-load.py --calls 1000
    python3 Benchmarks/console-load.py --calls 100 --window 10 --rounds 2   # a quick look

CPU pinning, SHARED and the helpers are call-load.py's (imported from beside this file). With
fewer than 4 CPUs the server and the load generator share them: the figures are then labelled
SHARED, and the simulator's own jitter is in every window.
"""
import argparse
import importlib.util
import os
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("call_load", os.path.join(HERE, "call-load.py"))
cl = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cl)

TOKEN = "console-load-token-0123456789abcdef"


class Page(threading.Thread):
    """One console page: reads the event stream until stopped, counting what arrives."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.bytes = 0
        self.events = 0
        self.snapshots = 0
        self.error = None
        self.stopping = threading.Event()

    def run(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                s.sendall(f"GET /console/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
                s.settimeout(0.5)
                while not self.stopping.is_set():
                    try:
                        data = s.recv(65536)
                    except socket.timeout:
                        continue
                    if not data:
                        self.error = "the server closed the stream"
                        return
                    self.bytes += len(data)
                    self.events += data.count(b"event: ")
                    self.snapshots += data.count(b"event: snapshot")
        except OSError as e:
            self.error = str(e)

    def stop(self):
        self.stopping.set()
        self.join(timeout=5)


def console_cpu(port):
    """voicebridge_console_cpu_seconds_total: the console's own CPU, measured in the server."""
    _, text = cl.http_get(f"http://127.0.0.1:{port}/metrics")
    for line in text.splitlines():
        if line.startswith("voicebridge_console_cpu_seconds_total "):
            return float(line.split()[1])
    return 0.0


def window(pid, port, seconds):
    t0, threads0, cpu0, own0 = time.monotonic(), cl.thread_ticks(pid), cl.cpu_seconds(pid), console_cpu(port)
    time.sleep(seconds)
    t1, threads1, cpu1, own1 = time.monotonic(), cl.thread_ticks(pid), cl.cpu_seconds(pid), console_cpu(port)
    elapsed = t1 - t0
    loops, others, _ = cl.thread_usage(threads0, threads1, elapsed)
    return {"cores": (cpu1 - cpu0) / elapsed, "loops": loops, "others": others, "seconds": elapsed,
            "console": (own1 - own0) / elapsed}


def show(name, w, page=None):
    parts = [f"{r['thread']} {r['cores']:.3f}" for r in w["loops"]]
    parts += [f"{r['thread']}×{r['count']} {r['cores']:.3f}" for r in w["others"] if r["cores"] >= 0.0005]
    extra = ""
    if page is not None:
        extra = f"  page: {page.bytes / w['seconds'] / 1024:.1f} KiB/s, {page.events / w['seconds']:.1f} events/s"
    print(f"{name:<9} server {w['cores']:.3f} cores, console's own {100 * w['console']:.2f} % of a core{extra}\n          "
          + ", ".join(parts))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", default=os.path.join(cl.REPO, ".build", "release", "voicebridge"))
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--window", type=float, default=15, help="seconds per window")
    p.add_argument("--rounds", type=int, default=3, help="pairs of windows (no page, one page)")
    p.add_argument("--ramp", type=float, default=None, help="spread call starts over this many seconds (default N/200, at least 1)")
    p.add_argument("--warm", type=float, default=5)
    p.add_argument("--port", type=int, default=8093)
    p.add_argument("--server-cpus")
    p.add_argument("--load-cpus")
    a = p.parse_args()

    n = a.calls
    ramp = a.ramp if a.ramp is not None else max(1.0, n / 200)
    plan = cl.plan_cpus(a.server_cpus, a.load_cpus)
    print("\n".join(cl.describe_cpus(plan)))
    env = dict(os.environ, VOICEBRIDGE_LOG_LEVEL="warning", VOICEBRIDGE_CONTROL_TOKEN=TOKEN)
    for k in ("ELEVENLABS_API_KEY", "ELEVENLABS_BASE_URL", "TWILIO_AUTH_TOKEN", "VOICEBRIDGE_RELAY_URL",
              "VOICEBRIDGE_FLOWS_DIR", "VOICEBRIDGE_PROMPTS_DIR", "VOICEBRIDGE_RECORD_DIR"):
        env.pop(k, None)
    prompts = cl.build_prompts(a.binary, "/tmp/call-load-prompts", env)
    if prompts:
        env["VOICEBRIDGE_PROMPTS_DIR"] = prompts
    measured = 2 * a.rounds * a.window
    seconds = ramp + a.warm + measured + 10
    log = f"/tmp/console-load-server-{n}.log"
    server = sim = None
    try:
        with open(log, "w") as f:
            server = cl.spawn([a.binary, "serve", "--host", "127.0.0.1", "--port", str(a.port), "--log-level", "warning"],
                              plan["server"], cl.open_files_wanted(n), env=env, stdout=f, stderr=subprocess.STDOUT)
        cl.wait_healthy(a.port, server, log)
        call = [a.binary, "call", f"http://127.0.0.1:{a.port}/twiml", "--calls", str(n), "--ramp", f"{ramp:g}",
                "--max-duration", f"{seconds:g}", "--dtmf", cl.key_schedule(4, 9, seconds, "3"), "--log-level", "error"]
        if plan["load"]:
            call += ["--threads", str(len(plan["load"]))]
        sim = cl.spawn(call, plan["load"], cl.open_files_wanted(n), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        time.sleep(ramp + a.warm)
        status, health = cl.http_get(f"http://127.0.0.1:{a.port}/healthz")
        print(f"N={n}: {health}")
        off, on = [], []
        for r in range(a.rounds):
            w = window(server.pid, a.port, a.window)
            show(f"no page", w)
            off.append(w)
            page = Page(a.port)
            page.start()
            w = window(server.pid, a.port, a.window)
            page.stop()
            show(f"one page", w, page)
            if page.error:
                print(f"          page error: {page.error}")
            on.append(w)
            time.sleep(1)  # the console stops polling once the page has gone
        status, health = cl.http_get(f"http://127.0.0.1:{a.port}/healthz")
        print(f"N={n} at the end: {health}")
        if server.poll() is not None or sim.poll() is not None:
            raise cl.BenchError("the server or the simulator exited during the measurement")
    finally:
        if sim is not None and sim.poll() is None:
            sim.kill()
            sim.wait()
        cl.stop(server)
    mean_off = sum(w["cores"] for w in off) / len(off)
    mean_on = sum(w["cores"] for w in on) / len(on)
    spread = max(w["cores"] for w in off) - min(w["cores"] for w in off)
    shared = "SHARED (server and load generator on the same CPUs)" if plan.get("shared") else "pinned"
    own = sum(w["console"] for w in on) / len(on)
    own_off = sum(w["console"] for w in off) / len(off)
    print(f"\n| calls | no page (cores) | one page (cores) | difference (% of a core) | spread of no-page windows (%) "
          f"| console's own CPU, page open (% of a core) | console's own CPU, no page | cpus |")
    print(f"|---|---|---|---|---|---|---|---|")
    print(f"| {n} | {mean_off:.3f} | {mean_on:.3f} | {100 * (mean_on - mean_off):+.2f} | {100 * spread:.2f} | {100 * own:.2f} "
          f"| {100 * own_off:.2f} | {shared} |")


if __name__ == "__main__":
    main()
