#!/usr/bin/env bash
# Cost of one UPnP call (AddPortMapping or DeletePortMapping) in the client, counted rather
# than timed, so that a loaded machine gives the same answer: user-space instructions
# (valgrind --tool=callgrind) and system calls (strace -f -c) per call, for gdnat's client
# and for the engine's miniupnpc, against the simulated gateway in a throwaway namespace.
# Each client runs LOW and HIGH add/delete pairs in one process; (HIGH run - LOW run) /
# (2 * (HIGH - LOW)) is the cost of one call, free of process start-up. A wall-clock time
# per call (no tool attached) is printed too, with the load average: informational only.
# Prints a Markdown table; asserts nothing about speed.
#
#   bash tests/bench/per-call-instructions.sh [--build] [--gdnat LABEL=PATH]... [--pairs LOW,HIGH]
#                                            [--no-engine] [--write]
#
#   --build          cargo build --release the workload (gdnat-igd example per_call) and gdnat-simgw
#   --gdnat L=PATH   a gdnat per_call binary to measure under the label L (repeatable; default
#                    today=<target>/release/examples/per_call). Older code: build its per_call
#                    example in a separate worktree and pass it here.
#   --pairs L,H      pair counts of the two runs (default 10,60)
#   --no-engine      leave out miniupnpc (needs gcc and the system's libminiupnpc.so.17)
#   --write          replace the section between "<!-- generated: bash tests/bench/per-call-instructions.sh -->"
#                    and "<!-- end generated -->" in docs/benchmarks.md
#
# Needs root (tests/lib/isolated.sh: a fresh network namespace with only loopback), valgrind
# and strace. Env: CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT_DIR=$PWD
COMMAND_LINE="bash tests/bench/per-call-instructions.sh $*"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT_DIR/target}"

if [ -z "${GDNAT_PER_CALL_INSIDE:-}" ]; then
    for arg in "$@"; do
        if [ "$arg" = --build ]; then
            nice -n 10 cargo build --release --offline --locked -p gdnat-igd --example per_call -p gdnat-simgw >&2
        fi
    done
    GDNAT_PER_CALL_INSIDE=1 exec bash tests/lib/isolated.sh bash "$0" "$@"
fi

die() { echo "per-call-instructions: ERROR: $*" >&2; exit 1; }
CLIENTS=()
LOW=10
HIGH=60
ENGINE=1
WRITE=0
while [ $# -gt 0 ]; do
    case $1 in
        --build) ;;
        --gdnat) CLIENTS+=("$2"); shift ;;
        --pairs) LOW=${2%,*}; HIGH=${2#*,}; shift ;;
        --no-engine) ENGINE=0 ;;
        --write) WRITE=1 ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) die "unknown option $1" ;;
    esac
    shift
done
[ ${#CLIENTS[@]} -gt 0 ] || CLIENTS=("today=$TARGET_DIR/release/examples/per_call")
[[ "$LOW" =~ ^[0-9]+$ && "$HIGH" =~ ^[0-9]+$ && $HIGH -gt $LOW ]] || die "--pairs LOW,HIGH with HIGH > LOW"
command -v valgrind >/dev/null || die "valgrind is missing (apt-get install valgrind)"
command -v strace >/dev/null || die "strace is missing (apt-get install strace)"
SIMGW="$TARGET_DIR/release/gdnat-simgw"
[ -x "$SIMGW" ] || die "$SIMGW is missing (run with --build)"

WORK=$(mktemp -d /tmp/gdnat-per-call.XXXXXX)
SIM_PID=
cleanup() {
    # (`|| true`: under `set -e` the status of the killed gateway, 143, would become the script's.)
    [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null && { wait "$SIM_PID" 2>/dev/null || true; }
    rm -rf "$WORK"
}
trap cleanup EXIT

if [ "$ENGINE" = 1 ]; then
    LIB=$(ls /usr/lib/*/libminiupnpc.so.* 2>/dev/null | head -n 1)
    [ -n "$LIB" ] || die "libminiupnpc is missing (Debian: libminiupnpc17); --no-engine leaves it out"
    gcc -O2 -o "$WORK/miniupnpc_per_call" tests/bench/miniupnpc_per_call.c "$LIB" || die "building the miniupnpc workload failed"
    ENGINE_VERSION=$(dpkg-query -W -f '${Version}' libminiupnpc17 2>/dev/null || echo "?")
    CLIENTS=("engine (miniupnpc $ENGINE_VERSION)=$WORK/miniupnpc_per_call" "${CLIENTS[@]}")
fi

"$SIMGW" --bind 127.0.0.1 --http-port 0 --scenario igd2-public --lifetime 900 > "$WORK/simgw.out" 2> "$WORK/simgw.err" &
SIM_PID=$!
LOCATION=
for _ in $(seq 100); do
    LOCATION=$(sed -n 's/.*location=\([^ ]*\).*/\1/p' "$WORK/simgw.out" | head -n 1)
    [ -n "$LOCATION" ] && break
    sleep 0.1
done
[ -n "$LOCATION" ] || die "gdnat-simgw did not get ready in 10 s: $(cat "$WORK/simgw.err")"
CONTROL_URL="http://$(echo "${LOCATION#http://}" | cut -d/ -f1)/ctl/IPConn"
SERVICE="urn:schemas-upnp-org:service:WANIPConnection:2"

run() { # binary pairs -> runs the workload once, fails unless every pair worked
    "$1" "$CONTROL_URL" "$SERVICE" 127.0.0.1 "$2" > "$WORK/run.out" 2> "$WORK/run.err" || die "$1 $2 pairs failed: $(tail -n 3 "$WORK/run.err")"
    grep -qx "pairs=$2" "$WORK/run.out" || die "$1 did not report pairs=$2"
}
instructions() { # binary pairs -> total user-space instructions (Ir) of the process
    local out="$WORK/callgrind.out"
    valgrind --tool=callgrind --callgrind-out-file="$out" "$1" "$CONTROL_URL" "$SERVICE" 127.0.0.1 "$2" > "$WORK/run.out" 2> "$WORK/valgrind.err" \
        || die "callgrind run of $1 failed: $(tail -n 3 "$WORK/valgrind.err")"
    grep -qx "pairs=$2" "$WORK/run.out" || die "$1 under callgrind did not report pairs=$2"
    local total
    total=$(sed -n 's/^totals: \([0-9]*\).*/\1/p; s/^summary: \([0-9]*\).*/\1/p' "$out" | head -n 1)
    [ -n "$total" ] || die "no instruction total in callgrind's output"
    echo "$total"
}
syscalls() { # binary pairs -> system calls of the process (all threads)
    strace -f -c -o "$WORK/strace.out" "$1" "$CONTROL_URL" "$SERVICE" 127.0.0.1 "$2" > "$WORK/run.out" 2> /dev/null \
        || die "strace run of $1 failed"
    grep -qx "pairs=$2" "$WORK/run.out" || die "$1 under strace did not report pairs=$2"
    local total
    total=$(awk '$NF == "total" { print $(NF-2) + 0 }' "$WORK/strace.out")
    [ -n "$total" ] || die "no total in strace's output"
    echo "$total"
}
micros() { # binary pairs -> wall-clock microseconds of the run
    local start end
    start=$(date +%s%N)
    run "$1" "$2"
    end=$(date +%s%N)
    echo $(( (end - start) / 1000 ))
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
RESULTS="$WORK/results.tsv"
: > "$RESULTS"
CALLS=$(( 2 * (HIGH - LOW) ))
for entry in "${CLIENTS[@]}"; do
    label=${entry%%=*}
    bin=${entry#*=}
    [ -x "$bin" ] || die "$bin ($label) is missing"
    run "$bin" 1 # warm-up; also proves the workload works
    echo "per-call-instructions: measuring $label" >&2
    i_low=$(instructions "$bin" "$LOW")
    i_high=$(instructions "$bin" "$HIGH")
    s_low=$(syscalls "$bin" "$LOW")
    s_high=$(syscalls "$bin" "$HIGH")
    best=
    for _ in 1 2 3; do # the least disturbed of three runs of each size
        t_low=$(micros "$bin" "$LOW")
        t_high=$(micros "$bin" "$HIGH")
        per=$(( (t_high - t_low) / CALLS ))
        if [ -z "$best" ] || [ "$per" -lt "$best" ]; then best=$per; fi
    done
    printf '%s\t%s\t%s\t%s\n' "$label" $(( (i_high - i_low) / CALLS )) \
        "$(awk -v a="$s_low" -v b="$s_high" -v c="$CALLS" 'BEGIN { printf "%.1f", (b - a) / c }')" "$best" >> "$RESULTS"
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$RESULTS" "$ENGINE" "$LOW" "$HIGH" "$LOAD_START" "$LOAD_END" "$WRITE" "$ROOT_DIR/docs/benchmarks.md" "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" "$COMMAND_LINE" <<'PY'
import datetime, os, subprocess, sys
results, engine, low, high, load_start, load_end, write, docs, commit, command = sys.argv[1:]
rows = [line.rstrip("\n").split("\t") for line in open(results) if line.strip()]
base = rows[0] if engine == "1" else None
def ratio(value, index):
    return f"{float(value) / float(base[index]):.2f}×" if base and float(base[index]) > 0 else "-"
table = [
    "| client | instructions per call (user space) | vs engine | system calls per call | vs engine | wall µs per call (informational) |",
    "|---|---:|---:|---:|---:|---:|",
]
for label, instr, sys_calls, wall in rows:
    table.append(f"| {label} | {int(instr):,} | {ratio(instr, 1)} | {sys_calls} | {ratio(sys_calls, 2)} | {wall} |")
header = [
    "## Cost of one add/delete call, counted (issue 8, speed)",
    "",
    "Instructions are counted by `valgrind --tool=callgrind` (user space only: the kernel's",
    "work shows in the system-call column, counted by `strace -f -c`), so a loaded machine",
    f"gives the same numbers. Each client makes {low} and then {high} AddPortMapping/DeletePortMapping",
    "pairs in one process against gdnat-simgw (`igd2-public`) on loopback in a throwaway namespace;",
    f"the difference divided by {2 * (int(high) - int(low))} calls is one call, start-up excluded. The engine's side is",
    "the system's miniupnpc (the library the engine's UPNP is built on; the engine bundles its own",
    "copy, a slightly newer release) making the calls UPNPDevice makes. The server's work is not",
    "counted. Wall time per call is the best of three runs without any tool attached; it is",
    "mostly the simulated gateway's answer time, depends on the machine's load (below) and is",
    "informational only (the real-router comparison is the table at the top).",
    "",
    f"- command: `{command}`",
    f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}; gdnat commit {commit}",
    f"- machine: {os.cpu_count()} cores; load average {load_start} at the start, {load_end} at the end",
    "",
]
text = "\n".join(header + table)
print(text)
if write == "1":
    # The marked section is replaced by tests/docs/generated.py, the one writer of generated
    # sections (it fails unless the doc has exactly one section of this command).
    generated = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(docs))), "tests", "docs", "generated.py")
    subprocess.run([sys.executable, generated, "replace", docs, "bash tests/bench/per-call-instructions.sh"], input=text + "\n", text=True, check=True)
    print(f"per-call-instructions.sh: wrote the section of {docs}")
PY
