#!/usr/bin/env bash
# The gdnat demo, headless, against the real miniupnpd of the test bed (as root).
#
#   tests/demo/run-demo.sh [--port=7777] [--proto=both|TCP|UDP] [--lease=3600] [--project=DIR]
#
# --project=DIR runs the demo of another copy of the project (default godot-project/, or
# GDNAT_DEMO_PROJECT); tests/package.sh uses it for a project with the unpacked release zip.
#
# Runs the demo scene (godot-project/main.tscn) in the test bed's LAN namespace with `-- --auto`.
# The demo discovers the router, asks for its external address and, per protocol, maps the port,
# listens on it and prints READY_FOR_PROBE. This script then sends a random token from the WAN
# namespace to the router's external address (tests/testbed/probe.sh's sender); the demo must
# print PROBE_RECEIVED with that token, and the echo must come back to the WAN side. The demo
# unmaps and prints READY_FOR_NEGATIVE_PROBE; a fresh token must then NOT arrive. Then the demo's
# NatPortMapping node (port NODE_PORT = the port + 1, or - 1 for 65535) is started as its Start
# button does: it must reach `mapped` and its row must show state, method, external endpoint
# and the seconds to the next renewal (STEP node-mapped, which must be there), then Stop gives
# `released` (STEP node-released). At the end the router's own table (upnpc -l from the LAN
# side) must list no mapping of either port.
#
# Prints one PASS/FAIL line per step, the external IP, the double-NAT flag, the time of each
# step and the longest frame (printed, not asserted). Exit 0 only when every step passed.
# Brings the test bed up if it was down (and down again at the end); stops what it started by
# PID. Needs the addon built into godot-project/ (tests/build.sh; tests/demo.sh does both).
#
# Env: GDNAT_LOGS (log folder, default /tmp/gdnat-logs), DEMO_TIMEOUT (seconds the demo may
#      run, default 120), GDNAT_DEMO_PROJECT (the Godot project, default godot-project/),
#      IGD_PREFIX (test-bed namespace prefix, default igd), IGD_STUN=no (a router that refuses
#      to forward: the run must then FAIL with UPNP_RESULT_ACTION_FAILED).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
# shellcheck source=../testbed/probe.sh
source "$REPO/tests/testbed/probe.sh"   # probe_send, probe_token, tb_is_up, TB_* names
# shellcheck source=../lib/log-check.sh
source "$REPO/tests/lib/log-check.sh"   # gdnat_bad_log_line
# shellcheck source=../lib/router-table.sh
source "$REPO/tests/lib/router-table.sh"   # gdnat_upnpc_table

PORT=7777
PROTOS="TCP UDP"
LEASE=3600
for arg in "$@"; do
    case $arg in
        --port=*) PORT=${arg#*=} ;;
        --proto=*) case ${arg#*=} in
                       both|BOTH) PROTOS="TCP UDP" ;;
                       tcp|TCP) PROTOS=TCP ;;
                       udp|UDP) PROTOS=UDP ;;
                       *) echo "run-demo: --proto must be TCP, UDP or both" >&2; exit 2 ;;
                   esac ;;
        --lease=*) LEASE=${arg#*=} ;;
        --project=*) GDNAT_DEMO_PROJECT=$(cd "${arg#*=}" && pwd) \
                         || { echo "run-demo: no project folder ${arg#*=}" >&2; exit 2; } ;;
        -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
        *) echo "run-demo: unknown option $arg" >&2; exit 2 ;;
    esac
done
[[ $PORT =~ ^[0-9]+$ ]] && ((PORT >= 1024 && PORT <= 65535)) \
    || { echo "run-demo: port must be 1024-65535 (the router's allow rule)" >&2; exit 2; }
[[ $LEASE =~ ^[0-9]+$ ]] || { echo "run-demo: bad lease" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run-demo: needs root (network namespaces); run it with sudo" >&2; exit 2; }

NODE_PORT=$((PORT < 65535 ? PORT + 1 : PORT - 1))
PROJECT=${GDNAT_DEMO_PROJECT:-$REPO/godot-project}
LOGS=${GDNAT_LOGS:-/tmp/gdnat-logs}
DEMO_TIMEOUT=${DEMO_TIMEOUT:-120}
mkdir -p "$LOGS"
WORK=$(mktemp -d /tmp/gdnat-demo.XXXXXX)
DEMO_LOG="$LOGS/demo-godot.log"
: > "$DEMO_LOG"
T_START=$(tb_now_ms)

# --- report -------------------------------------------------------------------------------
REPORT=()        # "PASS|FAIL<TAB>step<TAB>detail"
FAILS=0
DEMO_STEPS_SEEN=0

record() {       # record PASS|FAIL <step> <detail>
    REPORT+=("$1"$'\t'"$2"$'\t'"$3")
    [ "$1" = PASS ] || FAILS=$((FAILS + 1))
    printf 'run-demo: %-4s %-14s %s\n' "$1" "$2" "$3"
}

# Moves the demo's own "STEP <name> PASS|FAIL <detail>" lines into the report, in order.
sync_demo_steps() {
    local lines line name verdict detail i=0
    mapfile -t lines < <(grep -a '^STEP ' "$DEMO_LOG" 2>/dev/null)
    for line in "${lines[@]}"; do
        i=$((i + 1))
        ((i <= DEMO_STEPS_SEEN)) && continue
        read -r _ name verdict detail <<< "$line"
        record "$verdict" "$name" "$detail"
    done
    DEMO_STEPS_SEEN=$i
}

# --- processes we start -------------------------------------------------------------------
BED_STARTED=no
GODOT_PID=""

cleanup() {
    local i
    if [ -n "$GODOT_PID" ] && kill -0 "$GODOT_PID" 2>/dev/null; then
        kill "$GODOT_PID" 2>/dev/null
        for ((i = 0; i < 50; i++)); do kill -0 "$GODOT_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$GODOT_PID" 2>/dev/null
    fi
    [ -n "$GODOT_PID" ] && wait "$GODOT_PID" 2>/dev/null
    GODOT_PID=""
    if [ "$BED_STARTED" = yes ]; then
        "$REPO/tests/testbed/testbed.sh" down > "$LOGS/demo-testbed-down.log" 2>&1 \
            || echo "run-demo: testbed down reported a problem, see $LOGS/demo-testbed-down.log" >&2
        BED_STARTED=no
    fi
    rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits (bounded) for a line of the demo's stdout matching the ERE $1; prints it.
# Returns 1 on timeout ($2 seconds) or when the demo has exited without printing it.
wait_line() {
    local re=$1 deadline=$(( $(tb_now_ms) + $2 * 1000 )) line
    while :; do
        line=$(grep -a -m1 -E "$re" "$DEMO_LOG" 2>/dev/null) && { echo "$line"; return 0; }
        if ! kill -0 "$GODOT_PID" 2>/dev/null || [ "$(tb_now_ms)" -ge "$deadline" ]; then
            line=$(grep -a -m1 -E "$re" "$DEMO_LOG" 2>/dev/null) && { echo "$line"; return 0; }
            return 1
        fi
        sleep 0.05
    done
}

# --- 1. test bed --------------------------------------------------------------------------
t0=$(tb_now_ms)
if tb_is_up; then
    record PASS testbed "already up (left up)"
else
    if "$REPO/tests/testbed/testbed.sh" up > "$LOGS/demo-testbed-up.log" 2>&1; then
        BED_STARTED=yes
        record PASS testbed "brought up for this run ($(( $(tb_now_ms) - t0 )) ms)"
    else
        BED_STARTED=yes   # let cleanup take down whatever half exists
        record FAIL testbed "testbed.sh up failed, see $LOGS/demo-testbed-up.log"
        exit 1
    fi
fi

# --- 2. the addon must be installed in the project -----------------------------------------
if ! ls "$PROJECT"/addons/gdnat/*.gdextension >/dev/null 2>&1; then
    record FAIL addon "$PROJECT/addons/gdnat is missing: run tests/build.sh first"
    exit 1
fi

# --- 3. start the demo in the LAN namespace -----------------------------------------------
proto_arg=$(echo "$PROTOS" | tr ' ' ',')
ip netns exec "$TB_NS_LAN" timeout -k 5 "$DEMO_TIMEOUT" \
    "$REPO/tests/godot/godot.sh" --headless --path "$PROJECT" res://main.tscn \
    -- --auto --port="$PORT" --proto="$proto_arg" --lease="$LEASE" --control-dir="$WORK" --node-port="$NODE_PORT" \
    --deadline=$((DEMO_TIMEOUT - 10)) > "$DEMO_LOG" 2>&1 < /dev/null &
GODOT_PID=$!
echo "run-demo: demo started (pid $GODOT_PID) in $TB_NS_LAN; its output: $DEMO_LOG"

if ! wait_line '^DEMO_START' 60 > /dev/null; then
    sync_demo_steps
    record FAIL demo-start "the demo did not start; last lines: $(tail -3 "$DEMO_LOG" | tr '\n' ' ')"
    exit 1
fi

EXTERNAL_IP=-
DOUBLE_NAT=-

for proto in $PROTOS; do
    lower=$(echo "$proto" | tr 'A-Z' 'a-z')
    ready=$(wait_line "^(READY_FOR_PROBE $PORT $proto\$|STEP (listen|map)-$proto FAIL|DEMO_DONE)" 60)
    case $ready in
        READY_FOR_PROBE*) ;;
        STEP*) sync_demo_steps; continue ;;   # the demo reported why
        *) sync_demo_steps
           record FAIL "reach-$proto" "the demo never became ready for the $proto probe"
           break ;;
    esac
    sync_demo_steps

    # Reachability while mapped: token from the WAN peer to the router's external address.
    token=$(probe_token)
    t0=$(tb_now_ms)
    reply=$(probe_send "$lower" "$PORT" "$token"); replied=$?
    got=$(wait_line "^PROBE_RECEIVED $token from " 5)
    ms=$(( $(tb_now_ms) - t0 ))
    if [ -n "$got" ] && [ $replied = 0 ]; then
        record PASS "reach-$proto" "WAN $TB_WAN_PEER_IP -> $TB_WAN_ROUTER_IP:$PORT/$proto reached the demo (${got#PROBE_RECEIVED }), echo came back ($ms ms)"
    elif [ -n "$got" ]; then
        record FAIL "reach-$proto" "the demo got the token (${got#PROBE_RECEIVED }) but no echo came back to the WAN ($reply)"
    else
        record FAIL "reach-$proto" "token $token never reached the demo ($reply, $ms ms)"
    fi

    # After the unmap, a fresh token (fresh source port) must not arrive.
    if ! wait_line "^READY_FOR_NEGATIVE_PROBE $PORT $proto\$" 30 > /dev/null; then
        sync_demo_steps
        record FAIL "closed-$proto" "the demo never reported the unmap"
        break
    fi
    sync_demo_steps
    token=$(probe_token)
    t0=$(tb_now_ms)
    reply=$(probe_send "$lower" "$PORT" "$token"); replied=$?
    leaked=$(wait_line "$token" 1)
    : > "$WORK/negative-$proto-done"
    ms=$(( $(tb_now_ms) - t0 ))
    if [ -z "$leaked" ] && [ $replied != 0 ]; then
        record PASS "closed-$proto" "after unmap, token from WAN did not reach the demo ($reply, $ms ms)"
    else
        record FAIL "closed-$proto" "after unmap the port is still open: ${leaked:-$reply}"
    fi
done

# --- 4. the demo's end --------------------------------------------------------------------
done_line=$(wait_line '^DEMO_DONE ' 30)
wait "$GODOT_PID" 2>/dev/null; demo_rc=$?
GODOT_PID=""
sync_demo_steps
# The node's part must have run: its steps are in the report through sync_demo_steps; a demo
# that never got there (or an old demo without it) fails here.
for node_step in node-mapped node-released; do
    if ! grep -a -q "^STEP $node_step " "$DEMO_LOG"; then
        record FAIL "$node_step" "the demo printed no $node_step step (the NatPortMapping part did not run)"
    fi
done
if [ -z "$done_line" ]; then
    record FAIL demo-exit "the demo did not finish (exit status $demo_rc); see $DEMO_LOG"
elif [ "$demo_rc" != 0 ]; then
    record FAIL demo-exit "the demo exited with status $demo_rc (${done_line})"
else
    record PASS demo-exit "demo exited 0"
fi
# Script or engine errors fail the run, except the engine-compatible message that the demo's
# deliberate Map-before-Discover step provokes (UPNP prints the same).
unexpected=$(grep -a -E '^(SCRIPT ERROR|ERROR):' "$DEMO_LOG" \
    | grep -v -x -F "ERROR: Couldn't find any UPNPDevices." | head -1)
if [ -n "$unexpected" ]; then
    record FAIL engine-errors "$unexpected"
fi
# Like tests/godot/run-suite.sh: a Rust panic or a leak report at exit fails the run, whatever
# its prefix (the patterns: tests/lib/log-check.sh).
if bad_line=$(gdnat_bad_log_line "$DEMO_LOG"); then
    record FAIL log-check "the demo output has a panic or leak line: $bad_line"
fi
# Nothing may be left behind on the router: its own table (read with miniupnpc's upnpc from
# the LAN side) must list no mapping of the demo's port.
if ! table=$(gdnat_upnpc_table "$TB_NS_LAN" "$TB_DESC_URL" 2>&1); then
    record FAIL router-table "could not list the router's mappings: $table"
else
    left=$(grep -E "^ *[0-9]+ (TCP|UDP) +($PORT|$NODE_PORT)->" <<<"$table" | tr -s ' ' | tr '\n' ';')
    if [ -n "$left" ]; then
        record FAIL router-table "mappings of port $PORT or $NODE_PORT left on the router: $left"
    else
        record PASS router-table "the router's table lists no mapping of port $PORT or $NODE_PORT (upnpc -l)"
    fi
fi
line=$(grep -a -m1 '^MAX_FRAME_MS ' "$DEMO_LOG") && MAX_FRAME=${line#MAX_FRAME_MS } || MAX_FRAME=?
line=$(grep -a -m1 '^EXTERNAL_IP ' "$DEMO_LOG") && EXTERNAL_IP=${line#EXTERNAL_IP }
line=$(grep -a -m1 '^DOUBLE_NAT ' "$DEMO_LOG") && DOUBLE_NAT=${line#DOUBLE_NAT }
NODE_MAPPED=-
line=$(grep -a -m1 '^NODE_MAPPED ' "$DEMO_LOG") && NODE_MAPPED=${line#NODE_MAPPED }

# --- 5. report ----------------------------------------------------------------------------
total_ms=$(( $(tb_now_ms) - T_START ))
echo
echo "================ gdnat demo: real miniupnpd router in network namespaces ================"
for entry in "${REPORT[@]}"; do
    IFS=$'\t' read -r verdict name detail <<< "$entry"
    printf '  %-4s  %-14s %s\n' "$verdict" "$name" "$detail"
done
echo "-----------------------------------------------------------------------------------------"
echo "  external IP      : $EXTERNAL_IP"
case $DOUBLE_NAT in
    yes) echo "  double NAT       : yes - the router's WAN address is private/reserved (here TEST-NET-2," \
              "198.51.100.0/24), so on a real network another NAT would sit upstream" ;;
    no) echo "  double NAT       : no" ;;
    *) echo "  double NAT       : unknown" ;;
esac
echo "  NatPortMapping   : $NODE_MAPPED (port $NODE_PORT)"
echo "  longest frame    : $MAX_FRAME ms (printed, not asserted; the demo never waits on the network)"
echo "  total time       : $total_ms ms"
echo "  demo output      : $DEMO_LOG"
passed=$(( ${#REPORT[@]} - FAILS ))
if ((FAILS == 0)); then
    echo "RESULT: PASS ($passed steps passed)"
    exit 0
fi
echo "RESULT: FAIL ($FAILS of ${#REPORT[@]} steps failed)"
exit 1
