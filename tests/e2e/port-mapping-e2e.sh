#!/usr/bin/env bash
# The NatPortMapping node (rust/gdnat-godot/src/port_mapping) in the real Godot against the real
# miniupnpd of the test bed, as root: tests/godot/test_port_mapping.gd runs headless in the bed's
# LAN namespace (PCP map, a WAN packet reaching the game's UDP socket, router restart -> lost then
# mapped, stop -> released and the router's table empty; UPnP only; NAT-PMP only; the scheduled
# renewal alone noticing a router restart and a WAN address change (miniupnpd's min_lifetime set
# to 2 s for it); the three miniupnpd set-ups UPnP only, NAT-PMP+PCP only, all three; queue_free
# clean-up; bad input). The suite restores the router's set-up and address; after a suite that
# stopped half-way this script does. Its last test leaves a mapping and quits; this script then
# checks that quitting deleted it: the router's own table (tests/lib/router-table.sh: nft and
# upnpc -l, failing when the tool fails) is empty after Godot exited. Then the crash tests
# (tests/godot/port_mapping_crash.gd): kill -9 of a Godot holding a PCP mapping, a second start
# that takes it over (gateway and nonce remembered in user://gdnat), exactly one entry for the
# game, another LAN host's mapping kept; and kill -9 of a Godot whose mapping sits on another
# port than it asked (a conflict), a second start that removes that stale mapping; and kill -9
# of a Godot holding one port, a second start asking another port that removes the first.
# About 38 s with the bed's start and stop (--no-build).
#
#   tests/e2e/port-mapping-e2e.sh [--no-build]
#   tests/e2e/port-mapping-e2e.sh hook send-udp|nft-rules|restart|wan-address ...   (called by the suite)
#
# Prints `PASS|FAIL name detail` lines and `N passed, N failed`; exit 1 on any FAIL.
# Env: IGD_PREFIX (test-bed namespaces), GDNAT_LOGS (logs; Godot's user:// goes to
# $GDNAT_LOGS/port-mapping-userdata-<prefix> through XDG_DATA_HOME), CARGO_TARGET_DIR.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
TESTBED="$REPO/tests/testbed/testbed.sh"
# shellcheck source=../testbed/probe.sh
source "$REPO/tests/testbed/probe.sh"
# shellcheck source=../lib/router-table.sh
source "$REPO/tests/lib/router-table.sh"
# shellcheck source=../lib/log-check.sh
source "$REPO/tests/lib/log-check.sh"

[ "$(id -u)" = 0 ] || { echo "port-mapping-e2e: must run as root (network namespaces)" >&2; exit 1; }

# ---- hooks the suite calls from inside the LAN namespace ----------------------------------------
if [ "${1:-}" = hook ]; then
    case "${2:-}" in
        send-udp)
            # send-udp PORT TOKEN [ADDRESS]: one datagram from the WAN peer to the router's
            # external address (or ADDRESS, after a WAN address change), from a never-used
            # source port (conntrack entries outlive mappings).
            [[ "${3:-}" =~ ^[0-9]+$ ]] && [ -n "${4:-}" ] || { echo "usage: hook send-udp PORT TOKEN [ADDRESS]"; exit 2; }
            dest=${5:-$TB_WAN_ROUTER_IP}
            [[ $dest =~ ^198\.51\.100\.[0-9]+$ ]] || { echo "send-udp: $dest is not a test-bed WAN address"; exit 2; }
            sport=$(probe_next_sport)
            printf '%s\n' "$4" | ip netns exec "$TB_NS_WAN" timeout 5 \
                socat -u STDIN "UDP4-SENDTO:$dest:$3,bind=$TB_WAN_PEER_IP:$sport" 2>&1
            exit "${PIPESTATUS[1]}" ;;
        nft-rules)
            gdnat_nft_dnat_rules "$TB_NS_ROUTER" ;;
        restart)
            # restart [--protocols=all|upnp|pmp] [--min-lifetime=S]: a router reboot, switching
            # the router's set-up on the way when told (tests/testbed/testbed.sh restart-router)
            shift 2
            bash "$TESTBED" restart-router "$@" 2>&1 | tail -1; exit "${PIPESTATUS[0]}" ;;
        wan-address)
            # wan-address ADDRESS|restore: the router's WAN address changes
            bash "$TESTBED" wan-address "${3:-}" 2>&1 | tail -1; exit "${PIPESTATUS[0]}" ;;
        *) echo "unknown hook ${2:-}" >&2; exit 2 ;;
    esac
    exit $?
fi

build=1
for a in "$@"; do
    case $a in
        --no-build) build=0 ;;
        *) sed -n '2,23p' "$0" >&2; exit 2 ;;
    esac
done

LOGS=${GDNAT_LOGS:-/tmp/gdnat-logs}
mkdir -p "$LOGS"
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS $1 ${2:-}"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1 ${2:-}"; }
finish() { echo "$PASSED passed, $FAILED failed"; [ "$FAILED" = 0 ]; exit $?; }
T0=$(tb_now_ms)
# Godot's user:// of this run (the node's records in user://gdnat): a folder of our own under
# the logs, fresh each run, so parallel runs (other prefixes, other worktrees) never share one.
export XDG_DATA_HOME="$LOGS/port-mapping-userdata-$TB_PREFIX"
case "$XDG_DATA_HOME" in */port-mapping-userdata-*) rm -rf -- "$XDG_DATA_HOME" ;; esac
mkdir -p "$XDG_DATA_HOME"

if ((build)); then
    bash "$REPO/tests/build.sh" >"$LOGS/port-mapping-build.log" 2>&1 || { fail build "tests/build.sh failed, see $LOGS/port-mapping-build.log"; finish; }
fi

OWN_BED=no
cleanup() { [ "$OWN_BED" = yes ] && bash "$TESTBED" down >/dev/null 2>&1; }
trap cleanup EXIT
if ! tb_is_up; then
    OWN_BED=yes
    bash "$TESTBED" up >"$LOGS/port-mapping-bed.log" 2>&1 || { fail up "the test bed did not come up, see $LOGS/port-mapping-bed.log"; finish; }
fi

out="$LOGS/port-mapping-suite.out"
GDNAT_REPORT_SHUTDOWN=1 ip netns exec "$TB_NS_LAN" bash "$REPO/tests/godot/run-suite.sh" --timeout 180 \
    --name port-mapping res://tests/test_port_mapping.gd -- --hook="$HERE/port-mapping-e2e.sh" >"$out" 2>&1
rc=$?
grep -E '^(PASS|FAIL|SKIP) ' "$out"
suite_passed=$(grep -c '^PASS ' "$out")
suite_failed=$(grep -c '^FAIL ' "$out")
PASSED=$((PASSED + suite_passed))
FAILED=$((FAILED + suite_failed))
if [ "$rc" = 0 ] && [ "$suite_passed" -gt 0 ]; then
    pass suite "run-suite.sh exit 0 (no script error, panic or leak line; log $out)"
else
    fail suite "run-suite.sh exit $rc, $suite_passed passed, $suite_failed failed: $(tail -5 "$out" | tr '\n' ' ' | cut -c1-400)"
fi

# Quitting with a mapping held deletes it: the suite's last test left QUIT_PORT mapped.
quit_port=$(sed -n 's/^QUIT_WITH_MAPPING \([0-9]*\)$/\1/p' "$out" | tail -1)
shutdown_line=$(grep -a -m1 '^gdnat: NatPortMapping: .* joined at shutdown' "$out")
if [ -z "$quit_port" ]; then
    fail quit.deletes "the suite did not leave its quit mapping (no QUIT_WITH_MAPPING line)"
elif ! rules=$(gdnat_nft_dnat_rules "$TB_NS_ROUTER"); then
    fail quit.deletes "nft could not read the router's table"
elif ! rows=$(ip netns exec "$TB_NS_LAN" bash -c 'source "$1"; gdnat_upnpc_table - "$2"' sh "$REPO/tests/lib/router-table.sh" "$TB_DESC_URL"); then
    fail quit.deletes "upnpc -l could not read the router's table"
elif [ -n "$rules$rows" ]; then
    fail quit.deletes "the router still holds entries after Godot quit: nft [$rules] upnpc [$rows]"
else
    pass quit.deletes "port $quit_port deleted on quit, the router's table (nft and upnpc -l) is empty"
fi
# The suite changes the router (set-ups, min_lifetime, WAN address) and restores it; after a
# suite that stopped half-way, restore it here (after the quit check, which a restart would
# fake) so the crash tests below run on the usual bed.
if ! grep -qx 'IGD_PROTOCOLS=all' "$TB_STATE/router.env" 2>/dev/null || ! grep -qx 'IGD_PCP_MIN_LIFETIME=120' "$TB_STATE/router.env" 2>/dev/null \
        || ! ip -n "$TB_NS_ROUTER" -4 -o addr show dev wan0 | grep -q " $TB_WAN_ROUTER_IP/"; then
    echo "port-mapping-e2e: restoring the router's set-up after the suite"
    bash "$TESTBED" wan-address restore >/dev/null 2>&1
    bash "$TESTBED" restart-router --protocols=all --min-lifetime=120 >/dev/null 2>&1
fi

# ---- crash: kill -9 while mapped; the next start takes the mapping over ------------------------
# A second LAN host (10.77.0.3) holds a PCP mapping on OTHER_PORT throughout. Run 1 maps
# CRASH_PORT (PCP) and is killed with SIGKILL; the router keeps its entry. Run 2 maps again: the
# records in user://gdnat make it skip the probe (source=record) and reuse the crashed run's PCP
# nonce, so the router ends with exactly one entry for the game (a fresh nonce would be refused
# with NOT_AUTHORIZED); run 2 quits and its mapping is deleted; the other host's is untouched.
CRASH_PORT=7795
OTHER_PORT=7796
OTHER_NONCE=0f0e0d0c0b0a090807060504
PCP_CLIENT="$REPO/tests/testbed/pcp-client.py"
other_host() { # other_host LIFETIME: PCP MAP from 10.77.0.3 for OTHER_PORT; prints the answer
    ip netns exec "$TB_NS_LAN" timeout 10 python3 "$PCP_CLIENT" --server "$TB_LAN_ROUTER_IP" --client "$TB_LAN_HOST2_IP" \
        --protocol udp --internal-port "$OTHER_PORT" --external-port "$OTHER_PORT" --lifetime "$1" --nonce "$OTHER_NONCE" 2>&1
}
# count_rules PORT: nft DNAT rules of the router naming PORT ("error" when nft failed)
count_rules() {
    local rules; rules=$(gdnat_nft_dnat_rules "$TB_NS_ROUTER") || { echo error; return; }
    grep -c -E "dport $1( |$)" <<<"$rules"
}
# hold_run LOG PORT: the crash script's hold phase for PORT in the LAN namespace, in the
# background; waits up to 30 s for its HOLDING (or CRASH-FAIL) line (kill -0, not /proc parsing:
# a Godot run once seemed gone during its start-up by tb_pid_alive and was killed before it
# printed anything). Sets godot_pid, holding (the HOLDING line, or empty) and t_wait (start).
hold_run() {
    ip netns exec "$TB_NS_LAN" bash "$REPO/tests/godot/godot.sh" --headless --path "$REPO/godot-project" \
        -s res://tests/port_mapping_crash.gd -- --phase=hold --port="$2" --other-port=$OTHER_PORT >"$1" 2>&1 &
    godot_pid=$!
    t_wait=$(tb_now_ms)
    local i
    for ((i = 0; i < 300; i++)); do grep -q -E '^(HOLDING|CRASH-FAIL)' "$1" && break; kill -0 "$godot_pid" 2>/dev/null || break; sleep 0.1; done
    holding=$(grep -m1 '^HOLDING' "$1")
}
# kill_held: SIGKILL of the hold run; sets rc (137 when the kill ended it).
kill_held() {
    kill -9 "$godot_pid" 2>/dev/null
    wait "$godot_pid" 2>/dev/null
    rc=$?
}
# resume_run LOG PORT [ARGS...]: the crash script's resume phase for PORT (70 s bound, the
# library's shutdown report on); sets rc and resumed (the RESUMED line, or empty).
resume_run() {
    local log=$1 port=$2
    shift 2
    GDNAT_REPORT_SHUTDOWN=1 ip netns exec "$TB_NS_LAN" timeout --kill-after=5 70 bash "$REPO/tests/godot/godot.sh" --headless --path "$REPO/godot-project" \
        -s res://tests/port_mapping_crash.gd -- --phase=resume --port="$port" --other-port=$OTHER_PORT "$@" >"$log" 2>&1
    rc=$?
    resumed=$(grep -m1 '^RESUMED' "$log")
}
answer=$(other_host 600)
if grep -q '^result=0 ' <<<"$answer"; then pass crash.other-host-mapped "$answer"; else fail crash.other-host-mapped "$answer"; fi
crash_log="$LOGS/port-mapping-crash-1.log"
hold_run "$crash_log" $CRASH_PORT
if [ -n "$holding" ] && grep -q "source=probe" <<<"$holding"; then
    pass crash.first-run-mapped "$holding (gateway record removed first: probed)"
else
    fail crash.first-run-mapped "after $(( $(tb_now_ms) - t_wait )) ms, process $(head -c 80 "/proc/$godot_pid/stat" 2>/dev/null || echo gone): ${holding:-$(tail -3 "$crash_log" | tr '\n' ' ')}"
fi
kill_held
n=$(count_rules $CRASH_PORT)
if [ "$rc" = 137 ] && [ "$n" = 1 ]; then pass crash.killed "Godot killed with SIGKILL (exit $rc); its mapping stays on the router ($n rule for $CRASH_PORT)"; else fail crash.killed "exit $rc, rules for $CRASH_PORT: $n"; fi
crash_log2="$LOGS/port-mapping-crash-2.log"
resume_run "$crash_log2" $CRASH_PORT
if [ "$rc" = 0 ] && grep -q -E "source=record .*external=$CRASH_PORT rows=1 other_rows=1$" <<<"$resumed"; then
    pass crash.second-run-takes-over "$resumed (no probe; exactly one entry for the game, the other host's kept)"
else
    fail crash.second-run-takes-over "exit $rc: ${resumed:-$(grep -E 'CRASH-FAIL|ERROR' "$crash_log2" | head -3 | tr '\n' ' ')}"
fi
bad=$(gdnat_bad_log_line "$crash_log2") && fail crash.log "$bad" || pass crash.log "no panic/leak/script error line in the second run"
n=$(count_rules $CRASH_PORT); m=$(count_rules $OTHER_PORT)
if [ "$n" = 0 ] && [ "$m" = 1 ]; then pass crash.after-quit "the game's rule deleted on quit ($n), the other host's rule untouched ($m)"; else fail crash.after-quit "rules for $CRASH_PORT: $n (want 0), for $OTHER_PORT: $m (want 1)"; fi
# ---- crash on another port: the stale mapping sits where the conflict put it -----------------
# The other host (10.77.0.3) holds STALE_ASK, so run 1 (asking STALE_ASK with PCP) gets another
# external port from miniupnpd (the next free one) and is killed there. The other host then
# frees STALE_ASK; run 2 asks STALE_ASK again and gets it. Its record (mapping-udp-STALE_ASK.rec,
# external port = the other one) makes it remove the stale mapping first (PCP delete with the
# recorded nonce: only ours), so the game ends with exactly one entry; the other host's
# OTHER_PORT mapping is untouched throughout.
STALE_ASK=7798
CONFLICT_NONCE=0a0b0c0d0e0f101112131415
conflict_host() { # conflict_host LIFETIME: PCP MAP from 10.77.0.3 for STALE_ASK
    ip netns exec "$TB_NS_LAN" timeout 10 python3 "$PCP_CLIENT" --server "$TB_LAN_ROUTER_IP" --client "$TB_LAN_HOST2_IP" \
        --protocol udp --internal-port "$STALE_ASK" --external-port "$STALE_ASK" --lifetime "$1" --nonce "$CONFLICT_NONCE" 2>&1
}
answer=$(conflict_host 600)
if grep -q '^result=0 ' <<<"$answer"; then pass stale.conflict-host-mapped "$answer"; else fail stale.conflict-host-mapped "$answer"; fi
stale_log="$LOGS/port-mapping-stale-1.log"
hold_run "$stale_log" $STALE_ASK
STALE_PORT=$(sed -n 's/^HOLDING port=\([0-9]*\) .*/\1/p' <<<"$holding")
if [ -n "$STALE_PORT" ] && [ "$STALE_PORT" != "$STALE_ASK" ]; then
    pass stale.first-run-other-port "$holding (asked $STALE_ASK, held by the other host)"
else
    fail stale.first-run-other-port "asked $STALE_ASK, after $(( $(tb_now_ms) - t_wait )) ms, process $(head -c 80 "/proc/$godot_pid/stat" 2>/dev/null || echo gone): ${holding:-$(tail -3 "$stale_log" | tr '\n' ' ')}"
fi
kill_held
n=$(count_rules "${STALE_PORT:-0}")
answer=$(conflict_host 0)
if [ "$rc" = 137 ] && [ "$n" = 1 ] && grep -q '^result=0 ' <<<"$answer"; then
    pass stale.killed "killed (exit $rc) holding $STALE_PORT ($n rule); the other host freed $STALE_ASK"
else
    fail stale.killed "exit $rc, rules for ${STALE_PORT:-?}: $n, the other host's delete: $answer"
fi
stale_log2="$LOGS/port-mapping-stale-2.log"
resume_run "$stale_log2" $STALE_ASK --stale-port="${STALE_PORT:-0}"
if [ "$rc" = 0 ] && grep -q -E "external=$STALE_ASK rows=1 other_rows=1 stale_rows=0$" <<<"$resumed"; then
    pass stale.second-run-removes-it "$resumed (the stale $STALE_PORT removed: one entry for the game; the other host's kept)"
else
    fail stale.second-run-removes-it "exit $rc: ${resumed:-$(grep -E 'CRASH-FAIL|ERROR' "$stale_log2" | head -3 | tr '\n' ' ')}"
fi
bad=$(gdnat_bad_log_line "$stale_log2") && fail stale.log "$bad" || pass stale.log "no panic/leak/script error line in the second run"
n=$(count_rules $STALE_ASK); s=$(count_rules "${STALE_PORT:-0}"); m=$(count_rules $OTHER_PORT)
if [ "$n" = 0 ] && [ "$s" = 0 ] && [ "$m" = 1 ]; then pass stale.after-quit "no rule left for $STALE_ASK or $STALE_PORT; the other host's $OTHER_PORT kept"; else fail stale.after-quit "rules for $STALE_ASK: $n, $STALE_PORT: $s (want 0, 0), $OTHER_PORT: $m (want 1)"; fi

# ---- crash, then the game asks another port: the old port's mapping is found and removed -----
# Run 1 maps MOVED_FROM with PCP and is killed. Run 2 asks MOVED_TO: its start finds the record
# of MOVED_FROM, whose lock (user://gdnat/mapping-udp-MOVED_FROM.lock) nobody holds any more,
# and removes that mapping (PCP delete with the recorded nonce: only ours) before it maps. The
# game ends with exactly one entry (MOVED_TO); the other host's OTHER_PORT is untouched.
MOVED_FROM=7801
MOVED_TO=7802
moved_log="$LOGS/port-mapping-moved-1.log"
hold_run "$moved_log" $MOVED_FROM
kill_held
n=$(count_rules $MOVED_FROM)
if grep -q "^HOLDING port=$MOVED_FROM " <<<"$holding" && [ "$rc" = 137 ] && [ "$n" = 1 ]; then
    pass moved.first-run-killed "$holding; killed (exit $rc), its rule for $MOVED_FROM stays ($n)"
else
    fail moved.first-run-killed "after $(( $(tb_now_ms) - t_wait )) ms: ${holding:-$(tail -3 "$moved_log" | tr '\n' ' ')}; exit $rc; rules for $MOVED_FROM: $n"
fi
moved_log2="$LOGS/port-mapping-moved-2.log"
resume_run "$moved_log2" $MOVED_TO --stale-port=$MOVED_FROM
if [ "$rc" = 0 ] && grep -q -E "external=$MOVED_TO rows=1 other_rows=1 stale_rows=0$" <<<"$resumed"; then
    pass moved.second-run-removes-the-old-port "$resumed (the crashed run's $MOVED_FROM removed: one entry for the game; the other host's kept)"
else
    fail moved.second-run-removes-the-old-port "exit $rc: ${resumed:-$(grep -E 'CRASH-FAIL|ERROR' "$moved_log2" | head -3 | tr '\n' ' ')}"
fi
bad=$(gdnat_bad_log_line "$moved_log2") && fail moved.log "$bad" || pass moved.log "no panic/leak/script error line in the second run"
n=$(count_rules $MOVED_TO); s=$(count_rules $MOVED_FROM); m=$(count_rules $OTHER_PORT)
if [ "$n" = 0 ] && [ "$s" = 0 ] && [ "$m" = 1 ]; then pass moved.after-quit "no rule left for $MOVED_TO or $MOVED_FROM; the other host's $OTHER_PORT kept"; else fail moved.after-quit "rules for $MOVED_TO: $n, $MOVED_FROM: $s (want 0, 0), $OTHER_PORT: $m (want 1)"; fi

answer=$(other_host 0)
rules=$(gdnat_nft_dnat_rules "$TB_NS_ROUTER"); nft_rc=$?
if grep -q '^result=0 ' <<<"$answer" && [ "$nft_rc" = 0 ] && [ -z "$rules" ]; then pass crash.table-empty "the other host deleted its mapping; the router has no rule left"; else fail crash.table-empty "delete: $answer; nft exit $nft_rc: $rules"; fi

# Information only (retired workers of earlier tests count too): the library's shutdown join.
echo "port-mapping-e2e: ${shutdown_line:-no NatPortMapping shutdown line}"
echo "port-mapping-e2e: $(( $(tb_now_ms) - T0 )) ms"
finish
