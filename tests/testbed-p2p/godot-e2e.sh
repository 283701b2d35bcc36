#!/usr/bin/env bash
# Issue 10 end to end with the real engine: two headless Godot 4.6.3 instances, one in each LAN
# of the two-site bed, find each other through opentracker, punch, connect over ENet on the
# punched port and exchange an RPC each way (addons/gdnat/nat_room.gd, tests/godot/p2p/).
#
#   sudo bash tests/testbed-p2p/godot-e2e.sh [--no-build]
#
# Steps (the bed is brought up here and taken down on exit; run as root):
#  1. api: NatStun / NatRendezvous / NatPunch on their own (tests/godot/p2p/api_checks.gd, in LAN
#     A): bad arguments, busy, unreachable server and tracker, whitelist refusal, port in use,
#     cancel, peers_changed joined/left.
#  2. home/home, by host name (stun.gdnat.test, tracker.gdnat.test: a hosts file laid over the
#     two LAN namespaces through /etc/netns, removed at exit; NatRoom resolves them and its
#     report must say so): host in LAN A, joiner in LAN B. Both must connect, RPC both ways; router A's
#     conntrack must hold the flow LAN A:local_port <-> router B's public endpoint, and an nft
#     counter in router A must see ENet's packets (UDP between LAN A and router B that are not
#     60-byte punch packets) both ways: the game traffic went directly between the routers.
#     Then the demo scene (godot-project/p2p_demo.tscn) headless, Host in A and Join in B: both
#     must connect and greet each other by RPC.
#  3. fullcone/home, fullcone/fullcone, symmetric/fullcone (router A / router B, host in A): both
#     must connect and exchange the RPCs (the other pairs where punching can work).
#  4. symmetric/symmetric: both must fail with NatRoom.RESULT_PUNCH_FAILED, a reason naming the
#     symmetric NAT and the relay, within 15 s (8 s punch + <= 1.5 s room and probe + margin
#     for a loaded 2-core CI machine).
# Env: P2P_PREFIX / IGD_PREFIX (namespaces, see common.sh), GDNAT_LOGS (logs go to
# $GDNAT_LOGS/p2p-godot, else target/test-logs/p2p-godot).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
# shellcheck source=common.sh
source "$HERE/common.sh"
LOGS="${GDNAT_LOGS:-$REPO/target/test-logs}/p2p-godot"
BED=(bash "$HERE/bed.sh")
failures=0
pass() { echo "PASS $1: $2"; }
fail() { echo "FAIL $1: $2"; failures=$((failures + 1)); }

[ "$(id -u)" = 0 ] || { echo "godot-e2e: must run as root (network namespaces)" >&2; exit 1; }
if [ "${1:-}" != --no-build ]; then
    bash "$REPO/tests/build.sh" >/dev/null || { echo "godot-e2e: tests/build.sh failed" >&2; exit 1; }
fi
mkdir -p "$LOGS"
# Host names for the players (NatRoom resolves them with Godot's resolver): `ip netns exec`
# lays /etc/netns/<ns>/hosts and resolv.conf over /etc, so the two LAN namespaces see
# stun.gdnat.test and tracker.gdnat.test, and any other name is asked of 127.0.0.1 in the
# namespace (nothing listens: it fails at once, and no DNS packet goes anywhere else).
NAMES_DIRS=("/etc/netns/$P2P_NS_LA" "/etc/netns/$P2P_NS_LB")
cleanup() {
    "${BED[@]}" down >/dev/null 2>&1
    local dir
    for dir in "${NAMES_DIRS[@]}"; do [ -f "$dir/.gdnat-e2e" ] && rm -rf "$dir"; done
}
trap cleanup EXIT
for dir in "${NAMES_DIRS[@]}"; do
    [ -e "$dir" ] && { echo "godot-e2e: $dir exists already (not ours); remove it first" >&2; exit 1; }
    mkdir -p "$dir" && touch "$dir/.gdnat-e2e"
    printf '127.0.0.1 localhost\n%s stun.gdnat.test tracker.gdnat.test\n' "$P2P_STUN_IP" > "$dir/hosts"
    printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > "$dir/resolv.conf"
done
t_start=$(p2p_now_ms)
"${BED[@]}" up home home >/dev/null || { echo "godot-e2e: the bed did not come up" >&2; exit 1; }

GODOT=(bash "$REPO/tests/godot/godot.sh" --headless --path "$REPO/godot-project")
COMMON=(--stun="$P2P_STUN_IP:$P2P_STUN_PORT" --tracker="$P2P_STUN_IP:$P2P_TRACKER_PORT" --room="$P2P_ROOM")

# log_clean <log>: no script error, no panic, no leak report, no thread of ours left at exit.
log_clean() { ! grep -qE "SCRIPT ERROR|panicked|\[panic|leaked at exit|Error loading extension|still running at exit" "$1"; }

# ---- 1. the classes on their own --------------------------------------------------------------
log="$LOGS/api.log"
ip netns exec "$P2P_NS_LA" timeout --kill-after=5 60 "${GODOT[@]}" -s res://tests/p2p/api_checks.gd -- \
    "${COMMON[@]}" --unlisted-room="not-$P2P_ROOM" >"$log" 2>&1
rc=$?
n_pass=$(grep -c '^P2P_PASS' "$log"); n_fail=$(grep -c '^P2P_FAIL' "$log")
if [ "$rc" = 0 ] && [ "$n_fail" = 0 ] && [ "$n_pass" -ge 10 ] && log_clean "$log"; then
    pass api "$n_pass checks ($log)"
else
    fail api "rc $rc, $n_pass passed, $n_fail failed: $(grep -E '^P2P_FAIL|SCRIPT ERROR|panicked' "$log" | head -5 | tr '\n' ' ') ($log)"
fi

# ---- a pair of players ------------------------------------------------------------------------
# run_pair <name> <expect connected|failed> [extra args]: host in LAN A, joiner in LAN B 0.5 s
# later (the host is waiting in the room when the joiner comes). Sets host_log / join_log.
run_pair() {
    local name=$1 expect=$2; shift 2
    host_log="$LOGS/$name-host.log"; join_log="$LOGS/$name-join.log"
    local pid_host pid_join rc_host rc_join
    ip netns exec "$P2P_NS_LA" timeout --kill-after=5 60 "${GODOT[@]}" -s res://tests/p2p/e2e_peer.gd -- \
        --role=host --expect="$expect" --expect-peer-ip="$P2P_WAN_B" "${COMMON[@]}" "$@" >"$host_log" 2>&1 &
    pid_host=$!
    sleep 0.5
    ip netns exec "$P2P_NS_LB" timeout --kill-after=5 60 "${GODOT[@]}" -s res://tests/p2p/e2e_peer.gd -- \
        --role=join --expect="$expect" --expect-peer-ip="$P2P_WAN_A" "${COMMON[@]}" "$@" >"$join_log" 2>&1 &
    pid_join=$!
    wait "$pid_host"; rc_host=$?
    wait "$pid_join"; rc_join=$?
    local side log rc
    for side in host join; do
        if [ $side = host ]; then log=$host_log; rc=$rc_host; else log=$join_log; rc=$rc_join; fi
        if [ "$rc" = 0 ] && grep -q "^P2P_RESULT .* failures=0" "$log" && ! grep -q '^P2P_FAIL' "$log" && log_clean "$log"; then
            pass "$name.$side" "$(grep -c '^P2P_PASS' "$log") checks; $(grep -m1 '^P2P_HOW' "$log" | cut -c9-)"
        else
            fail "$name.$side" "rc $rc: $(grep -E '^P2P_FAIL|SCRIPT ERROR|panicked' "$log" | head -5 | tr '\n' ' ') ($log)"
        fi
        grep -h '^P2P_TIMING' "$log" | sed "s/^/  $name.$side: /"
    done
}

# ---- 2. home / home: connected, directly ------------------------------------------------------
ip netns exec "$P2P_NS_RA" nft -f - <<NFT || fail counters "router A's counter table"
table ip gdnat_e2e_count {
    chain forward {
        type filter hook forward priority -10; policy accept;
        ip saddr $P2P_LAN_A ip daddr $P2P_WAN_B meta l4proto udp ip length != 60 counter comment "out"
        ip saddr $P2P_WAN_B ip daddr $P2P_LAN_A meta l4proto udp ip length != 60 counter comment "in"
    }
}
NFT
# (By host name: NatRoom resolves stun.gdnat.test and tracker.gdnat.test itself.)
run_pair home-home connected --stun="stun.gdnat.test:$P2P_STUN_PORT" --tracker="tracker.gdnat.test:$P2P_TRACKER_PORT"
for log in "$host_log" "$join_log"; do
    resolved=$(grep -m1 '^P2P_REPORT' "$log" | grep -o '"resolved":"[^"]*"')
    if grep -q "stun.gdnat.test -> $P2P_STUN_IP, tracker.gdnat.test -> $P2P_STUN_IP" <<<"$resolved"; then
        pass "home-home.names.$(basename "$log" .log)" "$resolved"
    else
        fail "home-home.names.$(basename "$log" .log)" "no resolved host names in the report: ${resolved:-none} ($log)"
    fi
done
# The host's report: its local port and where the joiner's packets came from.
local_port=$(grep -m1 '^P2P_REPORT' "$host_log" | grep -o '"local_port":[0-9]*' | cut -d: -f2)
peer=$(grep -m1 '^P2P_REPORT' "$host_log" | grep -o '"peer":"[0-9.:]*"' | cut -d'"' -f4)
flow=""
if [ -n "$local_port" ] && [ -n "$peer" ]; then
    flow=$(ip netns exec "$P2P_NS_RA" conntrack -L -p udp 2>/dev/null \
        | grep -F "src=$P2P_LAN_A dst=$P2P_WAN_B sport=$local_port dport=${peer##*:} " | grep -F "src=$P2P_WAN_B dst=$P2P_WAN_A sport=${peer##*:} ")
fi
# ENet's packets between the players, counted in router A's forward path: a punch packet is
# exactly 60 bytes on the wire (32 + UDP + IP); STUN and tracker traffic goes to the "internet"
# host, not to router B. So any other packet between LAN A and router B's public address is
# ENet's, and the flow above shows which NAT entry it used.
enet_out=$(ip netns exec "$P2P_NS_RA" nft list chain ip gdnat_e2e_count forward 2>/dev/null | grep -F 'comment "out"' | grep -o 'packets [0-9]*' | cut -d' ' -f2)
enet_in=$(ip netns exec "$P2P_NS_RA" nft list chain ip gdnat_e2e_count forward 2>/dev/null | grep -F 'comment "in"' | grep -o 'packets [0-9]*' | cut -d' ' -f2)
ip netns exec "$P2P_NS_RA" nft delete table ip gdnat_e2e_count 2>/dev/null
if [ -n "$flow" ] && [ "${enet_out:-0}" -gt 0 ] && [ "${enet_in:-0}" -gt 0 ]; then
    pass home-home.direct-path "router A: LAN A:$local_port <-> $peer via $P2P_WAN_A; ENet packets counted in router A: $enet_out out, $enet_in in"
else
    fail home-home.direct-path "flow LAN A:${local_port:-?} <-> ${peer:-?} in router A: [$(tr -s " " <<<"$flow" | head -1)], ENet packets out ${enet_out:-none} in ${enet_in:-none}"
fi

# ---- the demo scene, headless: Host in LAN A, Join in LAN B (still home / home) -----------------
for side in host join; do
    ns=$P2P_NS_LA; [ $side = join ] && ns=$P2P_NS_LB
    ip netns exec "$ns" timeout --kill-after=5 60 "${GODOT[@]}" res://p2p_demo.tscn -- --auto=$side "${COMMON[@]}" \
        >"$LOGS/demo-$side.log" 2>&1 &
    eval "demo_pid_$side=\$!"
    [ $side = host ] && sleep 0.5
done
wait "$demo_pid_host"; rc_host=$?
wait "$demo_pid_join"; rc_join=$?
for side in host join; do
    log="$LOGS/demo-$side.log"; rc=$rc_host; [ $side = join ] && rc=$rc_join
    if [ "$rc" = 0 ] && grep -q '^P2P_DEMO RESULT connected, RPC both ways' "$log" && log_clean "$log"; then
        pass "demo.$side" "$(grep -m1 '^P2P_DEMO connected' "$log" | cut -c10-120)…"
    else
        fail "demo.$side" "rc $rc: $(grep -E '^P2P_DEMO (no direct|RESULT)|SCRIPT ERROR|panicked' "$log" | head -3 | tr '\n' ' ') ($log)"
    fi
done

# ---- 3. the other pairs where punching can work (host behind router A) ------------------------
for pair in fullcone:home fullcone:fullcone symmetric:fullcone; do
    "${BED[@]}" preset a "${pair%%:*}" >/dev/null && "${BED[@]}" preset b "${pair##*:}" >/dev/null || fail presets "$pair"
    run_pair "${pair%%:*}-${pair##*:}" connected
done

# ---- 4. symmetric / symmetric: a clear failure within its bound -------------------------------
"${BED[@]}" preset a symmetric >/dev/null && "${BED[@]}" preset b symmetric >/dev/null || fail presets "symmetric"
run_pair symmetric-symmetric failed --bound-ms=15000

echo "godot-e2e: $failures failure(s) in $(( ($(p2p_now_ms) - t_start) / 1000 )) s (logs: $LOGS)"
[ "$failures" = 0 ]
