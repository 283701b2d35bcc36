"""Shared by the generated speed sections of issues 9 and 10 in docs/benchmarks.md
(tests/bench/port_mapping_report.py, tests/bench/p2p_report.py): samples in, markdown out, and
the format check of what was written.

A section is: its heading, a paragraph saying what wrote it, `- key: value` lines (date,
machine, load average, build, ...), the table (TABLE_HEADER, then one row per ROWS entry, in
order, six cells each), then "How each number is measured" and, for every goal the run missed,
the cause found (each row's `missed` text). Samples are lines `SAMPLE <measure> <side> <value>`
(other lines are ignored). Nothing is asserted: the goal column restates the issue's target and
"goal met" compares the run's median (or its worst sample, for "worst" goals) with it.
"""
import statistics

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs"))
import section_format  # noqa: E402

TABLE_HEADER = "| measure | reference: median (min–max, n) | gdnat: median (min–max, n) | gdnat/reference | goal | goal met |"
TABLE_RULE = "|---|---:|---:|---:|---|---|"
KEYS = ("- date: ", "- machine: ", "- load average: ", "- build: ")


class Row:
    """One table row: `what` (the first cell), the measure's name in the samples, the side of
    the reference (None: no reference) and of gdnat, the goal (kind "max": median <= value,
    "worst": every sample <= value, None: no goal) and its text, and what to say when the goal
    is missed (the cause found)."""

    def __init__(self, what, measure, ref, ours, kind, value, goal, missed=""):
        self.what, self.measure, self.ref, self.ours = what, measure, ref, ours
        self.kind, self.value, self.goal, self.missed = kind, value, goal, missed


def load(path):
    samples = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) != 4 or parts[0] != "SAMPLE":
                continue
            try:
                samples.setdefault((parts[1], parts[2]), []).append(float(parts[3]))
            except ValueError:
                continue
    return samples


def fmt(x):
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}" if abs(x) >= 1 or x == 0 else f"{x:.3f}"


def cell(values):
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return f"{fmt(med)} (n=1)"
    return f"{fmt(med)} ({fmt(min(values))}–{fmt(max(values))}, n={len(values)})"


def met(row, values):
    if row.kind is None:
        return "-"
    if not values:
        return "no samples"
    if row.kind == "max":
        return "yes" if statistics.median(values) <= row.value else "no"
    worst = max(values)
    return "yes" if worst <= row.value else f"no (worst {fmt(worst)})"


def render(heading, intro, meta, rows, samples, how):
    """The section's text: heading, intro lines, `- key: value` meta, the table, `how` (the
    measurement notes) and the causes of the goals missed in this run."""
    out = [heading, ""] + intro + [""] + [f"- {k}: {v}" for k, v in meta] + ["", TABLE_HEADER, TABLE_RULE]
    missed = []
    for row in rows:
        ours = samples.get((row.measure, row.ours), [])
        ref = samples.get((row.measure, row.ref), []) if row.ref else []
        ratio = "-"
        if ours and ref and statistics.median(ref) > 0:
            ratio = f"{statistics.median(ours) / statistics.median(ref):.3f}×"
        verdict = met(row, ours)
        out.append(f"| {row.what} | {cell(ref)} | {cell(ours)} | {ratio} | {row.goal} | {verdict} |")
        if verdict.startswith("no") and row.missed:
            missed.append(f"- **{row.what}**: {row.missed}")
    out += ["", "How each number is measured:", ""] + how
    if missed:
        out += ["", "Goals missed in this run, and why:", ""] + missed
    return "\n".join(out)


def check(text, heading, rows):
    """Problems of a section that should be render()'s output with these rows ([]: none)."""
    found, table = section_format.problems(text, heading, KEYS, TABLE_HEADER, 6)
    lines = text.splitlines()
    if TABLE_HEADER in lines and lines[lines.index(TABLE_HEADER) + 1:lines.index(TABLE_HEADER) + 2] != [TABLE_RULE]:
        found.append("the table rule under the header is not the generator's")
    labels = [r[0] for r in table]
    want = [row.what for row in rows]
    if table and labels != want:
        found.append(f"table rows {labels} are not the generator's rows {want} (regenerate the section)")
    return found


def main(argv, heading, rows, intro, how):
    """`--check` (section on stdin; exit 1 with the problems on stderr) or
    `SAMPLES META` (META: `key=value` lines) -> the section on stdout."""
    name = os.path.basename(argv[0])
    if argv[1:] == ["--check"]:
        problems = check(sys.stdin.read(), heading, rows)
        for p in problems:
            print(f"{name} --check: {p}", file=sys.stderr)
        return 1 if problems else 0
    if len(argv) != 3:
        print(f"usage: {name} SAMPLES META | {name} --check < section", file=sys.stderr)
        return 2
    meta = []
    with open(argv[2], encoding="utf-8") as f:
        for line in f:
            if "=" in line:
                key, value = line.rstrip("\n").split("=", 1)
                meta.append((key, value))
    print(render(heading, intro, meta, rows, load(argv[1]), how))
    return 0
