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

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs"))
import section_format  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GENERATOR = os.path.join(HERE, "cancellation.sh")
HEADING = "## Cancellation: quitting and freeing never wait on the network (issue 13)"
TABLE_HEADER = "| measure (ms) | median (min–max, n) | goal | goal met |"
ROW = re.compile(r'^\s*\("(?P<what>[^"]+)", "\w+", (?:"\w+"|None), "[^"]*", ')


def generator_rows():
    with open(GENERATOR, encoding="utf-8") as f:
        return [m.group("what") for m in map(ROW.match, f) if m]


def check(text):
    expected = generator_rows()
    if not expected:
        return [f"no rows found in {GENERATOR} (the check cannot run)"]
    found, rows = section_format.problems(text, HEADING, ("- date: ", "- machine: "), TABLE_HEADER, 4)
    labels = [row[0] for row in rows]
    if rows and labels != expected:
        found.append(f"table rows {labels} are not the generator's rows {expected}")
    return found


if __name__ == "__main__":
    problems = check(sys.stdin.read())
    for p in problems:
        print(f"cancellation_format.py: {p}", file=sys.stderr)
    sys.exit(1 if problems else 0)
