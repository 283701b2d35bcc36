#!/usr/bin/env bash
# `gdnat probe` and `gdnat map` (rust/gdnat-cli on rust/gdnat-mapper) against the real miniupnpd
# of the test bed, as root: the probe finds PCP, NAT-PMP and UPnP; `map` with each protocol
# opens the port (a packet from the WAN side reaches the LAN host), keeps it renewed (UPnP with
# a 4 s lease: renewed on the same external port), and on SIGTERM deletes it (unreachable, the
# router's nftables chains empty). Bad input fails with a clear message and exit code.
#
#   tests/e2e/map-e2e.sh
#
# Prints `PASS|FAIL name detail` per check and `N passed, N failed`; exit 1 on any FAIL.
# Env: IGD_PREFIX (test-bed namespaces), GDNAT_BIN (default <target>/debug/gdnat, built first).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
TESTBED="$REPO/tests/testbed/testbed.sh"
# shellcheck source=../testbed/probe.sh
source "$REPO/tests/testbed/probe.sh"

[ "$(id -u)" = 0 ] || { echo "map-e2e: must run as root (network namespaces)" >&2; exit 1; }

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS $1 ${2:-}"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1 ${2:-}"; }
check() { local name=$1 detail=$2; shift 2; if "$@"; then pass "$name" "$detail"; else fail "$name" "$detail"; fi; }
contains() { case "$1" in *"$2"*) return 0 ;; *) return 1 ;; esac; }
oneline() { tr '\n' ' ' <<<"$1" | head -c 400; }

if [ -n "${GDNAT_BIN:-}" ]; then
    BIN="$GDNAT_BIN"
else
    BIN="${CARGO_TARGET_DIR:-$REPO/target}/debug/gdnat"
    (cd "$REPO" && timeout 1200 cargo build -q -p gdnat-cli) || { echo "FAIL build cargo build -p gdnat-cli"; echo "0 passed, 1 failed"; exit 1; }
fi
[ -x "$BIN" ] || { echo "FAIL build no gdnat binary at $BIN"; echo "0 passed, 1 failed"; exit 1; }

OWN_BED=no
MAP_PIDS=()
cleanup() {
    local pid
    for pid in "${MAP_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${MAP_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    [ "$OWN_BED" = yes ] && bash "$TESTBED" down >/dev/null
}
trap cleanup EXIT
if ! tb_is_up; then
    OWN_BED=yes
    bash "$TESTBED" up >/dev/null || { echo "FAIL up the test bed did not come up"; echo "0 passed, 1 failed"; exit 1; }
fi

# The router's forwarding rules made by miniupnpd; prints "error" when nft fails (never 0).
router_rules() {
    local nat fwd
    nat=$(ip netns exec "$TB_NS_ROUTER" nft list chain inet filter prerouting_miniupnpd 2>&1) || { echo error; return; }
    fwd=$(ip netns exec "$TB_NS_ROUTER" nft list chain inet filter miniupnpd 2>&1) || { echo error; return; }
    grep -q 'chain prerouting_miniupnpd' <<<"$nat" && grep -q 'chain miniupnpd' <<<"$fwd" || { echo error; return; }
    echo $(( $(grep -c dnat <<<"$nat") + $(grep -c accept <<<"$fwd") ))
}

# ---- probe ---------------------------------------------------------------------------------------
t0=$(tb_now_ms)
out=$(ip netns exec "$TB_NS_LAN" timeout 20 "$BIN" probe 2>&1); rc=$?
ms=$(( $(tb_now_ms) - t0 ))
check probe.exit "exit $rc in $ms ms" [ "$rc" = 0 ]
check probe.gateway "$(grep '^gateway' <<<"$out")" contains "$out" "gateway $TB_LAN_ROUTER_IP (default route via eth0)"
for p in pcp natpmp upnp; do
    l=$(grep "^$p " <<<"$out")
    check "probe.$p" "$l" contains "$l" "$p available"
done
check probe.preferred "$(grep '^preferred' <<<"$out")" contains "$out" "preferred PCP"
check probe.within-bound "probe took $ms ms (bound 1 s per protocol, all at once; < 3000 with process start-up)" [ "$ms" -lt 3000 ]

# ---- map with each protocol, SIGTERM removes it --------------------------------------------------
# map_session <name> <port> <tcp|udp> <args...>: starts `gdnat map`, waits for `mapped`, probes
# from the WAN, sends SIGTERM, waits for the exit, probes again, reads the router's table.
map_session() {
    local name=$1 port=$2 proto=$3; shift 3
    local log pid i rc
    log=$(mktemp /tmp/gdnat-map-e2e.XXXXXX)
    ip netns exec "$TB_NS_LAN" timeout 120 "$BIN" map "$port" "$proto" "$@" >"$log" 2>&1 &
    pid=$!
    MAP_PIDS+=("$pid")
    for ((i = 0; i < 100; i++)); do grep -q '^mapped ' "$log" && break; tb_pid_alive "$pid" || break; sleep 0.1; done
    check "$name.mapped" "$(grep -m1 '^mapped ' "$log" || oneline "$(cat "$log")")" grep -q "^mapped .* 198.51.100.1:$port " "$log"
    check "$name.forward" "$(probe "$proto" "$port")" [ $? = 0 ]
    if [ -n "${MAP_WAIT_RENEW:-}" ]; then
        for ((i = 0; i < 150; i++)); do grep -q '^renewed ' "$log" && break; sleep 0.1; done
        check "$name.renewed-same-port" "$(grep -m1 '^renewed ' "$log" || echo 'no renewal within 15 s')" grep -q "^renewed .* 198.51.100.1:$port " "$log"
        check "$name.forward-after-renewal" "$(probe "$proto" "$port")" [ $? = 0 ]
    fi
    kill -TERM "$pid"
    wait "$pid"; rc=$?
    check "$name.sigterm-released" "exit $rc, last line: $(tail -1 "$log")" [ "$rc" = 0 ] && grep -q '^released$' "$log"
    check "$name.unreachable" "$(probe "$proto" "$port")" [ $? = 1 ]
    local rules; rules=$(router_rules)
    check "$name.router-table-empty" "forwarding rules: $rules" [ "$rules" = 0 ]
    rm -f "$log"
}

map_session map.pcp 7810 udp --protocol pcp --lease 600
map_session map.natpmp 7811 tcp --protocol natpmp --lease 600
map_session map.auto 7812 tcp
MAP_WAIT_RENEW=1 map_session map.upnp 7813 udp --protocol upnp --lease 4

# ---- bad input -----------------------------------------------------------------------------------
out=$(ip netns exec "$TB_NS_LAN" timeout 20 "$BIN" map 0 udp 2>&1); rc=$?
check bad.port-0 "exit $rc: $(oneline "$out")" [ "$rc" = 2 ]
out=$(ip netns exec "$TB_NS_LAN" timeout 20 "$BIN" map 7814 udp --lease 0 2>&1); rc=$?
check bad.lease-0 "exit $rc: $(oneline "$out")" [ "$rc" = 2 ]
t0=$(tb_now_ms)
out=$(ip netns exec "$TB_NS_LAN" timeout 30 "$BIN" map 7815 udp --protocol pcp --gateway 10.77.0.99 --timeout 500 2>&1); rc=$?
ms=$(( $(tb_now_ms) - t0 ))
check bad.no-gateway "exit $rc in $ms ms: $(oneline "$(grep -E '^(failed|error)' <<<"$out")")" [ "$rc" = 1 ]
check bad.no-gateway-bounded "$ms ms (call bound 2 s + stop)" [ "$ms" -lt 8000 ]
rules=$(router_rules)
check router.table-empty-at-end "forwarding rules: $rules" [ "$rules" = 0 ]

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
