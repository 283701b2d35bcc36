#!/usr/bin/env python3
"""Format check of the generated per-call section of docs/benchmarks.md.

    python3 tests/bench/per_call_format.py < section

Exit 0 when the text has the format `tests/bench/per-call-instructions.sh --write` writes: its
heading, the `- command:`, `- date:` and `- machine:` lines, its table header (read from the
generator itself, so a changed column fails here until the doc is regenerated), and at least one
row, each with six cells whose counted columns are numbers. Registered in
tests/docs/generators.tsv; run by tests/docs/generated.py check.
"""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs"))
import section_format  # noqa: E402

GENERATOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "per-call-instructions.sh")
HEADING = "## Cost of one add/delete call, counted (issue 8, speed)"
NUMBER = re.compile(r"^[0-9][0-9,]*(\.[0-9]+)?$")


def generator_table_header():
    with open(GENERATOR, encoding="utf-8") as f:
        for line in f:
            m = re.match(r'^\s*"(\| client \|.*\|)",\s*$', line)
            if m:
                return m.group(1)
    return None


def check(text):
    header = generator_table_header()
    if header is None:
        return [f"no table header found in {GENERATOR} (the check cannot run)"]
    found, rows = section_format.problems(text, HEADING, ("- command: ", "- date: ", "- machine: "), header, 6)
    for row in rows:
        if len(row) == 6 and not (NUMBER.match(row[1]) and NUMBER.match(row[3])):
            found.append(f"row whose counts are not numbers: {row}")
    return found


if __name__ == "__main__":
    problems = check(sys.stdin.read())
    for p in problems:
        print(f"per_call_format.py: {p}", file=sys.stderr)
    sys.exit(1 if problems else 0)
