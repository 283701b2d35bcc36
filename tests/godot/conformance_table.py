#!/usr/bin/env python3
"""The conformance table of docs/conformance.md: rendered from a run, and checked.

    conformance_table.py render TABLE RUNLINE > section   (tests/godot/run-conformance.sh --write-docs)
    conformance_table.py check < section                  (tests/docs/generated.py, a CI stage)

TABLE is the combined `| check | engine | ours | verdict |` table that run-conformance.sh writes
to $GDNAT_LOGS/conformance-table.md. The section is one summary line (RUNLINE, then the verdict
counts recounted from the rows), a blank line and the table. `check` verifies exactly that
format: the summary's counts match the rows, the header, 4 cells per row, and a verdict of the
suite's grammar (conformance.gd) in each row.
"""
import re
import sys

HEADER = ["| check | engine | ours | verdict |", "|---|---|---|---|"]
VERDICT = re.compile(r"^(SAME|EXTRA|INFO|ALLOWED\((D\d+|L\d+)\)|SKIP: .+|DIFF.*|SPEC\? .+)$")


def cells(row):
    inner = row.strip()
    if not (inner.startswith("| ") and inner.endswith(" |")):
        return None
    return re.split(r"(?<!\\) \| ", inner[2:-2])


def summary(rows):
    kinds, allowed = {}, {}
    for row in rows:
        verdict = cells(row)[-1]
        kind = re.split(r"[(: ]", verdict, maxsplit=1)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
        m = re.match(r"ALLOWED\((\w+)\)", verdict)
        if m:
            allowed[m.group(1)] = allowed.get(m.group(1), 0) + 1
    by_kind = " ".join(f"{k}={kinds[k]}" for k in sorted(kinds))
    by_id = " ".join(f"{k}={allowed[k]}" for k in sorted(allowed, key=lambda i: (i[0], int(i[1:]))))
    return f"{len(rows)} rows; verdicts `{by_kind}`; ALLOWED by id `{by_id}`"


def render(table_path, runline):
    rows = [line.rstrip("\n") for line in open(table_path, encoding="utf-8")
            if line.startswith("| ") and line.rstrip("\n") != HEADER[0]]
    print(f"{runline}; {summary(rows)}.")
    print()
    print("\n".join(HEADER))
    print("\n".join(rows))


def check(text):
    lines = text.splitlines()
    problems = []
    while lines and not lines[0].strip():
        lines.pop(0)
    if len(lines) < 4:
        return ["too short for a summary line and a table"]
    first, blank, header, rows = lines[0], lines[1], lines[2:4], [line for line in lines[4:] if line.strip()]
    if blank.strip():
        problems.append("no blank line after the summary line")
    if header != HEADER:
        problems.append(f"table header differs: {header}")
    bad = 0
    for row in rows:
        c = cells(row)
        if c is None or len(c) != 4 or not VERDICT.match(c[3]):
            bad += 1
            if bad <= 3:
                problems.append(f"not a row of the suite's table (4 cells, a known verdict): {row[:120]}")
    if bad == 0 and not first.endswith(f"; {summary(rows)}."):
        problems.append(f"summary line does not match the rows: want it to end with '; {summary(rows)}.'")
    return problems


def main():
    args = sys.argv[1:]
    if args == ["check"]:
        problems = check(sys.stdin.read())
        for p in problems:
            print(f"conformance_table.py check: {p}", file=sys.stderr)
        sys.exit(1 if problems else 0)
    if len(args) == 3 and args[0] == "render":
        render(args[1], args[2])
        return
    print(__doc__, file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
