#!/usr/bin/env python3
"""Soak: does the server give back what calls take?

Two phases against one `voicebridge serve` (release build, the shipped config: the support line,
offline voice):

1. sequential: N calls (default 10,000) in batches of --batch concurrent calls placed by
   `voicebridge call`, each hanging up after --call-seconds, one batch after another;
2. steady: --steady-calls concurrent calls (default 500) held for --steady-seconds (default 600).

It prints the server's RSS, open file descriptors and threads at the start (after a warm-up
batch), after every so many calls, and at the end of each phase, and the frame-gap p99 over time
(from /metrics: the histogram's growth between two samples). Whether the load generator shared
the server's CPUs is said, as call-load.py says it.

    python3 Benchmarks/soak.py                       # both phases, full size
    python3 Benchmarks/soak.py --calls 2000 --steady-seconds 120   # a quick look
    python3 Benchmarks/soak.py --flows Benchmarks/flows             # steady calls held and talking
"""
import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("callload", os.path.join(HERE, "call-load.py"))
cl = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cl)


def fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def threads(pid):
    value = cl.proc_field(pid, "Threads")
    return int(value) if value else None


def sample(pid):
    return {"t": time.time(), "rss_mib": round(cl.rss_bytes(pid) / 2**20, 2), "fds": fds(pid), "threads": threads(pid)}


def gap_buckets(port):
    """{le: count} of voicebridge_frame_gap_seconds, cumulative, from /metrics."""
    try:
        _, text = cl.http_get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        m = re.match(r'^voicebridge_frame_gap_seconds_bucket\{le="([^"]+)"\}\s+(\S+)', line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def p99_between(before, after):
    """The upper bound (ms) of the bucket holding the 99th percentile of gaps recorded between two samples."""
    def le(key):
        return float("inf") if key == "+Inf" else float(key)
    keys = sorted(after, key=le)
    total = after.get("+Inf", 0) - before.get("+Inf", 0)
    if total <= 0:
        return None, 0
    for key in keys:
        if after[key] - before.get(key, 0) >= 0.99 * total:
            return (le(key) * 1000 if key != "+Inf" else float("inf")), int(total)
    return None, int(total)


def place_calls(binary, port, n, seconds, ramp, cpus, nofile, dtmf="1.0:1"):
    """Runs `voicebridge call` for n concurrent calls; returns its summary line."""
    cmd = [binary, "call", f"http://127.0.0.1:{port}/twiml", "--calls", str(n), "--ramp", str(ramp),
           "--hangup-at", str(seconds), "--max-duration", str(seconds + 30), "--dtmf", dtmf]
    proc = cl.spawn(cmd, cpus, nofile, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = proc.communicate()
    lines = out.strip().splitlines()
    summary = [line for line in lines if line.startswith(("PASS", "FAIL"))]
    return proc.returncode, (summary[-1] if summary else (lines[-1] if lines else ""))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--binary", default=".build/release/voicebridge")
    p.add_argument("--port", type=int, default=8095)
    p.add_argument("--calls", type=int, default=10_000, help="phase 1: calls in all")
    p.add_argument("--batch", type=int, default=100, help="phase 1: calls per batch")
    p.add_argument("--call-seconds", type=float, default=2.0, help="phase 1: each call hangs up after this")
    p.add_argument("--steady-calls", type=int, default=500)
    p.add_argument("--steady-seconds", type=float, default=600)
    p.add_argument("--sample-every", type=float, default=30, help="phase 2: seconds between samples")
    p.add_argument("--flows", help="serve --flows DIR (Benchmarks/flows: a line that talks until the caller hangs up, "
                   "so the steady phase holds its calls; the shipped support line ends a call after about a minute)")
    p.add_argument("--server-cpus")
    p.add_argument("--load-cpus")
    p.add_argument("--json")
    a = p.parse_args()

    plan = cl.plan_cpus(a.server_cpus, a.load_cpus)
    print("\n".join(cl.describe_cpus(plan)))
    nofile = cl.open_files_wanted(max(a.batch, a.steady_calls))
    log = tempfile.NamedTemporaryFile(prefix="soak-serve-", suffix=".log", delete=False).name
    env = dict(os.environ, VOICEBRIDGE_PORT=str(a.port), VOICEBRIDGE_HOST="127.0.0.1")
    serve = [a.binary, "serve", "--log-level", "warning"] + (["--flows", a.flows] if a.flows is not None else [])
    server = cl.spawn(serve, plan["server"], nofile,
                      stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env)
    report = {"cpus": "\n".join(cl.describe_cpus(plan)), "sequential": [], "steady": []}
    try:
        cl.wait_healthy(a.port, server, log)
        pid = server.pid
        # Warm-up: the first batch fills caches, pools and the allocator's arenas.
        code, line = place_calls(a.binary, a.port, a.batch, a.call_seconds, 1, plan["load"], nofile)
        start = sample(pid)
        print(f"after a warm-up batch of {a.batch}: RSS {start['rss_mib']} MiB, fds {start['fds']}, threads {start['threads']}")
        print(f"phase 1: {a.calls} calls, {a.batch} at a time, {a.call_seconds} s each")
        done, failed, t0 = 0, 0, time.time()
        before = gap_buckets(a.port)
        while done < a.calls:
            n = min(a.batch, a.calls - done)
            code, line = place_calls(a.binary, a.port, n, a.call_seconds, 1, plan["load"], nofile)
            done += n
            failed += 0 if code == 0 else 1
            if done % (a.batch * 10) == 0 or done >= a.calls:
                after = gap_buckets(a.port)
                p99, gaps = p99_between(before, after)
                before = after
                s = sample(pid)
                s.update(calls=done, gap_p99_ms=p99, gaps=gaps, last=line)
                report["sequential"].append(s)
                print(f"  {done:6d} calls  {time.time() - t0:6.0f} s  RSS {s['rss_mib']:7.2f} MiB  fds {s['fds']:4}  threads {s['threads']:3}  "
                      f"gap p99 <= {p99} ms ({gaps} gaps)  failed batches {failed}")
        time.sleep(3)  # the last sockets close
        end = sample(pid)
        print(f"phase 1 end: RSS {end['rss_mib']} MiB ({end['rss_mib'] - start['rss_mib']:+.2f}), "
              f"fds {end['fds']} ({end['fds'] - start['fds']:+d}), threads {end['threads']} ({end['threads'] - start['threads']:+d}); "
              f"failed batches {failed}")
        report["sequential_summary"] = {"start": start, "end": end, "failed_batches": failed}

        print(f"phase 2: {a.steady_calls} calls held for {a.steady_seconds:.0f} s")
        cmd = [a.binary, "call", f"http://127.0.0.1:{a.port}/twiml", "--calls", str(a.steady_calls),
               "--ramp", str(max(1, a.steady_calls / 100)), "--hangup-at", str(a.steady_seconds),
               "--max-duration", str(a.steady_seconds + 60), "--dtmf", "3.0:1"]
        load = cl.spawn(cmd, plan["load"], nofile, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        t0 = time.time()
        before = gap_buckets(a.port)
        steady_start = None
        while load.poll() is None:
            time.sleep(a.sample_every)
            if load.poll() is not None:
                break
            after = gap_buckets(a.port)
            p99, gaps = p99_between(before, after)
            before = after
            s = sample(pid)
            active = cl.scrape_metrics(a.port).get("active_calls")
            s.update(elapsed=round(time.time() - t0), active=active, gap_p99_ms=p99, gaps=gaps)
            steady_start = steady_start or s
            report["steady"].append(s)
            print(f"  {s['elapsed']:5d} s  active {active}  RSS {s['rss_mib']:7.2f} MiB  fds {s['fds']:4}  threads {s['threads']:3}  gap p99 <= {p99} ms ({gaps} gaps)")
        out, _ = load.communicate()
        summary = [line for line in out.splitlines() if line.startswith(("PASS", "FAIL"))]
        print("  simulator: " + (summary[-1] if summary else out.strip()[-300:]))
        time.sleep(3)
        end2 = sample(pid)
        if steady_start:
            print(f"phase 2: RSS {steady_start['rss_mib']} -> {report['steady'][-1]['rss_mib']} MiB while held; "
                  f"after: RSS {end2['rss_mib']} MiB, fds {end2['fds']}, threads {end2['threads']}")
        report["steady_summary"] = {"first": steady_start, "after": end2, "simulator": summary[-1] if summary else None}
    finally:
        cl.stop(server)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
