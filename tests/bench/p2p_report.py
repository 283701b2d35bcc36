#!/usr/bin/env python3
"""Issue 10's speed section of docs/benchmarks.md (written by tests/bench/p2p.sh).

    p2p_report.py SAMPLES META > section.md
    p2p_report.py --check < section      exit 0 when the text has this format

--check is the section's format check (tests/docs/generators.tsv, run by
tests/docs/generated.py check): the heading, the `- date/machine/load average/build:` lines,
the table header and exactly the rows of ROWS, in order, six cells each.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_table import Row, main  # noqa: E402

HEADING = "## Peer to peer: STUN, NAT behaviour, room join → ENet connected (issue 10, speed)"

ROWS = [
    Row("STUN public endpoint (ms): core `query_port` (the CLI's in-process time) vs the bare round trip, home NAT",
        "stun_cli", "rtt", "gdnat", "max", 10, "≤ 10 ms",
        "compare with the bare round trip of the same run (the machine's load shows in both)."),
    Row("STUN public endpoint (ms): `NatStun.query_async()` → `queried` in Godot vs the bare round trip",
        "stun_godot", "rtt", "gdnat", "max", 10, "≤ 10 ms",
        "the signal comes on the main thread at the next frame after the answer; a late frame on "
        "the loaded machine delays it (compare with the core row)."),
    Row("NAT behaviour (ms), home preset (EIM, APDF): core `discover` (CLI, in-process) vs `turnutils_natdiscovery -m -f`",
        "behaviour_home", "turnutils", "gdnat", "max", 1000, "≤ 1000 ms"),
    Row("NAT behaviour (ms), fullcone preset: core vs turnutils_natdiscovery",
        "behaviour_fullcone", "turnutils", "gdnat", "max", 1000, "≤ 1000 ms"),
    Row("NAT behaviour (ms), symmetric preset: core vs turnutils_natdiscovery",
        "behaviour_symmetric", "turnutils", "gdnat", "max", 1000, "≤ 1000 ms"),
    Row("NAT behaviour (ms), home preset: `NatStun.probe_behaviour_async()` → `behaviour_probed` in Godot vs turnutils_natdiscovery",
        "behaviour_godot", "turnutils", "gdnat", "max", 1000, "≤ 1000 ms"),
    Row("room join → ENet connected (ms), joiner, both players behind home NATs (`NatRoom.join()`, host already in the room)",
        "join_connect", None, "gdnat", "max", 1500, "≤ 1500 ms",
        "the `INFO` step times of the run (tests/bench/p2p.sh prints them) show where it went; the "
        "NAT behaviour probe, awaited before the punch so that a failure can name the NAT, takes "
        "about 0.5 s by itself (its filtering tests' no-answer wait)."),
    Row("the host's `NatRoom.host()` → ENet connected (ms), its wait for the joiner included (informational)",
        "host_connect", None, "gdnat", None, None, "-"),
    Row("longest main-thread frame (ms) during the join, joiner (reference: its longest of 100 idle frames just before)",
        "join_frames", "idle", "gdnat", "worst", 5, "≤ 5 ms (every sample)",
        "the `worst frames` line above gives, for each player and join, the main thread's run-queue "
        "wait (/proc/thread-self/schedstat) inside its longest interval: when this was examined "
        "most of each long interval was the main thread waiting for a CPU, not running. Two Godot "
        "processes, their gdnat workers, coturn and opentracker share the machine's 2 cores with "
        "other work; the idle reference of 100 frames just before catches such a wait less often."),
    Row("longest main-thread frame (ms) during host() → connected, host (reference: idle frames, as above)",
        "host_frames", "idle", "gdnat", "worst", 5, "≤ 5 ms (every sample)",
        "the `worst frames` line above gives, for each player and join, the main thread's run-queue "
        "wait (/proc/thread-self/schedstat) inside its longest interval: when this was examined "
        "most of each long interval was the main thread waiting for a CPU, not running. Two Godot "
        "processes, their gdnat workers, coturn and opentracker share the machine's 2 cores with "
        "other work; the idle reference of 100 frames just before catches such a wait less often."),
    Row("the longest frame's own work (ms) during the join, joiner: the process step, the loop's sleep excluded (reference: idle frames)",
        "join_work", "idle", "gdnat", "worst", 5, "≤ 5 ms (every sample)",
        "the `worst frames` line above splits the longest step into its time and the main thread's "
        "run-queue wait inside it (/proc/thread-self/schedstat): when this was examined a 4–5 ms "
        "step held 4–4.5 ms of waiting for a CPU, i.e. the step was preempted, not busy."),
    Row("the longest frame's own work (ms) during host() → connected, host (reference: idle frames)",
        "host_work", "idle", "gdnat", "worst", 5, "≤ 5 ms (every sample)",
        "the `worst frames` line above splits the longest step into its time and the main thread's "
        "run-queue wait inside it (/proc/thread-self/schedstat): when this was examined a 4–5 ms "
        "step held 4–4.5 ms of waiting for a CPU, i.e. the step was preempted, not busy."),
]

INTRO = [
    "Written by `sudo bash tests/bench/p2p.sh --write-docs` (do not edit by hand): the two-site",
    "bed of tests/testbed-p2p (each player behind its own nftables NAT router; coturn and",
    "opentracker on the \"internet\" 198.18.0.0/24), the gdnat debug build, each number beside a",
    "reference measured in the same run. Median (min–max, n samples); the ratio is",
    "gdnat/reference of the medians. Nothing here is asserted by the test suites.",
]

HOW = [
    "- **Bare round trip** (STUN reference, the physical limit): one 20-byte Binding request from",
    "  LAN A to coturn and its answer, timed with `time.perf_counter()` inside one python3",
    "  process (no start-up, nothing parsed).",
    "- **Core rows**: `gdnat stun` / `gdnat nat-type` (rust/gdnat-cli) run in LAN A; the number is",
    "  the `elapsed_ms` the CLI prints, timed in-process around the core call (socket bind,",
    "  requests, answers parsed), without the process's start-up.",
    "- **turnutils_natdiscovery -m -f** (coturn's own client, mapping and filtering tests): the",
    "  wall time of the whole process, as a user would run it; router A's preset is switched",
    "  with `bed.sh preset a <name>` (conntrack flushed).",
    "- **Godot rows**: tests/godot/bench/p2p_bench.gd, headless, one process; from the call",
    "  (`query_async`, `probe_behaviour_async`) to the signal's emission, which comes on the main",
    "  thread at the next frame after the worker finished (the main loop runs about 1 kHz here;",
    "  a 60 fps game adds up to 16.7 ms).",
    "- **Room join → ENet connected**: the host (LAN A) calls `NatRoom.host()` and prints when it",
    "  is in the room; only then is the joiner (LAN B) started, and its time runs from",
    "  `NatRoom.join()` to the returned peer being connected: STUN query, the NAT behaviour probe",
    "  (awaited before punching, bounded), tracker announce, hole punch and ENet's handshake on",
    "  the punched port. The `INFO` lines of the run give each step's time. The same opentracker",
    "  room (`gdnat-test-room`, the only hash on its whitelist) is used for every repetition.",
    "- **Frames**: every `SceneTree.process_frame` interval from the call to the connected peer;",
    "  the reference is the longest of 100 idle frames recorded just before in the same process",
    "  (what the loaded machine does to a main loop that has nothing to do).",
    "- **Worst frames** (header line): per player and join, the longest own work and the longest",
    "  interval, each with the main thread's run-queue wait in it (the second field of",
    "  `/proc/thread-self/schedstat`, read at each frame's start and end): how much of it the",
    "  thread spent waiting for a CPU rather than running.",
    "- **A frame's own work**: from the frame's `process_frame` emission (the recorder's handler)",
    "  to the `_process` of a node that processes after every other one (`process_priority`",
    "  2^30): the signal handlers and resumed coroutines, gdnat's per-frame polling and signal",
    "  delivery, every node's `_process`. Unlike the interval between frames it leaves out the",
    "  loop's sleep and the time the process was not scheduled between frames (preemption",
    "  inside a step still counts). Godot's own `Performance.TIME_PROCESS` cannot be used: it is",
    "  the largest process time of the last second, updated once a second.",
]

if __name__ == "__main__":
    sys.exit(main(sys.argv, HEADING, ROWS, INTRO, HOW))
