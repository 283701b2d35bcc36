#!/usr/bin/env bash
# IPv6 end to end: the `gdnat` command-line tool against the real miniupnpd of an IPv6 test bed
# (tests/testbed/testbed.sh with IGD_IPV6=yes), as root. SSDP goes over IPv6 multicast
# (FF05::C / FF02::C), HTTP and SOAP over IPv6, to the router's ULA and to its link-local
# address with a zone; the mapping (of the LAN host's IPv4 address: miniupnpd's WANIPConnection
# maps IPv4 only) is proven with real traffic from the WAN side and read back from the router.
#
#   tests/e2e/ipv6-e2e.sh
#
# Prints `PASS|FAIL name detail` per check and `N passed, N failed`; exit 1 on any FAIL.
# Uses its own bed, namespaces <IGD_PREFIX>-v6-{wan,router,lan} (IGD_PREFIX default igd), up at
# the start and down at exit. Env: GDNAT_BIN (binary; default <repo>/target/debug/gdnat, built
# with `cargo build -p gdnat-cli` first), E2E6_PORT (7790).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
TESTBED="$REPO/tests/testbed/testbed.sh"
export IGD_PREFIX="${IGD_PREFIX:-igd}-v6" IGD_IPV6=yes
unset IGD_STATE
# shellcheck source=../testbed/probe.sh
source "$REPO/tests/testbed/probe.sh"

[ "$(id -u)" = 0 ] || { echo "ipv6-e2e: must run as root (network namespaces)" >&2; exit 1; }

PORT="${E2E6_PORT:-7790}"
URL6="http://[$TB_LAN_ROUTER_IP6]:$TB_HTTP_PORT/rootDesc.xml"
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS $1 ${2:-}"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1 ${2:-}"; }
info() { echo "INFO $*"; }
oneline() { tr '\n' ' ' <<<"$1" | head -c 400; }

if [ -n "${GDNAT_BIN:-}" ]; then
    BIN="$GDNAT_BIN"
else
    BIN="${CARGO_TARGET_DIR:-$REPO/target}/debug/gdnat"
    if command -v cargo >/dev/null; then
        (cd "$REPO" && timeout 1200 cargo build -q -p gdnat-cli) \
            || { echo "FAIL build cargo build -p gdnat-cli failed"; echo "0 passed, 1 failed"; exit 1; }
    fi
fi
[ -x "$BIN" ] || { echo "FAIL build no gdnat binary at $BIN"; echo "0 passed, 1 failed"; exit 1; }

cleanup() {
    if tb_is_up; then
        ip netns exec "$TB_NS_LAN" timeout 10 "$BIN" delete "$PORT" TCP --url "$URL6" >/dev/null 2>&1
        bash "$TESTBED" down >/dev/null
    fi
}
trap cleanup EXIT
if tb_is_up; then bash "$TESTBED" down >/dev/null; fi
bash "$TESTBED" up >/dev/null || { echo "FAIL up the IPv6 test bed did not come up"; echo "0 passed, 1 failed"; exit 1; }
grep -q 'HTTP IPv6 address given to control points' "$TB_STATE/miniupnpd.log" \
    || fail bed.ipv6 "miniupnpd did not enable IPv6: $(grep -m1 -i ipv6 "$TB_STATE/miniupnpd.log")"

# gd <args...>: runs gdnat on the LAN host; sets OUT, ERR, RC.
gd() {
    local errf
    errf=$(mktemp /tmp/gdnat-e2e6.XXXXXX)
    OUT=$(ip netns exec "$TB_NS_LAN" timeout 30 "$BIN" "$@" 2>"$errf")
    RC=$?
    ERR=$(head -c 2000 "$errf")
    rm -f "$errf"
}

# ---- discovery over IPv6 multicast --------------------------------------------------------------
gd discover --ipv6 yes --timeout 2000
dev=$(grep '^device ' <<<"$OUT" | grep -F -m1 " location=$URL6 ")
if [ "$RC" = 0 ] && grep -q ' status=ConnectedPrivate ' <<<"$dev" \
   && grep -q " control_url=http://\[$TB_LAN_ROUTER_IP6\]:$TB_HTTP_PORT/ctl/IPConn " <<<"$dev" \
   && grep -q " local_addr=$TB_LAN_HOST_IP6 " <<<"$dev" && grep -q " external_ip=$TB_WAN_ROUTER_IP " <<<"$dev"; then
    pass discover.ipv6 "$dev"
else
    fail discover.ipv6 "exit $RC, out: $(oneline "$OUT") err: $(oneline "$ERR")"
fi
gd discover --timeout 2000
if [ "$RC" = 0 ] && grep -q "location=http://$TB_LAN_ROUTER_IP:$TB_HTTP_PORT/rootDesc.xml " <<<"$OUT" && ! grep -q 'location=http://\[' <<<"$OUT"; then
    pass discover.ipv4-unchanged "an IPv4 search on the same router finds its IPv4 LOCATION only"
else
    fail discover.ipv4-unchanged "exit $RC, out: $(oneline "$OUT") err: $(oneline "$ERR")"
fi

# ---- a link-local gateway with its zone ---------------------------------------------------------
LL=$(ip -n "$TB_NS_ROUTER" -6 -o addr show dev lan0 scope link | awk '{print $4}' | cut -d/ -f1 | head -1)
for zone in eth0 25eth0; do
    url="http://[$LL%$zone]:$TB_HTTP_PORT/rootDesc.xml"
    gd status --url "$url"
    if [ "$RC" = 0 ] && grep -q '^status Connected ' <<<"$OUT"; then
        pass "link-local.%$zone" "$url: $OUT"
    else
        fail "link-local.%$zone" "$url: exit $RC, out: $(oneline "$OUT") err: $(oneline "$ERR")"
    fi
done
gd external-ip --url "http://[$LL%eth0]:$TB_HTTP_PORT/rootDesc.xml"
if [ "$RC" = 0 ] && [ "$OUT" = "external_ip $TB_WAN_ROUTER_IP" ]; then
    pass link-local.external-ip "$OUT"
else
    fail link-local.external-ip "exit $RC, out: $(oneline "$OUT") err: $(oneline "$ERR")"
fi
gd status --url "http://[$LL]:$TB_HTTP_PORT/rootDesc.xml"
if [ "$RC" = 1 ] && grep -q 'UPNPResult 26' <<<"$ERR"; then
    pass link-local.without-zone "fails as it must (no interface to reach it through): $(oneline "$ERR")"
else
    fail link-local.without-zone "exit $RC, out: $(oneline "$OUT") err: $(oneline "$ERR")"
fi

# ---- mapping over IPv6: add, traffic, read back, delete, gone -------------------------------------
gd add "$PORT" TCP --client "$TB_LAN_HOST_IP" --desc gdnat-ipv6 --url "$URL6"
if [ "$RC" = 0 ] && grep -q "^added $PORT TCP -> $TB_LAN_HOST_IP:$PORT" <<<"$OUT"; then
    pass add.over-ipv6 "$OUT"
else
    fail add.over-ipv6 "exit $RC, out: $(oneline "$OUT") err: $(oneline "$ERR")"
fi
line=$(probe tcp "$PORT")
if [ "${line%% *}" = reached ]; then pass traffic.after-add "$line"; else fail traffic.after-add "$line"; fi
gd list --url "$URL6"
if [ "$RC" = 0 ] && grep -q "^mapping $PORT TCP -> $TB_LAN_HOST_IP:$PORT enabled=1 .* desc=gdnat-ipv6$" <<<"$OUT" && grep -qx 'mappings 1' <<<"$OUT"; then
    pass list.over-ipv6 "$(oneline "$OUT")"
else
    fail list.over-ipv6 "exit $RC, out: $(oneline "$OUT") err: $(oneline "$ERR")"
fi
gd delete "$PORT" TCP --url "$URL6"
if [ "$RC" = 0 ] && [ "$OUT" = "deleted $PORT TCP" ]; then pass delete.over-ipv6 "$OUT"; else fail delete.over-ipv6 "exit $RC, out: $(oneline "$OUT") err: $(oneline "$ERR")"; fi
gd list --url "http://$TB_LAN_ROUTER_IP:$TB_HTTP_PORT/rootDesc.xml"
if [ "$RC" = 0 ] && [ "$OUT" = "mappings 0" ]; then
    pass list.empty "the router's table, read over IPv4: $OUT"
else
    fail list.empty "want exactly 'mappings 0' from a successful list; exit $RC, out: $(oneline "$OUT") err: $(oneline "$ERR")"
fi
line=$(probe tcp "$PORT")
if [ "${line%% *}" = unreachable ]; then pass traffic.after-delete "$line"; else fail traffic.after-delete "$line"; fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
