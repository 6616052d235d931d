#!/usr/bin/env python3
"""Concurrent-call benchmark: `voicebridge serve` against N simulated Twilio calls.

For each N it starts a fresh server (so its memory baseline is clean), runs `voicebridge call
--calls N` against it, and measures while every call is up: the server's CPU (whole process and
per thread), its RSS, the simulator's CPU, and at the end of the window the server's /metrics
(active calls, and calls per event loop when `voicebridge_loop_calls{loop="N"}` is exported).
Receive-side numbers (gaps, first media, underruns, how much of the call the bridge talked)
come from the simulator's timeline.

CPUs. With 4 or more usable CPUs the server is pinned to `--server-cpus` (default: the first
two) and the load generator (simulator, and the ElevenLabs emulator) to `--load-cpus` (default:
the rest), with `taskset`. With fewer, or with overlapping sets, they share CPUs and the output
says SHARED above the table: the load generator's CPU then competes with the server's.

Workloads (`--workload`):
  prompts     `serve` with the shipped support line (config/flows/main.yaml) playing prompts
              built ahead with `voicebridge prompts build --offline` (config/prompts.yaml, into
              a private build dir, cached between runs). The caller presses 3 ("opening hours")
              at 4 s and every 9 s after: each press lands in the main menu, which plays the
              hours prompt, a 500 ms pause and the menu again, so the bridge talks almost all
              the time from files (no synthesis on the server).
  elevenlabs  `serve --flows ""` (the built-in demo menu) with ELEVENLABS_API_KEY and
              ELEVENLABS_BASE_URL pointing at `voicebridge emulate elevenlabs` (pinned to the
              load CPUs; `--tts-voice known` by default: synthetic bytes that cost nothing, since
              espeak's single thread caps the emulator near 100 talking calls; `--tts-speed`
              real-time factor, default 2, 0 = as fast as it synthesises). Every turn is streamed from the emulator over the call's own
              multi-context WebSocket: nothing is cached. The caller presses 3 ("a long answer,
              streamed word by word") at 2 s and every 12 s after: each press interrupts what is
              playing (clear, context closed upstream) and starts a new ~20 s streamed answer
              (one word every 30 ms into the text chunker), so the bridge talks all the time.
              The emulator synthesises with espeak-ng on ONE thread (espeak is not
              thread-safe): about 0.5 cores per 60 talking calls, so one emulator tops out
              near 100 such calls, and far fewer while every call wants its greeting at once.
  listening   a menu that waits a minute for a spoken answer (Benchmarks/listening-flows), with
              ELEVENLABS_* pointing at the emulator, whose realtime speech-to-text takes every
              caller frame (100 ms chunks) while the menu waits. `--stt off` runs the same calls
              with speech-to-text off (they wait without listening): the difference between the
              two runs is what listening costs per call.
  `--dtmf` replaces a workload's key schedule (simulator syntax, e.g. 2:3,14:3).

Truth checks, printed above the table and kept in --json: SHARED (server and load generator on
the same CPUs), LOAD-BOUND (a simulator or emulator thread, or the load CPUs, were saturated
during the ramp or the window, or the simulator sent its frames more than 10 ms late: latency
figures then describe the load generator), NOISY (other processes used the same CPUs), and the
active calls /metrics reports at both ends of the window.

    swift build -c release --product voicebridge
    python3 Benchmarks/call-load.py --counts 1,100,500,1000,2000
    python3 Benchmarks/call-load.py --workload elevenlabs --counts 1,20,50,100

It never calls swift: on another machine copy the binary (and its shared libraries, with
LD_LIBRARY_PATH) and pass `--binary`. It prints Markdown; `--json FILE` also writes the raw
numbers.
"""
import argparse
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# NIO event-loop threads: NIO-ELT-<group>-#<loop> (own groups), NIO-SGLTN-<group>-#<loop> (the singleton).
LOOP_THREAD = re.compile(r"^NIO-(?:ELT|SGLTN)-(\d+)-#(\d+)$")
EMULATOR_KEY = "call-load-bench-key"


class BenchError(SystemExit):
    """A run that cannot give true numbers: stop with the reason."""


# MARK: CPU sets

def parse_cpus(text):
    """'0,1' / '2-15' / '0-1,4' -> sorted list of CPU numbers."""
    cpus = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-", 1)
            cpus.update(range(int(lo), int(hi) + 1))
        else:
            cpus.add(int(part))
    return sorted(cpus)


def format_cpus(cpus):
    """[0,1,2,5] -> '0-2,5'."""
    cpus = sorted(cpus)
    out, i = [], 0
    while i < len(cpus):
        j = i
        while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
            j += 1
        out.append(str(cpus[i]) if i == j else f"{cpus[i]}-{cpus[j]}")
        i = j + 1
    return ",".join(out)


def plan_cpus(server_arg, load_arg):
    """Which CPUs the server and the load generator run on; None means not pinned (every CPU)."""
    allowed = sorted(os.sched_getaffinity(0))
    def explicit(arg):
        if arg is None:
            return None
        if arg.strip().lower() in ("", "none", "all"):
            return []  # asked for no pinning
        cpus = parse_cpus(arg)
        bad = [c for c in cpus if c not in allowed]
        if bad:
            raise BenchError(f"CPUs {format_cpus(bad)} are not usable here (usable: {format_cpus(allowed)})")
        return cpus
    server = explicit(server_arg)
    load = explicit(load_arg)
    if server is None:
        server = allowed[:2] if len(allowed) >= 4 else []
    if load is None:
        load = [c for c in allowed if c not in server] if server else []
    server_set = server or allowed
    load_set = load or allowed
    overlap = sorted(set(server_set) & set(load_set))
    return {
        "usable": allowed,
        "server": server or None,
        "load": load or None,
        "server_effective": server_set,
        "load_effective": load_set,
        "shared": bool(overlap),
        "overlap": overlap,
    }


def describe_cpus(plan):
    lines = []
    def one(name, pinned, effective):
        if pinned:
            return f"{name} CPUs {format_cpus(pinned)} (taskset -c {format_cpus(pinned)})"
        return f"{name} not pinned (CPUs {format_cpus(effective)})"
    lines.append("CPU sets: " + one("server", plan["server"], plan["server_effective"]) + "; "
                 + one("load generator", plan["load"], plan["load_effective"])
                 + f"; {len(plan['usable'])} usable CPUs")
    if plan["shared"]:
        if not plan["server"] and not plan["load"]:
            why = "not pinned" + (": fewer than 4 usable CPUs" if len(plan["usable"]) < 4 else "")
        elif not plan["server"] or not plan["load"]:
            why = f"the {'server' if not plan['server'] else 'load generator'} is not pinned"
        else:
            why = "the sets overlap"
        lines.append(f"SHARED: server and load generator share CPU{'s' if len(plan['overlap']) > 1 else ''} {format_cpus(plan['overlap'])} ({why}); "
                     "figures are from a shared machine")
    return lines


# MARK: Processes

def open_files_wanted(n):
    # Server: a webhook socket, a media socket and (elevenlabs) an upstream socket per call.
    return 4 * n + 1024


def child_setup(cpus, nofile):
    """preexec_fn: raise RLIMIT_NOFILE (hard too when allowed) and, without taskset, pin."""
    def setup():
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = max(soft, nofile)
        for limits in ((want, max(hard, want)), (min(want, hard), hard), (hard, hard)):
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, limits)
                break
            except (ValueError, OSError):
                continue
        if cpus and not shutil.which("taskset"):
            os.sched_setaffinity(0, cpus)
    return setup


def spawn(cmd, cpus, nofile, **kw):
    if cpus and shutil.which("taskset"):
        cmd = ["taskset", "-c", format_cpus(cpus)] + cmd  # taskset execs: the pid is the command's
    return subprocess.Popen(cmd, cwd=REPO, preexec_fn=child_setup(cpus, nofile), **kw)


def proc_field(pid, name):
    """A line of /proc/PID/status or /proc/PID/limits."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def open_file_limit(pid):
    try:
        with open(f"/proc/{pid}/limits") as f:
            for line in f:
                if line.startswith("Max open files"):
                    return int(line.split()[3])
    except (OSError, ValueError, IndexError):
        pass
    return None


def stop(proc, timeout=15):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def exit_text(code):
    return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"


def log_tail(path, lines=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


# MARK: /proc sampling

def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_bytes(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def cpu_busy_ticks():
    """{cpu: ticks not idle} from /proc/stat (user, nice, system, irq, softirq, steal)."""
    busy = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                name, *v = line.split()
                v = [int(x) for x in v[:8]]
                busy[int(name[3:])] = sum(v) - v[3] - v[4]  # less idle and iowait
    return busy


def thread_ticks(pid):
    """{tid: (name, utime+stime ticks)} for every thread of pid."""
    threads = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return threads
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                text = f.read()
        except OSError:
            continue  # exited between listdir and open
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        threads[int(tid)] = (name, int(fields[11]) + int(fields[12]))
    return threads


def thread_usage(start, end, seconds):
    """Per-thread cores over the window: loop threads one by one, the rest grouped by name."""
    def loop_key(name):
        m = LOOP_THREAD.match(name)
        return (int(m.group(1)), int(m.group(2))) if m else None
    loops, groups = [], {}
    for tid, (name, ticks) in end.items():
        before = start.get(tid)
        used = ticks - (before[1] if before else 0)  # a thread born in the window counts from 0
        cores = used / TICKS / seconds
        if loop_key(name) is not None:
            loops.append({"thread": name, "tids": [tid], "count": 1, "cores": cores, "loop": loop_key(name)})
        else:
            group = re.sub(r"\d+", "N", name)  # TP-#0..#3 -> TP-#N
            g = groups.setdefault(group, {"thread": group, "tids": [], "count": 0, "cores": 0.0})
            g["tids"].append(tid)
            g["count"] += 1
            g["cores"] += cores
    loops.sort(key=lambda r: r["loop"])
    others = sorted(groups.values(), key=lambda r: -r["cores"])
    exited = len(set(start) - set(end))
    return loops, others, exited


def busiest_thread(start, end, seconds):
    """(name, tid, cores) of the single busiest thread over the window, or None."""
    best = None
    for tid, (name, ticks) in end.items():
        before = start.get(tid)
        cores = (ticks - (before[1] if before else 0)) / TICKS / seconds
        if best is None or cores > best[2]:
            best = (name, tid, cores)
    return best


def max_deviation_pct(values):
    """Largest |value - mean| as a % of the mean; None without values or with a zero mean."""
    if not values:
        return None
    mean = sum(values) / len(values)
    if mean <= 0:
        return None
    return 100 * max(abs(v - mean) for v in values) / mean


# MARK: HTTP

def http_get(url, timeout=2):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode(errors="replace")


def wait_healthy(port, proc, log, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"server exited before it was healthy ({exit_text(proc.returncode)}); "
                             f"{log}:\n{log_tail(log)}")
        try:
            status, _ = http_get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise BenchError(f"server on port {port} did not become healthy in {timeout} s; {log}:\n{log_tail(log)}")


def scrape_metrics(port):
    """Prometheus text -> {'active_calls': float|None, 'loop_calls': {loop: float}|None}."""
    try:
        _, text = http_get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    except OSError as e:
        return {"active_calls": None, "loop_calls": None, "error": str(e)}
    active, loops = None, None
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r'^voicebridge_loop_calls\{([^}]*)\}\s+(\S+)', line)
        if m:
            label = re.search(r'loop="([^"]*)"', m.group(1))
            if label:
                loops = loops or {}
                loops[label.group(1)] = float(m.group(2))
            continue
        m = re.match(r'^voicebridge_active_calls(?:\{[^}]*\})?\s+(\S+)', line)
        if m:
            active = float(m.group(1))
    return {"active_calls": active, "loop_calls": loops}


# MARK: Workloads

def key_schedule(first, every, seconds, digit):
    times, t = [], first
    while t < seconds:
        times.append(f"{t:g}:{digit}")
        t += every
    return ",".join(times)


def build_prompts(binary, out_dir, env):
    """The support line's prompts, built once with the offline voice (cached by the builder)."""
    catalog = os.path.join(REPO, "config", "prompts.yaml")
    if not os.path.exists(catalog):
        print(f"note: {catalog} not found; the support line speaks its prompts live", file=sys.stderr)
        return None
    r = subprocess.run([binary, "prompts", "build", catalog, "--out", out_dir, "--offline"],
                       cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        print(f"warning: voicebridge prompts build failed ({exit_text(r.returncode)}); the support line speaks "
              "its prompts live:\n" + r.stdout.decode(errors="replace")[-2000:], file=sys.stderr)
        return None
    return out_dir


def key_to_clear(calls):
    """Key press → `clear` latency, from each call's timeline: every clear against the latest
    DTMF the simulator sent before it (within a second)."""
    lat = []
    for c in calls:
        keys = sorted(d["atMs"] for d in c.get("dtmf", []))
        for clear in c.get("clears", []):
            before = [k for k in keys if k <= clear["atMs"] and clear["atMs"] - k < 1000]
            if before:
                lat.append(clear["atMs"] - before[-1])
    if not lat:
        return {"key_clear_p50_ms": None, "key_clear_p99_ms": None, "key_clear_count": 0}
    lat.sort()
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    return {"key_clear_p50_ms": pick(0.5), "key_clear_p99_ms": pick(0.99), "key_clear_count": len(lat)}


def start_emulator(binary, port, cpus, speed, n, voice="known"):
    log = f"/tmp/call-load-emulator-{n}.log"
    banner = f"/tmp/call-load-emulator-{n}.out"
    with open(log, "w") as err, open(banner, "w") as out:
        emu = spawn([binary, "emulate", "elevenlabs", "--host", "127.0.0.1", "--port", str(port),
                     "--api-key", EMULATOR_KEY, "--speed", f"{speed:g}", "--voice", voice],
                    cpus, open_files_wanted(n), stdout=out, stderr=err)
    deadline = time.time() + 30
    while time.time() < deadline:
        if emu.poll() is not None:
            raise BenchError(f"ElevenLabs emulator exited ({exit_text(emu.returncode)}); {log}:\n{log_tail(log)}")
        with open(banner) as f:
            text = f.read()
        m = re.search(r"API key: (.+)", text)
        if m:
            # The banner never prints a key it was given (it says so); one it made up, it shows.
            key = m.group(1).strip().rstrip(",")
            if key.startswith("<as given"):
                return emu, EMULATOR_KEY
            if key != EMULATOR_KEY:
                stop(emu)
                raise BenchError(f"emulator accepts {key!r}, not the key it was given")
            return emu, key
        time.sleep(0.1)
    stop(emu)
    raise BenchError(f"ElevenLabs emulator printed no banner in 30 s; {log}:\n{log_tail(log)}")


# MARK: One run

def run(a, plan, n, seconds, ramp, prompts_dir):
    env = dict(os.environ, VOICEBRIDGE_LOG_LEVEL="warning")
    for k in ("ELEVENLABS_API_KEY", "ELEVENLABS_BASE_URL", "TWILIO_AUTH_TOKEN", "VOICEBRIDGE_RELAY_URL",
              "VOICEBRIDGE_FLOWS_DIR", "VOICEBRIDGE_PROMPTS_DIR", "VOICEBRIDGE_RECORD_DIR"):
        env.pop(k, None)
    serve = [a.binary, "serve", "--host", "127.0.0.1", "--port", str(a.port), "--log-level", "warning"]
    log = f"/tmp/call-load-server-{n}.log"
    emu = server = sim = None
    try:
        if a.workload in ("elevenlabs", "listening"):
            emu, key = start_emulator(a.binary, a.emulator_port, plan["load"], a.tts_speed, n, a.tts_voice)
            env["ELEVENLABS_API_KEY"] = key
            env["ELEVENLABS_BASE_URL"] = f"http://127.0.0.1:{a.emulator_port}"
        if a.workload == "elevenlabs":
            serve += ["--flows", ""]
            dtmf = a.dtmf or key_schedule(2, 12, seconds, "3")
        elif a.workload == "listening":
            # The same calls with speech-to-text on or off: the difference is what listening costs.
            config = f"/tmp/call-load-listening-{a.stt}.yaml"
            with open(config, "w") as f:
                f.write(f"elevenlabs:\n  speech_to_text: {'true' if a.stt == 'on' else 'false'}\n")
            serve += ["--config", config, "--flows", os.path.join(REPO, "Benchmarks", "listening-flows")]
            dtmf = a.dtmf
        else:
            if prompts_dir:
                env["VOICEBRIDGE_PROMPTS_DIR"] = prompts_dir
            dtmf = a.dtmf or key_schedule(4, 9, seconds, "3")
        with open(log, "w") as f:
            server = spawn(serve, plan["server"], open_files_wanted(n), env=env, stdout=f, stderr=subprocess.STDOUT)
        wait_healthy(a.port, server, log)
        server_affinity = proc_field(server.pid, "Cpus_allowed_list")
        server_nofile = open_file_limit(server.pid)
        if server_nofile is not None and server_nofile < 2 * n + 64:
            print(f"warning: the server may open only {server_nofile} files for {n} calls", file=sys.stderr)
        time.sleep(0.5)
        base_rss = rss_bytes(server.pid)
        timeline = f"/tmp/call-load-{n}.json"
        call = [a.binary, "call", f"http://127.0.0.1:{a.port}/twiml", "--calls", str(n),
                "--ramp", f"{ramp:g}", "--max-duration", f"{seconds:g}",
                "--timeline", timeline, "--log-level", "warning"] + (["--dtmf", dtmf] if dtmf else [])
        sim_loops = a.sim_loops or (len(plan["load"]) if plan["load"] else None)
        if sim_loops:
            call += ["--threads", str(sim_loops)]
        sim = spawn(call, plan["load"], open_files_wanted(n), env=env,
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        sim_affinity = proc_field(sim.pid, "Cpus_allowed_list")
        ramp_t0, emu_threads_ramp = time.monotonic(), (thread_ticks(emu.pid) if emu else {})
        ramp_load0 = cpu_seconds(sim.pid) + (cpu_seconds(emu.pid) if emu else 0)
        ramp_server0 = cpu_seconds(server.pid)

        def check_alive(when):
            if server.poll() is not None:
                raise BenchError(f"N={n}: the server died {when} ({exit_text(server.returncode)}); {log}:\n{log_tail(log)}")
            if emu is not None and emu.poll() is not None:
                raise BenchError(f"N={n}: the ElevenLabs emulator died {when} ({exit_text(emu.returncode)}); "
                                 f"/tmp/call-load-emulator-{n}.log:\n{log_tail(f'/tmp/call-load-emulator-{n}.log')}")

        # Measure only while every call is up: after the ramp and a settling margin, and before
        # the first call reaches its length.
        start_at = time.monotonic() + ramp + a.warm
        while time.monotonic() < start_at:
            check_alive("during the ramp")
            if sim.poll() is not None:
                break
            time.sleep(0.1)
        window = seconds - 1.0 - ramp - a.warm
        check_alive("during the ramp")
        if sim.poll() is not None:
            out = sim.stdout.read().decode(errors="replace")
            raise BenchError(f"N={n}: the simulator exited during the ramp ({exit_text(sim.returncode)}):\n{out[-2000:]}")
        metrics0 = scrape_metrics(a.port)
        stat0 = cpu_busy_ticks()
        cpu0, sim_cpu0, t0 = cpu_seconds(server.pid), cpu_seconds(sim.pid), time.monotonic()
        emu_cpu0 = cpu_seconds(emu.pid) if emu else None
        threads0 = thread_ticks(server.pid)
        sim_threads0 = thread_ticks(sim.pid)
        emu_threads0 = thread_ticks(emu.pid) if emu else {}
        peak_rss = 0
        end = t0 + window
        while time.monotonic() < end:
            check_alive("while the calls were up")
            if sim.poll() is not None:
                out = sim.stdout.read().decode(errors="replace")
                raise BenchError(f"N={n}: the simulator exited while the calls were up ({exit_text(sim.returncode)}):\n{out[-2000:]}")
            try:
                peak_rss = max(peak_rss, rss_bytes(server.pid))
            except OSError:
                check_alive("while the calls were up")
            time.sleep(0.25)
        threads1 = thread_ticks(server.pid)
        sim_threads1 = thread_ticks(sim.pid)
        emu_threads1 = thread_ticks(emu.pid) if emu else {}
        cpu1, sim_cpu1, t1 = cpu_seconds(server.pid), cpu_seconds(sim.pid), time.monotonic()
        emu_cpu1 = cpu_seconds(emu.pid) if emu else None
        stat1 = cpu_busy_ticks()
        metrics1 = scrape_metrics(a.port)
        elapsed = t1 - t0
        try:
            out, _ = sim.communicate(timeout=seconds + ramp + 120)
        except subprocess.TimeoutExpired:
            raise BenchError(f"N={n}: the simulator did not finish {seconds + ramp + 120:g} s after the calls began")
        check_alive("before the calls ended")
        try:
            with open(timeline) as f:
                report = json.load(f)
        except (OSError, ValueError) as e:
            raise BenchError(f"N={n}: no simulator timeline ({e}); simulator {exit_text(sim.returncode)}:\n"
                             + out.decode(errors="replace")[-2000:])
    finally:
        if sim is not None and sim.poll() is None:
            sim.kill()
            sim.wait()
        stop(server)
        stop(emu)

    agg = report.get("aggregate", report)
    busy = (cpu1 - cpu0) / elapsed
    sim_busy = (sim_cpu1 - sim_cpu0) / elapsed
    loops, others, exited = thread_usage(threads0, threads1, elapsed)
    emu_loops, emu_others, _ = thread_usage(emu_threads0, emu_threads1, elapsed)
    # espeak-ng is not thread-safe: the emulator synthesises on one thread (its comm is inherited,
    # so it is found as the emulator's busiest thread, not by name).
    emu_busiest = busiest_thread(emu_threads0, emu_threads1, elapsed) if emu else None
    emu_busiest_ramp = busiest_thread(emu_threads_ramp, emu_threads0, t0 - ramp_t0) if emu else None
    sim_busiest = busiest_thread(sim_threads0, sim_threads1, elapsed)
    # The load side must not be the bottleneck, or gaps, underruns and first media describe it,
    # not the server.
    load_bound = []
    if sim_busiest and sim_busiest[2] > 0.85:
        load_bound.append(f"simulator thread {sim_busiest[0]} was {100 * sim_busiest[2]:.0f} % busy")
    for when, busiest in (("during the ramp", emu_busiest_ramp), ("while the calls were up", emu_busiest)):
        if busiest and busiest[2] > 0.85:
            load_bound.append(f"an emulator thread ({busiest[0]}, likely its one espeak synthesis thread) "
                              f"was {100 * busiest[2]:.0f} % busy {when}")
    load_cores = sim_busy + ((emu_cpu1 - emu_cpu0) / elapsed if emu else 0)
    ramp_load_cores = (sim_cpu0 + (emu_cpu0 or 0) - ramp_load0) / (t0 - ramp_t0)
    ramp_server_cores = (cpu0 - ramp_server0) / (t0 - ramp_t0)
    for when, cores, server_cores in (("during the ramp", ramp_load_cores, ramp_server_cores),
                                      ("while the calls were up", load_cores, busy)):
        if not plan["shared"] and cores > 0.85 * len(plan["load_effective"]):
            load_bound.append(f"the load generator used {cores:.2f} of its {len(plan['load_effective'])} CPUs {when}")
        elif plan["shared"] and cores + server_cores > 0.85 * len(plan["usable"]):
            load_bound.append(f"server and load generator used {cores + server_cores:.2f} of the "
                              f"{len(plan['usable'])} shared CPUs {when} (load generator {cores:.2f})")
    # Everything else that ran on our CPUs in the window: another build, a second benchmark.
    ours = set(plan["server_effective"]) | set(plan["load_effective"])
    cpus_busy = sum(stat1[c] - stat0.get(c, stat1[c]) for c in ours if c in stat1) / TICKS / elapsed
    other_cores = max(0.0, cpus_busy - busy - load_cores)
    noisy = (f"other processes used about {other_cores:.2f} cores of CPUs {format_cpus(ours)} while the calls were up"
             if other_cores > 0.25 else None)
    if (agg.get("sendLateness", {}).get("p99Ms") or 0) > 10:
        load_bound.append(f"the simulator sent caller frames late (p99 {agg['sendLateness']['p99Ms']:.1f} ms): it was short of CPU")
    loop_calls = metrics1.get("loop_calls")
    talk = [sum(s["endMs"] - s["startMs"] for s in c.get("heardSegments", [])) / c["durationMs"]
            for c in report.get("calls", []) if c.get("durationMs")]
    return {
        "calls": n,
        "workload": a.workload,
        "seconds": seconds,
        "ramp": ramp,
        "window_s": elapsed,
        "dtmf": dtmf,
        "shared": plan["shared"],
        "server_cpus": format_cpus(plan["server_effective"]),
        "load_cpus": format_cpus(plan["load_effective"]),
        "server_affinity": server_affinity,
        "load_affinity": sim_affinity,
        "server_open_files": server_nofile,
        "server_cpu_cores": busy,
        "server_cpu_pct_per_call": 100 * busy / n,
        "sim_cpu_cores": sim_busy,
        "sim_cpu_pct_per_call": 100 * sim_busy / n,
        "sim_loops": sim_loops,
        "emulator_cpu_cores": (emu_cpu1 - emu_cpu0) / elapsed if emu else None,
        "rss_base_mib": base_rss / 2**20,
        "rss_peak_mib": peak_rss / 2**20,
        "rss_kib_per_call": (peak_rss - base_rss) / 1024 / n,
        "talk_pct": 100 * sum(talk) / len(talk) if talk else None,
        "gap_p50_ms": agg["gaps"].get("p50Ms"),
        "gap_p99_ms": agg["gaps"].get("p99Ms"),
        "gap_max_ms": agg["gaps"].get("maxMs"),
        "first_media_p50_ms": agg["firstMedia"].get("p50Ms"),
        "first_media_p99_ms": agg["firstMedia"].get("p99Ms"),
        "underruns": agg["underruns"] if isinstance(agg.get("underruns"), int) else agg["underruns"]["count"],
        "failed_calls": agg.get("failedCalls", 0),
        "violations": agg.get("violations", agg.get("violationCount", 0)),
        "send_late_p99_ms": agg.get("sendLateness", {}).get("p99Ms"),
        **key_to_clear(report.get("calls", [])),
        "end_reasons": agg.get("endReasons"),
        "active_calls_window": [metrics0.get("active_calls"), metrics1.get("active_calls")],
        "event_loops": len(loops),
        "threads": [{k: r[k] for k in ("thread", "tids", "count", "cores")} for r in loops + others],
        "threads_exited": exited,
        "thread_cores_unattributed": busy - sum(r["cores"] for r in loops + others),
        "loop_cpu_cores": [r["cores"] for r in loops],
        "loop_cpu_max_dev_pct": max_deviation_pct([r["cores"] for r in loops]),
        "loop_calls": loop_calls,
        "loop_calls_max_dev_pct": max_deviation_pct(list(loop_calls.values())) if loop_calls else None,
        "other_cores": other_cores,
        "noisy": noisy,
        "load_cores_ramp": ramp_load_cores,
        "server_cores_ramp": ramp_server_cores,
        "sim_busiest_thread_cores": sim_busiest[2] if sim_busiest else None,
        "emulator_busiest_thread_cores": emu_busiest[2] if emu_busiest else None,
        "emulator_busiest_thread_cores_ramp": emu_busiest_ramp[2] if emu_busiest_ramp else None,
        "emulator_threads": [{k: r[k] for k in ("thread", "count", "cores")} for r in emu_loops + emu_others] if emu else None,
        "load_bound": load_bound,
        "summary": out.decode(errors="replace").strip().splitlines()[-1:] if out else [],
    }


def fmt(v, digits=3):
    if v is None:
        return "-"
    if isinstance(v, (bool, list)):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def print_run(r):
    print(f"### N={r['calls']} ({r['workload']}, {r['window_s']:.1f} s window while calls were up)")
    print()
    print("| thread | tid | cores |")
    print("|---|---|---|")
    for t in r["threads"]:
        tids = ",".join(map(str, t["tids"][:4])) + (",…" if len(t["tids"]) > 4 else "")
        name = t["thread"] + (f" (×{t['count']})" if t["count"] > 1 else "")
        print(f"| {name} | {tids} | {t['cores']:.3f} |")
    print()
    loops = r["loop_cpu_cores"]
    if loops:
        mean = sum(loops) / len(loops)
        print(f"- event loops: {len(loops)}, mean {mean:.3f} cores; loop CPU balance: max deviation "
              f"{fmt(r['loop_cpu_max_dev_pct'], 1)} % from the mean")
    else:
        print("- event loops: no NIO-ELT/NIO-SGLTN threads found")
    lc = r["loop_calls"]
    if lc:
        per = " ".join(f"{k}:{v:g}" for k, v in sorted(lc.items(), key=lambda kv: (len(kv[0]), kv[0])))
        print(f"- calls per loop (voicebridge_loop_calls): {per}; max deviation {fmt(r['loop_calls_max_dev_pct'], 1)} % from the mean")
    else:
        print("- calls per loop: voicebridge_loop_calls not exported by this server")
    a0, a1 = r["active_calls_window"]
    warn = "" if a0 == a1 == r["calls"] else "  ← not every call was up for the whole window"
    print(f"- active calls at window start/end: {fmt(a0, 0)}/{fmt(a1, 0)} of {r['calls']}{warn}")
    print(f"- server {r['server_cpu_cores']:.3f} cores ({r['server_cpu_pct_per_call']:.3f} %/call); "
          f"simulator {r['sim_cpu_cores']:.3f} cores ({r['sim_cpu_pct_per_call']:.3f} %/call, "
          f"{r['sim_loops'] or 'default'} loops, busiest thread {fmt(r['sim_busiest_thread_cores'])})"
          + (f"; emulator {r['emulator_cpu_cores']:.3f} cores" if r["emulator_cpu_cores"] is not None else "")
          + (f" (busiest thread {r['emulator_busiest_thread_cores']:.3f}; {r['emulator_busiest_thread_cores_ramp']:.3f} during the ramp)"
             if r["emulator_busiest_thread_cores"] is not None else "")
          + (f"; {r['threads_exited']} server threads exited in the window" if r["threads_exited"] else ""))
    print(f"- other processes on these CPUs: about {r['other_cores']:.2f} cores")
    print(f"- during the ramp and warm-up: server {r['server_cores_ramp']:.3f} cores, load generator {r['load_cores_ramp']:.3f} cores")
    pinned = r["server_affinity"]
    if loops and pinned and len(loops) > len(parse_cpus(pinned)):
        print(f"- note: the server ran {len(loops)} event loops on {len(parse_cpus(pinned))} CPUs ({pinned})")
    for why in r["load_bound"]:
        print(f"- LOAD-BOUND: {why}; this run's latency figures describe the load generator, not the server")
    if r["noisy"]:
        print(f"- NOISY: {r['noisy']}; CPU and latency figures are disturbed")
    print()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", default=".build/release/voicebridge")
    p.add_argument("--counts", default="1,100,500,1000,2000")
    p.add_argument("--workload", choices=("prompts", "elevenlabs", "listening"), default="prompts")
    p.add_argument("--stt", choices=("on", "off"), default="on",
                   help="listening: speech-to-text on (every caller frame goes up) or off (the same calls, not listening)")
    p.add_argument("--seconds", type=float, default=None,
                   help="length of each call (default: max(20, ramp + warm + 10))")
    p.add_argument("--ramp", type=float, default=None, help="spread call starts over this many seconds (default: N/200, at least 1)")
    p.add_argument("--warm", type=float, default=3, help="settling time after the ramp before measuring")
    p.add_argument("--port", type=int, default=8091)
    p.add_argument("--emulator-port", type=int, default=8092)
    p.add_argument("--server-cpus", help="CPUs for the server, e.g. 0,1 (default: 0,1 with 4+ CPUs, else not pinned; 'none': not pinned)")
    p.add_argument("--load-cpus", help="CPUs for the simulator and emulator (default: the rest; 'none': not pinned)")
    p.add_argument("--sim-loops", type=int, help="the simulator's event loops, `call --threads` (default: one per load CPU when pinned)")
    p.add_argument("--tts-speed", type=float, default=2, help="elevenlabs: the emulator's real-time factor (0: as fast as synthesised; default 2, like the service)")
    p.add_argument("--tts-voice", default="known",
                   help="elevenlabs: the emulator's voice: 'known' (synthetic bytes, nearly free, so the emulator is never the limit) or an espeak-ng voice")
    p.add_argument("--dtmf", help="the caller's key presses, SECONDS:DIGIT,... (default: the workload's schedule)")
    p.add_argument("--json")
    a = p.parse_args()

    binary = os.path.abspath(a.binary)
    if not os.path.exists(binary) and os.path.exists(os.path.join(REPO, a.binary)):
        binary = os.path.join(REPO, a.binary)
    if not os.access(binary, os.X_OK):
        raise BenchError(f"no voicebridge binary at {a.binary}; build it with "
                         "`swift build -c release --product voicebridge` or pass --binary")
    a.binary = binary
    plan = plan_cpus(a.server_cpus, a.load_cpus)
    prompts_dir = None
    if a.workload == "prompts":
        env = {k: v for k, v in os.environ.items() if not k.startswith("ELEVENLABS_")}
        prompts_dir = build_prompts(binary, "/tmp/call-load-prompts", env)
        what = ("support line, prompts built with the offline voice" if prompts_dir
                else "support line, prompts NOT built: spoken live by the offline voice")
    elif a.workload == "listening":
        what = (f"a menu waiting for a spoken answer, speech-to-text {a.stt} "
                "(the ElevenLabs emulator transcribes; the caller is silent)")
    else:
        what = "demo menu, every turn streamed from the ElevenLabs emulator"
    header = describe_cpus(plan) + [f"workload: {a.workload} ({what}); binary: {binary}"]
    for line in header:
        print(line, file=sys.stderr)

    rows = []
    for n in (int(x) for x in a.counts.split(",")):
        ramp = a.ramp if a.ramp is not None else max(1.0, n / 200)
        seconds = a.seconds if a.seconds is not None else max(20.0, ramp + a.warm + 10)
        if seconds - 1.0 - ramp - a.warm < 2.0:
            raise BenchError(f"N={n}: --seconds {seconds:g} leaves under 2 s with every call up "
                             f"(ramp {ramp:g} s + warm {a.warm:g} s + 1 s); use --seconds {ramp + a.warm + 3:g} or more")
        print(f"N={n}: {seconds:g} s calls, ramp {ramp:g} s …", file=sys.stderr)
        r = run(a, plan, n, seconds, ramp, prompts_dir)
        rows.append(r)
        print(f"N={n}: {r['summary']}", file=sys.stderr)
        print_run(r)
        sys.stdout.flush()

    cols = [("calls", "N"), ("server_cpu_pct_per_call", "server CPU %/call"), ("server_cpu_cores", "server cores"),
            ("sim_cpu_cores", "sim cores"), ("sim_cpu_pct_per_call", "sim CPU %/call")]
    if a.workload in ("elevenlabs", "listening"):
        cols.append(("emulator_cpu_cores", "emulator cores"))
    cols += [("rss_kib_per_call", "RSS KiB/call"), ("talk_pct", "talk %"), ("gap_p50_ms", "gap p50"),
             ("gap_p99_ms", "gap p99"), ("gap_max_ms", "gap max"), ("first_media_p50_ms", "first p50"),
             ("first_media_p99_ms", "first p99"), ("key_clear_p50_ms", "key→clear p50"),
             ("key_clear_p99_ms", "key→clear p99"), ("underruns", "underruns"), ("failed_calls", "failed"),
             ("violations", "violations"), ("send_late_p99_ms", "sim late p99"),
             ("loop_cpu_max_dev_pct", "loop CPU max dev %"), ("loop_calls_max_dev_pct", "loop calls max dev %"),
             ("shared", "shared"), ("load_bound", "load-bound"), ("other_cores", "other cores")]
    for line in header:
        print(line)
    for r in rows:
        for why in r["load_bound"]:
            print(f"LOAD-BOUND at N={r['calls']}: {why}")
        if r["noisy"]:
            print(f"NOISY at N={r['calls']}: {r['noisy']}")
    print()
    print("| " + " | ".join(c[1] for c in cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        cells = [fmt(r.get(key), 1 if key in ("talk_pct", "loop_cpu_max_dev_pct", "loop_calls_max_dev_pct") else
                     2 if key == "other_cores" else 3)
                 for key, _ in cols]
        print("| " + " | ".join(cells) + " |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
