#!/usr/bin/env python3
"""Turns the benchmark samples into the markdown table of docs/benchmarks.md.

    report.py SAMPLES META > table.md
    report.py --check < section     exit 0 when the text has the format this script writes

--check is the format check of the generated section in docs/benchmarks.md
(tests/docs/check-generated.sh): `- key: value` lines, the table header, then exactly the
rows of ROWS, in order, each with its 7 cells.

SAMPLES holds lines `SAMPLE <measure> <side> <value>` (other lines are ignored).
META holds `key=value` lines (date, machine, Godot version, build measured, notes).
Prints median and min/max per side and the ratio ours/engine of the medians. The
"goal" column only restates the issue's target next to the number; nothing is asserted.
"""
import statistics
import sys

# (issue, what, measure, ours side, engine side, goal kind, goal value, goal text)
#   goal kinds: "max" ours median <= value; "worst" every ours sample <= value;
#               "ratio" ours/engine <= value;
#               "min_ratio" ours/engine >= value; None: no goal.
ROWS = [
    ("foundation", "discovery, router present (ms): core CLI `gdnat discover`, wall time of the process",
     "discover_router_ms", "cli-wall", "engine", "max", 100, "≤ 100 ms"),
    ("foundation", "discovery, router present (ms): time the CLI reports (`discovered N in X ms`)",
     "discover_router_ms", "cli-reported", "engine", "max", 100, "≤ 100 ms"),
    ("drop-in", "discovery, router present (ms): `NatUPNP.discover()` vs `UPNP.discover()`",
     "discover_router_ms", "ours", "engine", "ratio", 0.05, "≤ 0.05×"),
    ("foundation", "discovery, no router (ms): CLI `gdnat discover --timeout 2000`, wall time of "
     "the whole process (start-up and exit included, so informational; the goal is judged on "
     "the in-process call below, the same core `discover()`)",
     "discover_none_2000_ms", "cli-wall", "engine", None, None, "-"),
    ("foundation / drop-in", "discovery, no router (ms): `discover(2000)`, the call itself",
     "discover_none_2000_ms", "ours", "engine", "max", 2000, "≤ 2000 ms (timeout)"),
    ("foundation", "discovery, no router (ms): CLI `gdnat discover --timeout 500`, wall time of "
     "the whole process (informational, as above)",
     "discover_none_500_ms", "cli-wall", "engine", None, None, "-"),
    ("foundation / drop-in", "discovery, no router (ms): `discover(500)`, the call itself",
     "discover_none_500_ms", "ours", "engine", "max", 500, "≤ 500 ms (timeout)"),
    ("foundation / drop-in", "`add_port_mapping` per call (ms), blocking, hand-filled device, same control URL",
     "add_port_mapping_ms", "ours", "engine", "ratio", 1.1, "≤ 1.1×"),
    ("foundation / drop-in", "`delete_port_mapping` per call (ms), blocking, same devices",
     "delete_port_mapping_ms", "ours", "engine", "ratio", 1.1, "≤ 1.1×"),
    ("never block a frame", "longest main-thread frame (ms) while discovering + mapping + unmapping "
     "(ours: async API; engine: its blocking calls)",
     "frame_max_ms", "ours", "engine", "worst", 5, "≤ 5 ms (every repetition)"),
    # No p99 row: a window holds a few dozen frames (the engine's blocking side a handful), too
    # few for a 99th percentile; the longest frame above is the honest number.
    ("never block a frame", "`new()` to mapping confirmed (ms) (ours: `discover_async` + "
     "`add_port_mapping_async` on the discovered gateway; engine: `discover()` + a hand-filled "
     "device's `add_port_mapping`, see note)",
     "first_map_ms", "ours", "engine", "max", 100, "≤ 100 ms"),
    ("never block a frame", "add/delete pairs (count in the header), pairs per second (higher is better; ours: "
     "async, one awaited signal per call; engine: blocking)",
     "pairs_per_s", "ours", "engine", None, None, "-"),
    ("never block a frame", "process RSS before those pairs, KiB",
     "pairs_rss_before_kib", "ours", "engine", None, None, "-"),
    ("never block a frame", "process RSS after those pairs, KiB",
     "pairs_rss_after_kib", "ours", "engine", None, None, "-"),
    ("never block a frame", "process RSS growth over those pairs, KiB",
     "pairs_rss_growth_kib", "ours", "engine", "max", 1024, "≤ 1024 KiB"),
    ("never block a frame", "the same pairs queued: all add/delete calls issued in one frame, "
     "pairs per second until the last signal (engine: its blocking pairs; rounds alternating, see notes)",
     "pairs_queued_per_s", "ours", "engine", None, None, "-"),
    ("never block a frame", "process RSS after the queued pairs, KiB",
     "pairs_queued_rss_after_kib", "ours", "engine", None, None, "-"),
    ("never block a frame", "process RSS growth over the queued pairs, KiB",
     "pairs_queued_rss_growth_kib", "ours", "engine", "max", 1024, "≤ 1024 KiB"),
    # Issue 8's speed goals, on the same measures as the rows above.
    ("issue 8", "discovery, router present (ms): `NatUPNP.discover()` (the router itself answers after about 50 ms)",
     "discover_router_ms", "ours", "engine", "max", 60, "≤ 60 ms"),
    ("issue 8", "`add_port_mapping` per call (ms), as above",
     "add_port_mapping_ms", "ours", "engine", "ratio", 1.0, "≤ 1.0×"),
    ("issue 8", "`delete_port_mapping` per call (ms), as above",
     "delete_port_mapping_ms", "ours", "engine", "ratio", 1.0, "≤ 1.0×"),
    ("issue 8", "queued add/delete pairs per second, as above, against the engine's blocking pairs",
     "pairs_queued_per_s", "ours", "engine", "min_ratio", 1.0, "≥ 1.0×"),
]


def load_samples(path):
    samples = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) != 4 or parts[0] != "SAMPLE":
                continue
            try:
                value = float(parts[3])
            except ValueError:
                continue
            samples.setdefault((parts[1], parts[2]), []).append(value)
    return samples


def load_meta(path):
    meta = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                key, value = line.split("=", 1)
                meta.append((key, value))
    return meta


def fmt(x):
    if x is None:
        return "-"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def cell(values):
    """`median (min–max, n)` or `-` when nothing was measured."""
    if not values:
        return "-", None
    med = statistics.median(values)
    if len(values) == 1:
        return f"{fmt(med)} (n=1)", med
    return f"{fmt(med)} ({fmt(min(values))}–{fmt(max(values))}, n={len(values)})", med


def goal_met(kind, value, ours, engine, worst=None):
    if kind is None or ours is None:
        return "-"
    if kind == "max":
        return "yes" if ours <= value else "no"
    if kind == "worst":
        return "yes" if worst <= value else f"no (worst {fmt(worst)})"
    if engine is None or engine == 0:
        return "-"
    ratio = ours / engine
    if kind == "ratio":
        return "yes" if ratio <= value else "no"
    if kind == "min_ratio":
        return "yes" if ratio >= value else "no"
    return "-"


HEADER = ["| issue | measure | engine: median (min–max, n) | ours: median (min–max, n) "
          "| ours/engine | goal | goal met |",
          "|---|---|---:|---:|---:|---|---|"]


def check(text):
    """Problems of a section that should be this script's output (empty list: none)."""
    lines = [line for line in text.splitlines() if line.strip()]
    problems = []
    meta = [line for line in lines if not line.startswith("|")]
    table = [line for line in lines if line.startswith("|")]
    for line in meta:
        if not (line.startswith("- ") and ": " in line):
            problems.append(f"not a `- key: value` line: {line[:80]}")
    first_row = next((i for i, line in enumerate(lines) if line.startswith("|")), len(lines))
    if any(not line.startswith("|") for line in lines[first_row:]):
        problems.append("text after the start of the table")
    if table[:2] != HEADER:
        problems.append("table header differs from report.py's: %r" % table[:2])
    rows = table[2:]
    want = [(issue, what) for issue, what, *_ in ROWS]
    got = []
    for row in rows:
        cells = [c.strip() for c in row.strip().strip("|").split(" | ")]
        if len(cells) != 7:
            problems.append(f"row with {len(cells)} cells, not 7: {row[:80]}")
        got.append(tuple(cells[:2]))
    if got != want:
        missing = [w for w in want if w not in got]
        extra = [g for g in got if g not in want]
        problems.append(f"rows differ from report.py's ROWS (missing: {[m[1][:50] for m in missing]}, "
                        f"not in ROWS: {[e[1][:50] for e in extra]}; same set in another order: "
                        f"{not missing and not extra})")
    return problems


def main():
    if sys.argv[1:] == ["--check"]:
        problems = check(sys.stdin.read())
        for p in problems:
            print(f"report.py --check: {p}", file=sys.stderr)
        sys.exit(1 if problems else 0)
    samples = load_samples(sys.argv[1])
    meta = load_meta(sys.argv[2])
    out = list(HEADER)
    for issue, what, measure, ours_side, engine_side, kind, value, goal in ROWS:
        ours_txt, ours_med = cell(samples.get((measure, ours_side), []))
        eng_txt, eng_med = cell(samples.get((measure, engine_side), []))
        ratio = "-"
        # A ratio of memory sizes or growths says nothing; only times and rates get one.
        if ours_med is not None and eng_med and "_rss_" not in measure:
            ratio = f"{ours_med / eng_med:.3f}×"
        ours_values = samples.get((measure, ours_side), [])
        worst = max(ours_values) if ours_values else None
        out.append(f"| {issue} | {what} | {eng_txt} | {ours_txt} | {ratio} | {goal} | "
                   f"{goal_met(kind, value, ours_med, eng_med, worst)} |")
    table = "\n".join(out)
    header = [f"- {key}: {value}" for key, value in meta]
    print("\n".join(header))
    print()
    print(table)


if __name__ == "__main__":
    main()
