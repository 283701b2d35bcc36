#!/usr/bin/env bash
# Issue 8 item 5 (full-tunnel VPN / multicast-filtering Wi-Fi): with every packet to the SSDP
# group 239.255.255.250 dropped in the router namespace (an nft rule), discovery must still
# find the router through its unicast M-SEARCH to the default gateway, and must not find it
# without (`--gateway-search no`, which is what the engine's miniupnpc does: `upnpc` is the
# control that proves the rule really hides the router). As root, on the real miniupnpd bed.
#
#   tests/e2e/multicast-dropped.sh
#
# Prints `PASS|FAIL name detail` per check and `N passed, N failed`; exit 1 on any FAIL.
# Brings the test bed up if needed and down at exit, unless it was already up; the nft table
# it adds (inet gdnat_no_multicast, router namespace only) is removed at exit either way.
# Env: GDNAT_BIN (default ${CARGO_TARGET_DIR:-<repo>/target}/debug/gdnat, built if missing),
#      IGD_PREFIX (test-bed namespaces). About 10 s once the bed is up.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
TESTBED="$REPO/tests/testbed/testbed.sh"
# shellcheck source=../testbed/common.sh
source "$REPO/tests/testbed/common.sh"

[ "$(id -u)" = 0 ] || { echo "multicast-dropped: must run as root (network namespaces)" >&2; exit 1; }

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS $1 ${2:-}"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1 ${2:-}"; }
info() { echo "INFO $*"; }
oneline() { tr '\n' ' ' <<<"$1" | head -c 400; }
URL="$TB_DESC_URL"
TABLE=gdnat_no_multicast

if [ -n "${GDNAT_BIN:-}" ]; then
    BIN="$GDNAT_BIN"
else
    BIN="${CARGO_TARGET_DIR:-$REPO/target}/debug/gdnat"
    if [ ! -x "$BIN" ]; then
        (cd "$REPO" && timeout 1200 cargo build -q -p gdnat-cli) \
            || { echo "FAIL build cargo build -p gdnat-cli failed"; echo "0 passed, 1 failed"; exit 1; }
    fi
fi
[ -x "$BIN" ] || { echo "FAIL build no gdnat binary at $BIN"; echo "0 passed, 1 failed"; exit 1; }
info "binary $BIN"

OWN_BED=no
cleanup() {
    tb_ns_exists "$TB_NS_ROUTER" && ip netns exec "$TB_NS_ROUTER" nft delete table inet "$TABLE" 2>/dev/null
    [ "$OWN_BED" = yes ] && bash "$TESTBED" down >/dev/null
}
trap cleanup EXIT
if ! tb_is_up; then
    OWN_BED=yes
    bash "$TESTBED" up || { echo "FAIL up the test bed did not come up"; echo "0 passed, 1 failed"; exit 1; }
else
    info "test bed already up; leaving it up"
fi

# gd <args...>: runs gdnat on the LAN host; sets OUT, ERR, RC.
gd() {
    local errf
    errf=$(mktemp /tmp/gdnat-mcast.XXXXXX)
    OUT=$(ip netns exec "$TB_NS_LAN" timeout 30 "$BIN" "$@" 2>"$errf")
    RC=$?
    ERR=$(head -c 2000 "$errf")
    rm -f "$errf"
}
router_found() { grep -m1 "^device .*location=$URL\( \|$\)" <<<"$OUT" | grep -E ' status=Connected(Private|Public)( |$)'; }

# ---- 0. baseline: with multicast working, both ways find the router ---------------------------
gd discover --timeout 2000 --gateway-search no
if [ "$RC" = 0 ] && router_found >/dev/null; then
    pass baseline.multicast-finds-router "$(grep -m1 '^discovered' <<<"$OUT")"
else
    fail baseline.multicast-finds-router "exit $RC, out: $(oneline "$OUT") err: $(oneline "$ERR")"
fi

# ---- 1. drop the SSDP group in the router (a full-tunnel VPN or a filtering Wi-Fi) -------------
if ip netns exec "$TB_NS_ROUTER" nft -f - <<NFT
table inet $TABLE {
    chain prerouting {
        type filter hook prerouting priority raw; policy accept;
        ip daddr 239.255.255.250 counter drop
    }
    chain output {
        type filter hook output priority raw; policy accept;
        ip daddr 239.255.255.250 counter drop
    }
}
NFT
then
    listed=$(ip netns exec "$TB_NS_ROUTER" nft list table inet "$TABLE" 2>&1)
    if grep -q 'ip daddr 239.255.255.250 counter packets [0-9]* bytes [0-9]* drop' <<<"$listed"; then
        pass rule.installed "nft table inet $TABLE drops 239.255.255.250 in $TB_NS_ROUTER"
    else
        fail rule.installed "nft list shows no drop rule: $(oneline "$listed")"
    fi
else
    fail rule.installed "nft -f failed in $TB_NS_ROUTER"
fi
drops() {
    ip netns exec "$TB_NS_ROUTER" nft list chain inet "$TABLE" prerouting 2>/dev/null \
        | sed -n 's/.*239.255.255.250 counter packets \([0-9]*\) .*/\1/p' | head -1
}

# ---- 2. the control: multicast-only discovery no longer sees the router -----------------------
before=$(drops)
upnpc_out=$(ip netns exec "$TB_NS_LAN" timeout 20 upnpc -s 2>&1)
upnpc_rc=$?
after=$(drops)
if [ -z "$upnpc_out" ]; then
    fail control.upnpc-hidden "upnpc printed nothing (exit $upnpc_rc): the control did not run"
elif grep -q 'No IGD UPnP Device found\|No valid UPNP Internet Gateway Device found' <<<"$upnpc_out" \
    && ! grep -q "$URL" <<<"$upnpc_out"; then
    pass control.upnpc-hidden "upnpc (miniupnpc, multicast only, like the engine): no IGD"
else
    fail control.upnpc-hidden "upnpc still found something: $(oneline "$upnpc_out")"
fi
if [ -n "$before" ] && [ -n "$after" ] && [ "$after" -gt "$before" ]; then
    pass rule.drops "the rule dropped $((after - before)) SSDP datagram(s) from upnpc"
else
    fail rule.drops "drop counter did not grow (before '${before}', after '${after}')"
fi

gd discover --timeout 1000 --gateway-search no
if [ "$RC" != 0 ] && ! router_found >/dev/null; then
    pass without-unicast.hidden "gdnat discover --gateway-search no: exit $RC, $(oneline "$ERR")"
else
    fail without-unicast.hidden "found it without the unicast search (rule ineffective?): exit $RC, out: $(oneline "$OUT")"
fi

# ---- 3. the fix: the unicast M-SEARCH to the default gateway finds it --------------------------
gd discover --timeout 2000
dev=$(router_found)
if [ "$RC" = 0 ] && [ -n "$dev" ]; then
    pass unicast.finds-router "$dev"
else
    fail unicast.finds-router "exit $RC, out: $(oneline "$OUT") err: $(oneline "$ERR")"
fi
gd external-ip --timeout 2000
if [ "$RC" = 0 ] && grep -q "$TB_WAN_ROUTER_IP" <<<"$OUT"; then
    pass unicast.external-ip "$(head -1 <<<"$OUT")"
else
    fail unicast.external-ip "want $TB_WAN_ROUTER_IP; exit $RC, out: $(oneline "$OUT") err: $(oneline "$ERR")"
fi

# ---- 4. clean up the rule and prove it is gone --------------------------------------------------
if ip netns exec "$TB_NS_ROUTER" nft delete table inet "$TABLE" \
    && ! ip netns exec "$TB_NS_ROUTER" nft list table inet "$TABLE" >/dev/null 2>&1; then
    pass rule.removed "table inet $TABLE deleted"
else
    fail rule.removed "could not delete table inet $TABLE"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
