#!/usr/bin/env bash
# Issue 10's speed rows on the two-site bed (tests/testbed-p2p: two players, each behind its own
# NAT router, coturn and opentracker on the "internet"), each beside a reference measured in
# the same run: for STUN the bare round trip (one Binding request and its answer, timed inside
# a python3 process: what any client needs at least), for NAT behaviour coturn's own
# turnutils_natdiscovery, for frames the longest idle frame of the same Godot process.
#
#   sudo bash tests/bench/p2p.sh [--gdnat BIN] [--reps N] [--room-reps N] [--no-build] [--write-docs] [N]
#
#   N / --reps N   samples per STUN / NAT-behaviour measure (default 10; 3 for turnutils)
#   --room-reps N  room joins (default 5; two Godot processes each)
#   --gdnat BIN    the CLI to time (default ${CARGO_TARGET_DIR:-target}/debug/gdnat)
#   --write-docs   replaces the section "<!-- generated: bash tests/bench/p2p.sh -->" of
#                  docs/benchmarks.md (through tests/docs/generated.py replace)
#
# Prints the table (tests/bench/p2p_report.py). Godot rows run tests/godot/bench/p2p_bench.gd
# headless in the LAN namespaces. Brings the bed up (and down at exit) if it is not up. Asserts
# no timing; exit 1 when a sample could not be taken.
# Env: P2P_PREFIX / IGD_PREFIX (namespaces), GDNAT_LOGS (logs under $GDNAT_LOGS/bench-p2p).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BED="$ROOT/tests/testbed-p2p/bed.sh"
# shellcheck source=../testbed-p2p/common.sh
source "$ROOT/tests/testbed-p2p/common.sh"
GDNAT_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/gdnat"
N=10 ROOM_REPS=5 build=1 write_docs=0
while [ $# -gt 0 ]; do
    case $1 in
        --gdnat) GDNAT_BIN=$(realpath "$2"); shift ;;
        --reps) N=$2; shift ;;
        --room-reps) ROOM_REPS=$2; shift ;;
        --no-build) build=0 ;;
        --write-docs) write_docs=1 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        [0-9]*) N=$1 ;;
        *) echo "bench-p2p: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[ "$(id -u)" = 0 ] || { echo "bench-p2p: must run as root (network namespaces)" >&2; exit 2; }
LOGS=${GDNAT_LOGS:-/tmp/gdnat-logs}/bench-p2p
mkdir -p "$LOGS"
SAMPLES="$LOGS/samples.txt"
META="$LOGS/meta.txt"
: >"$SAMPLES"; : >"$META"
problems=0
say() { echo "bench-p2p: $*" >&2; }
if ((build)); then
    bash "$ROOT/tests/build.sh" >"$LOGS/build.log" 2>&1 || { say "tests/build.sh failed, see $LOGS/build.log"; exit 1; }
fi
[ -x "$GDNAT_BIN" ] || { say "$GDNAT_BIN missing (tests/build.sh builds it)"; exit 2; }
if ! p2p_is_up; then trap 'bash "$BED" down >/dev/null' EXIT; bash "$BED" up home home >"$LOGS/bed.log" 2>&1 || { say "the bed did not come up (log $LOGS/bed.log)"; exit 1; }; fi
SERVER="$P2P_STUN_IP:$P2P_STUN_PORT"
la() { ip netns exec "$P2P_NS_LA" "$@"; }
# record <measure> <side>: each number on stdin becomes a sample.
record() { while read -r v; do [ -n "$v" ] && echo "SAMPLE $1 $2 $v"; done >>"$SAMPLES"; }
wall() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1 || return 1; t1=$(date +%s%N); echo "scale=3; ($t1 - $t0) / 1000000" | bc; }
GODOT=(bash "$ROOT/tests/godot/godot.sh" --headless --path "$ROOT/godot-project" -s res://tests/bench/p2p_bench.gd --)
COMMON=(--stun="$SERVER" --tracker="$P2P_STUN_IP:$P2P_TRACKER_PORT" --room="$P2P_ROOM")
# godot_samples <log> <rename: "godot-measure=measure:side ..."> : the log's SAMPLE lines as samples.
godot_samples() {
    local log=$1 pair m v; shift
    while read -r m v; do
        for pair in "$@"; do [ "${pair%%=*}" = "$m" ] && echo "SAMPLE ${pair#*=} $v" | tr ':' ' '; done
    done < <(sed -n 's/^SAMPLE \([a-z_]*\) \([0-9.]*\)$/\1 \2/p' "$log") >>"$SAMPLES"
    if grep -q '^BENCH-FAIL\|SCRIPT ERROR' "$log"; then
        problems=$((problems + 1)); say "$(grep -m3 -E '^BENCH-FAIL|SCRIPT ERROR' "$log" | tr '\n' ' ') (log $log)"
    fi
}

started=$(date +%s)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
bash "$BED" preset a home >/dev/null && bash "$BED" preset b home >/dev/null || { say "cannot set the home presets"; exit 1; }
# ---- STUN: the bare round trip, the core (CLI, timed in-process), NatStun in Godot -------------
rtt() { la timeout 5 python3 -c '
import os, socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
request = bytes.fromhex("000100002112a442") + os.urandom(12)
t0 = time.perf_counter(); s.sendto(request, ("'"$P2P_STUN_IP"'", '"$P2P_STUN_PORT"')); s.recvfrom(2048)
print("%.3f" % ((time.perf_counter() - t0) * 1000))'; }
out=$(for _ in $(seq "$N"); do rtt; done)
record stun_cli rtt <<<"$out"
record stun_godot rtt <<<"$out"
for _ in $(seq "$N"); do la "$GDNAT_BIN" stun --server "$SERVER" | sed -n 's/^elapsed_ms //p'; done | record stun_cli gdnat
log="$LOGS/godot-stun.log"
la timeout --kill-after=5 90 "${GODOT[@]}" --mode=stun --reps="$N" "${COMMON[@]}" >"$log" 2>&1 || { problems=$((problems + 1)); say "the Godot STUN run failed (log $log)"; }
godot_samples "$log" stun_query_ms=stun_godot:gdnat behaviour_ms=behaviour_godot:gdnat
# ---- NAT behaviour: turnutils_natdiscovery vs the core, per preset of router A -----------------
n=$(( N < 3 ? N : 3 ))
for preset in home fullcone symmetric; do
    bash "$BED" preset a "$preset" >/dev/null || { say "preset $preset failed"; problems=$((problems + 1)); continue; }
    out=$(for _ in $(seq "$n"); do wall la turnutils_natdiscovery -m -f "$P2P_STUN_IP"; done)
    record "behaviour_$preset" turnutils <<<"$out"
    [ $preset = home ] && record behaviour_godot turnutils <<<"$out"
    for _ in $(seq "$N"); do la "$GDNAT_BIN" nat-type --server "$SERVER" | sed -n 's/^elapsed_ms //p'; done | record "behaviour_$preset" gdnat
done
bash "$BED" preset a home >/dev/null
# ---- room join -> ENet connected, both players behind home NATs --------------------------------
# Up to two extra attempts when a host does not get into the room (seen once: the wait below
# ended without the host's line; the attempt is reported and not counted).
joined=0
WORST=()
for ((i = 1; joined < ROOM_REPS && i <= ROOM_REPS + 2; i++)); do
    hlog="$LOGS/host-$i.log" jlog="$LOGS/join-$i.log"
    ip netns exec "$P2P_NS_LA" timeout --kill-after=5 60 "${GODOT[@]}" --mode=host "${COMMON[@]}" >"$hlog" 2>&1 &
    hpid=$!
    t_wait=$(p2p_now_ms)
    while [ $(( $(p2p_now_ms) - t_wait )) -lt 30000 ]; do
        grep -q '^HOST-WAITING' "$hlog" && break
        kill -0 "$hpid" 2>/dev/null || break
        sleep 0.1
    done
    if ! grep -q '^HOST-WAITING' "$hlog"; then
        alive=gone; kill -0 "$hpid" 2>/dev/null && alive=running
        say "room $i: no HOST-WAITING line after $(( $(p2p_now_ms) - t_wait )) ms (host process $alive; log $hlog)"
        wait "$hpid"; continue
    fi
    joined=$((joined + 1))
    ip netns exec "$P2P_NS_LB" timeout --kill-after=5 60 "${GODOT[@]}" --mode=join "${COMMON[@]}" >"$jlog" 2>&1
    jrc=$?
    wait "$hpid"; hrc=$?
    [ "$jrc" = 0 ] && [ "$hrc" = 0 ] || { problems=$((problems + 1)); say "room $i: exit host $hrc join $jrc"; }
    godot_samples "$jlog" connect_ms=join_connect:gdnat frame_max_ms=join_frames:gdnat idle_frame_max_ms=join_frames:idle \
        work_max_ms=join_work:gdnat idle_work_max_ms=join_work:idle
    godot_samples "$hlog" connect_ms=host_connect:gdnat frame_max_ms=host_frames:gdnat idle_frame_max_ms=host_frames:idle \
        work_max_ms=host_work:gdnat idle_work_max_ms=host_work:idle
    grep -h '^INFO .*step\|^INFO join:' "$jlog" | cut -c1-300 | sed "s/^/  join.$i: /" >&2
    grep -h "^INFO host: the longest" "$hlog" | sed "s/^/  host.$i: /" >&2
    # The worst frame of each player, broken down (for the header): own work, interval.
    for side in join host; do
        log=$jlog; [ $side = host ] && log=$hlog
        w=$(sed -n "s/^INFO $side: the longest frames' own work: at +[0-9.]* ms: \([^;]*\).*/\1/p" "$log" | sed 's/ (interval.*//')
        v=$(sed -n "s/^INFO $side: the longest intervals: at +[0-9.]* ms: \([^;]*\).*/\1/p" "$log")
        [ -n "$w$v" ] && WORST+=("$side $i: $w; $v")
    done
done
[ "$joined" = "$ROOM_REPS" ] || { problems=$((problems + 1)); say "only $joined of $ROOM_REPS room joins were made"; }
seconds=$(( $(date +%s) - started ))
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

lib="$ROOT/addons/gdnat/bin/libgdnat.linux.x86_64.debug.so"
{
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ); gdnat commit $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- rust 2>/dev/null || echo ' (rust/ has uncommitted changes)'); $N samples per STUN/behaviour measure ($n for turnutils), $joined room joins in $((i - 1)) attempts; run time $seconds s"
    echo "machine=$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), kernel $(uname -r)"
    echo "load average=$LOAD_BEFORE at the start, $LOAD_AFTER at the end (other work on the machine adds noise)"
    echo "build=debug (tests/build.sh: the CLI ${GDNAT_BIN#"$ROOT"/} and the addon, $(stat -c %s "$lib" 2>/dev/null) bytes); Godot $(bash "$ROOT/tests/godot/godot.sh" --headless --version 2>/dev/null | tail -1); coturn $(dpkg-query -W -f='${Version}' coturn 2>/dev/null); opentracker $(dpkg-query -W -f='${Version}' opentracker 2>/dev/null)"
    echo "worst frames (per player and room join: the longest own work and the longest interval, each with the main thread's run-queue wait in it, from /proc/thread-self/schedstat)=$(printf '%s | ' "${WORST[@]}" | sed 's/ | $//')"
    echo "main loop=headless, Engine.max_fps = 0, OS.low_processor_usage_mode_sleep_usec = 1000 (an idle frame is about 1 ms)"
} >"$META"
TABLE="$LOGS/section.md"
python3 "$HERE/p2p_report.py" "$SAMPLES" "$META" >"$TABLE" || { say "p2p_report.py failed"; exit 1; }
cat "$TABLE"
if ((write_docs)); then
    DOC="$ROOT/docs/benchmarks.md"
    if ! grep -qx '<!-- generated: bash tests/bench/p2p.sh -->' "$DOC"; then
        printf '\n<!-- generated: bash tests/bench/p2p.sh -->\n<!-- end generated -->\n' >>"$DOC"
    fi
    python3 "$ROOT/tests/docs/generated.py" replace "$DOC" "bash tests/bench/p2p.sh" <"$TABLE" || exit 1
    say "wrote the section of docs/benchmarks.md"
fi
[ "$problems" = 0 ] || { say "$problems problem(s) (see above)"; exit 1; }
