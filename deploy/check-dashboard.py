#!/usr/bin/env python3
"""Checks deploy/grafana/voicebridge-dashboard.json against the metrics the sources register.

Every `voicebridge_*` name in a panel expression or template query must be one that
Sources/ registers through swift-prometheus (`MetricNameDescriptor.bridge(name, unit, help)`
is `voicebridge_<name>_<unit>`, or `voicebridge_<name>` when the unit is empty; a histogram
adds `_bucket`, `_sum` and `_count`), and every label the expressions select or group by must be
one the sources attach (plus Prometheus' own `instance`/`job` and the histograms' `le`).

    python3 deploy/check-dashboard.py [DASHBOARD] [--sources DIR] [--metrics SCRAPE]

With --metrics (a saved `curl http://127.0.0.1:8080/metrics`), names the dashboard uses that the
scrape lacks are listed too: a warning, since labelled counters appear only once counted.

Exit 0 when everything matches; 1 with one line per problem otherwise.
"""
import argparse
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
NAMESPACE = "voicebridge"
# Labels Prometheus adds to every scraped series, and the histogram bucket label.
IMPLICIT_LABELS = {"instance", "job", "le", "__name__"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless"}


def registered(sources: pathlib.Path):
    """(names, histogram names, label names) registered anywhere under `sources`."""
    names, histograms, labels = set(), set(), set()
    bridge = re.compile(r'\.bridge\(\s*"([a-z0-9_]+)"\s*(\+[^,]*)?,\s*"([a-z0-9_]*)"', re.S)
    direct = re.compile(r'MetricNameDescriptor\(\s*namespace:\s*"([a-z0-9_]+)"\s*,\s*metricName:\s*"([a-z0-9_]+)"\s*,\s*unitName:\s*"([a-z0-9_]*)"', re.S)
    for path in sorted(sources.rglob("*.swift")):
        text = path.read_text(encoding="utf-8")
        for m in bridge.finditer(text):
            prefix, dynamic, unit = m.group(1), m.group(2), m.group(3)
            if dynamic:
                # `.bridge("speech_cache_" + $0.0, …)` over a list of ("suffix", "help") pairs written
                # just above: each pair's first string completes a name.
                window = text[max(0, m.start() - 1500):m.start()]
                stems = [prefix + s for s in re.findall(r'\(\s*"([a-z0-9_]+)"\s*,\s*"', window)]
            else:
                stems = [prefix]
            before = text[max(0, m.start() - 200):m.start()]
            is_histogram = re.search(r'make\w*Histogram\(\s*(descriptor:\s*)?$', before) is not None
            for stem in stems:
                name = "_".join(p for p in (NAMESPACE, stem, unit) if p)
                names.add(name)
                if is_histogram:
                    histograms.add(name)
        for m in direct.finditer(text):
            names.add("_".join(p for p in m.groups() if p))
        # Labels: `labels: [("accepted", "true")]`, `[("kind", key.kind), ("flow", …)]`, `label: "kind"`.
        for m in re.finditer(r'labels:\s*\[([^\]]*)\]', text):
            labels.update(re.findall(r'\(\s*"([a-z_][a-z0-9_]*)"\s*,', m.group(1)))
        labels.update(re.findall(r'\blabel:\s*"([a-z_][a-z0-9_]*)"\s*,\s*value:', text))
    return names, histograms, labels


def expressions(dashboard):
    """(where, PromQL) for every target expression and templating query."""
    out = []

    def walk_panels(panels):
        for panel in panels:
            for target in panel.get("targets", []):
                if "expr" in target:
                    out.append((f'panel "{panel.get("title")}" {target.get("refId")}', target["expr"]))
            walk_panels(panel.get("panels", []))

    walk_panels(dashboard.get("panels", []))
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if query:
            out.append((f'variable "{variable.get("name")}"', query))
    return out


def used_labels(expr):
    """Label names in selectors ({a="b"}) and in by/without (...) clauses."""
    found = set()
    for selector in re.findall(r'\{([^}]*)\}', expr):
        found.update(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)', selector))
    for group in re.findall(r'\b(?:by|without)\s*\(([^)]*)\)', expr):
        found.update(x.strip() for x in group.split(",") if x.strip())
    # label_values(metric, label)
    found.update(re.findall(r'label_values\([^,]*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)', expr))
    return found - PROMQL_WORDS


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dashboard", nargs="?", default=str(ROOT / "deploy/grafana/voicebridge-dashboard.json"))
    parser.add_argument("--sources", default=str(ROOT / "Sources"))
    parser.add_argument("--list", action="store_true", help="print the registered metric names")
    parser.add_argument("--metrics", help="a saved /metrics scrape to compare with too")
    args = parser.parse_args()

    dashboard = json.loads(pathlib.Path(args.dashboard).read_text(encoding="utf-8"))
    names, histograms, labels = registered(pathlib.Path(args.sources))
    if not names:
        print(f"error: no metrics found under {args.sources}", file=sys.stderr)
        return 1
    # A histogram is exposed only as its _bucket, _sum and _count series.
    exposed = names - histograms
    for h in histograms:
        exposed.update({h + "_bucket", h + "_sum", h + "_count"})

    if args.list:
        for name in sorted(names):
            print(f"  {name}{'  (histogram)' if name in histograms else ''}")
    problems, seen = [], set()
    exprs = expressions(dashboard)
    for where, expr in exprs:
        # Template variables ($instance, $__rate_interval) are not metric names.
        for name in re.findall(r'(?<![\w$])(' + NAMESPACE + r'_[a-z0-9_]+)', expr):
            seen.add(name)
            if name not in exposed:
                hint = " (a histogram: use _bucket/_sum/_count)" if name in histograms else ""
                problems.append(f"{where}: {name} is not registered in {args.sources}{hint}")
            elif name.endswith("_bucket") and "histogram_quantile" not in expr:
                problems.append(f"{where}: {name} outside histogram_quantile")
        for label in sorted(used_labels(expr) - labels - IMPLICIT_LABELS):
            problems.append(f"{where}: label {label!r} is not attached to any metric in {args.sources}")

    print(f"{len(exprs)} expressions, {len(seen)} metric names, checked against {len(names)} registered metrics "
          f"({len(histograms)} histograms) and labels {sorted(labels)}")
    unused = sorted(n for n in names if not any(s == n or s.startswith(n + "_") for s in seen))
    if unused:
        print("not on the dashboard: " + ", ".join(unused))
    if args.metrics:
        scraped = set()
        for line in pathlib.Path(args.metrics).read_text(encoding="utf-8").splitlines():
            m = re.match(r'#\s*TYPE\s+(\S+)\s+(\S+)', line) or re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)[{\s]', line)
            if m:
                scraped.add(m.group(1))
                if m.lastindex == 2 and m.group(2) == "histogram":
                    scraped.update({m.group(1) + "_bucket", m.group(1) + "_sum", m.group(1) + "_count"})
        missing = sorted(seen - scraped)
        print(f"scrape {args.metrics}: {len(scraped)} names; " +
              ("every dashboard name present" if not missing else "not in it yet (counted only once they happen?): " + ", ".join(missing)))
    for p in problems:
        print("error: " + p)
    if problems:
        return 1
    print("ok: every metric and label the dashboard uses is registered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
