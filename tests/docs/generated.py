#!/usr/bin/env python3
"""Generated sections of the docs: checked against their generators, and replaced by them.

    generated.py check            every marked section of docs/*.md has its generator's format
    generated.py replace DOC CMD  replaces the body of DOC's section marked with CMD by stdin

A generated section is
    <!-- generated: <command> -->
    ...what the command wrote...
    <!-- end generated -->
and tests/docs/generators.tsv names, per doc and command, the format check to run (the section's
text on its stdin, exit 0 when it has the command's format). `check` fails on: a section whose
command is not registered, an unclosed or nested marker, a section whose format check fails, and
a registered section missing from its doc. Prints PASS/FAIL lines and `N passed, N failed`.
To add a generated section: write the markers from its generator and add one line to
generators.tsv.
"""
import glob
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REGISTRY = os.path.join(REPO, "tests", "docs", "generators.tsv")
BEGIN = re.compile(r"^<!-- generated: (.+?) -->$")
END = "<!-- end generated -->"


def registry():
    entries = []
    with open(REGISTRY, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 3:
                raise SystemExit(f"generators.tsv: not 3 TAB-separated fields: {line}")
            entries.append(tuple(parts))
    return entries


def sections(text):
    """[(command, body, line number)] of a doc, or raises ValueError on a marker error."""
    out, current, body, start, fenced = [], None, [], 0, False
    for n, line in enumerate(text.splitlines(), 1):
        if current is None and line.startswith("```"):
            fenced = not fenced   # markers shown as examples in a code block are not sections
            continue
        if fenced:
            continue
        m = BEGIN.match(line)
        if m:
            if current is not None:
                raise ValueError(f"line {n}: generated section opened inside another (line {start})")
            current, body, start = m.group(1), [], n
        elif line == END:
            if current is None:
                raise ValueError(f"line {n}: end marker without a start")
            out.append((current, "\n".join(body) + "\n", start))
            current = None
        elif current is not None:
            body.append(line)
    if current is not None:
        raise ValueError(f"line {start}: generated section never closed")
    return out


def check():
    passed = failed = 0

    def result(ok, what):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
        print(("PASS " if ok else "FAIL ") + what)

    checks = {(doc, cmd): fmt for doc, cmd, fmt in registry()}
    seen = set()
    for path in sorted(glob.glob(os.path.join(REPO, "docs", "*.md"))):
        doc = os.path.relpath(path, REPO)
        try:
            found = sections(open(path, encoding="utf-8").read())
        except ValueError as e:
            result(False, f"{doc}: {e}")
            continue
        for cmd, body, line in found:
            fmt = checks.get((doc, cmd))
            if fmt is None:
                result(False, f"{doc}:{line}: section of `{cmd}` has no format check in tests/docs/generators.tsv")
                continue
            seen.add((doc, cmd))
            if not body.strip():
                result(False, f"{doc}:{line}: section of `{cmd}` is empty")
                continue
            p = subprocess.run(fmt, shell=True, cwd=REPO, input=body, capture_output=True, text=True,
                               timeout=120)
            detail = (p.stderr or p.stdout).strip().replace("\n", "; ")[:600]
            result(p.returncode == 0, f"{doc}:{line}: section of `{cmd}` has its generator's format"
                   + ("" if p.returncode == 0 else f" (`{fmt}` exit {p.returncode}: {detail})"))
    for doc, cmd in checks:
        if (doc, cmd) not in seen:
            result(False, f"{doc}: no generated section of `{cmd}` (tests/docs/generators.tsv lists one)")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


def replace(doc, cmd):
    body = sys.stdin.read()
    if not body.endswith("\n"):
        body += "\n"
    path = os.path.join(REPO, doc) if not os.path.isabs(doc) else doc
    text = open(path, encoding="utf-8").read()
    begin = f"<!-- generated: {cmd} -->"
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip("\n") == begin]
    if len(starts) != 1:
        raise SystemExit(f"generated.py: {doc} has {len(starts)} sections marked `{begin}`, not 1")
    ends = [i for i in range(starts[0] + 1, len(lines)) if lines[i].rstrip("\n") == END]
    if not ends:
        raise SystemExit(f"generated.py: {doc}: the section of `{cmd}` is never closed")
    new = "".join(lines[:starts[0] + 1]) + body + "".join(lines[ends[0]:])
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(new)
    os.replace(tmp, path)


def main():
    args = sys.argv[1:]
    if args == ["check"]:
        sys.exit(check())
    if len(args) == 3 and args[0] == "replace":
        replace(args[1], args[2])
        return
    print(__doc__, file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
