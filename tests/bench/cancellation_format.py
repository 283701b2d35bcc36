#!/usr/bin/env python3
"""Format check of the generated cancellation section of docs/benchmarks.md.

    python3 tests/bench/cancellation_format.py < section

Exit 0 when the text has the format `tests/bench/cancellation.sh --write-docs` writes: its
heading, the `- date:` and `- machine:` lines, the table header, and exactly the generator's rows
in its order, each with four cells. The rows are read from the generator itself (its `rows`
list), so a row added to or dropped from cancellation.sh fails here until the doc is regenerated.
Used by tests/docs/generated.py check (registered in tests/docs/generators.tsv).
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
GENERATOR = os.path.join(HERE, "cancellation.sh")
HEADING = "## Cancellation: quitting and freeing never wait on the network (issue 13)"
TABLE_HEADER = "| measure (ms) | median (min–max, n) | goal | goal met |"
ROW = re.compile(r'^\s*\("(?P<what>[^"]+)", "\w+", (?:"\w+"|None), "[^"]*", ')


def generator_rows():
    with open(GENERATOR, encoding="utf-8") as f:
        return [m.group("what") for m in map(ROW.match, f) if m]


def check(text):
    lines = text.splitlines()
    problems = []
    expected = generator_rows()
    if not expected:
        problems.append(f"no rows found in {GENERATOR} (the check cannot run)")
    if not lines or lines[0] != HEADING:
        problems.append(f"first line is not the heading {HEADING!r}")
    if not any(l.startswith("- date: ") for l in lines):
        problems.append("no '- date:' line")
    if not any(l.startswith("- machine: ") for l in lines):
        problems.append("no '- machine:' line")
    if TABLE_HEADER not in lines:
        problems.append("no table header")
        return problems
    body = [l for l in lines[lines.index(TABLE_HEADER) + 2:] if l.startswith("| ")]
    found = [l[2:].split(" | ")[0] for l in body]
    if found != expected:
        problems.append(f"table rows {found} are not the generator's rows {expected}")
    for l in body:
        if l.count(" | ") != 3 or not l.endswith(" |"):
            problems.append(f"row without four cells: {l}")
    return problems


if __name__ == "__main__":
    problems = check(sys.stdin.read())
    for p in problems:
        print(f"cancellation_format.py: {p}", file=sys.stderr)
    sys.exit(1 if problems else 0)
