#!/usr/bin/env bash
# End-to-end checks of the `gdnat` command-line tool (rust/gdnat-cli) against the real miniupnpd
# of the test bed (tests/testbed/testbed.sh), as root. The tool runs on the LAN host
# (<prefix>-lan); real traffic from the WAN namespace proves that its mappings open and close
# the router (tests/testbed/probe.sh).
#
#   tests/e2e/core-e2e.sh
#
# Prints `PASS|FAIL name detail` per check and `N passed, N failed`; exit 1 on any FAIL.
# Brings the test bed up if needed and down at exit, unless it was already up.
# Env: GDNAT_BIN (binary to test; default ${CARGO_TARGET_DIR:-<repo>/target}/debug/gdnat, built
#      with `cargo build -p gdnat-cli` first), IGD_PREFIX (test-bed namespaces), E2E_PORT (7777;
#      the checks use E2E_PORT..E2E_PORT+4 and E2E_PORT+14).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
TESTBED="$REPO/tests/testbed/testbed.sh"
# shellcheck source=../testbed/probe.sh
source "$REPO/tests/testbed/probe.sh"

[ "$(id -u)" = 0 ] || { echo "core-e2e: must run as root (network namespaces)" >&2; exit 1; }

PORT="${E2E_PORT:-7777}"
LEASE_PORT=$((PORT + 3))
OTHER_PORT=$((PORT + 4))
ZERO_INTERNAL_PORT=$((PORT + 14))
URL="$TB_DESC_URL"

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS $1 ${2:-}"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1 ${2:-}"; }
info() { echo "INFO $*"; }
contains() { case "$1" in *"$2"*) return 0 ;; *) return 1 ;; esac; }
oneline() { tr '\n' ' ' <<<"$1" | head -c 400; }

# ---- the binary ---------------------------------------------------------------------------------
if [ -n "${GDNAT_BIN:-}" ]; then
    BIN="$GDNAT_BIN"
else
    BIN="${CARGO_TARGET_DIR:-$REPO/target}/debug/gdnat"
    source "$REPO/tests/lib/rust-env.sh"   # cargo, also under sudo
    if gdnat_rust_env; then
        echo "core-e2e: cargo build -p gdnat-cli"
        (cd "$REPO" && timeout 1200 cargo build -q -p gdnat-cli) \
            || { echo "FAIL build cargo build -p gdnat-cli failed"; echo "0 passed, 1 failed"; exit 1; }
    fi
fi
[ -x "$BIN" ] || { echo "FAIL build no gdnat binary at $BIN"; echo "0 passed, 1 failed"; exit 1; }
info "binary $BIN"

# ---- the test bed -------------------------------------------------------------------------------
OWN_BED=no
cleanup() {
    # Best effort: remove what this run may have mapped, then the bed if we brought it up.
    if tb_is_up; then
        for m in "$PORT TCP" "$PORT UDP" "$LEASE_PORT TCP" "$OTHER_PORT TCP"; do
            # shellcheck disable=SC2086
            ip netns exec "$TB_NS_LAN" timeout 10 "$BIN" delete $m --url "$URL" >/dev/null 2>&1
        done
    fi
    [ "$OWN_BED" = yes ] && bash "$TESTBED" down >/dev/null
}
if ! tb_is_up; then
    OWN_BED=yes
    trap cleanup EXIT
    bash "$TESTBED" up || { echo "FAIL up the test bed did not come up"; echo "0 passed, 1 failed"; exit 1; }
else
    trap cleanup EXIT
    info "test bed already up; leaving it up"
fi
grep -q 'Port forwarding is now enabled' "$TB_STATE/miniupnpd.log" 2>/dev/null \
    || info "WARNING: the running router has forwarding disabled (IGD_STUN=no?); checks will fail"

# gd <args...>: runs gdnat on the LAN host; sets OUT, ERR, RC (and MS, the wall time).
gd() {
    local errf t0
    errf=$(mktemp /tmp/gdnat-e2e.XXXXXX)
    t0=$(tb_now_ms)
    OUT=$(ip netns exec "$TB_NS_LAN" timeout 30 "$BIN" "$@" 2>"$errf")
    RC=$?
    MS=$(( $(tb_now_ms) - t0 ))
    ERR=$(head -c 2000 "$errf")
    rm -f "$errf"
}

# ---- 1. discover --------------------------------------------------------------------------------
gd discover
info "gdnat discover: exit $RC in $MS ms wall ($(grep -m1 '^discovered' <<<"$OUT" || echo 'no summary line'))"
dev=$(grep -m1 "^device .*location=$URL\( \|$\)" <<<"$OUT")
if [ "$RC" = 0 ] && [ -n "$dev" ] && grep -qE ' status=Connected(Private|Public)( |$)' <<<"$dev"; then
    pass discover.finds-router "$dev"
else
    fail discover.finds-router "exit $RC, out: $(oneline "$OUT") err: $(oneline "$ERR")"
fi
if grep -q ' status=ConnectedPrivate ' <<<"$dev" && grep -q ' double_nat=true' <<<"$dev" \
   && grep -q " external_ip=$TB_WAN_ROUTER_IP " <<<"$dev"; then
    pass discover.reserved-wan "TEST-NET-2 WAN address: ConnectedPrivate, double_nat=true, external_ip=$TB_WAN_ROUTER_IP"
else
    fail discover.reserved-wan "want status=ConnectedPrivate double_nat=true external_ip=$TB_WAN_ROUTER_IP in: ${dev:-<no device line>}"
fi
if grep -qE '^discovered [1-9][0-9]* in [0-9]+ ms' <<<"$OUT"; then
    pass discover.summary "$(grep -m1 '^discovered' <<<"$OUT")"
else
    fail discover.summary "no 'discovered <n> in <ms> ms' line"
fi

# ---- 2. external-ip -----------------------------------------------------------------------------
gd external-ip
if [ "$RC" = 0 ] && grep -qx "external_ip $TB_WAN_ROUTER_IP" <<<"$OUT"; then
    pass external-ip.discovered "external_ip $TB_WAN_ROUTER_IP (with discovery, $MS ms)"
else
    fail external-ip.discovered "exit $RC, out: $(oneline "$OUT") err: $(oneline "$ERR")"
fi
gd external-ip --url "$URL"
if [ "$RC" = 0 ] && grep -qx "external_ip $TB_WAN_ROUTER_IP" <<<"$OUT"; then
    pass external-ip.url "external_ip $TB_WAN_ROUTER_IP (--url, $MS ms)"
else
    fail external-ip.url "exit $RC, out: $(oneline "$OUT") err: $(oneline "$ERR")"
fi

# ---- 3.-5. add, traffic, delete, no traffic -------------------------------------------------------
# check_probe <name> <reached|unreachable> <proto> <port>
check_probe() {
    local name=$1 want=$2 line
    line=$(probe "$3" "$4")
    if [ "${line%% *}" = "$want" ] && { [ "$want" = unreachable ] || contains "$line" "peer=$TB_WAN_PEER_IP:"; }; then
        pass "$name" "$line"
    else
        fail "$name" "want $want, got: $line"
    fi
}

for proto in TCP UDP; do
    p=${proto,,}
    gd add "$PORT" "$proto" --url "$URL" --desc gdnat-e2e
    if [ "$RC" = 0 ] && grep -q "^added $PORT $proto -> $TB_LAN_HOST_IP:$PORT" <<<"$OUT"; then
        pass "add.$p" "$(head -1 <<<"$OUT") ($MS ms)"
    else
        fail "add.$p" "exit $RC, out: $(oneline "$OUT") err: $(oneline "$ERR")"
    fi
    check_probe "forward.$p" reached "$p" "$PORT"
done

gd show "$PORT" TCP --url "$URL"
if [ "$RC" = 0 ] && grep -q "^mapping $PORT TCP -> $TB_LAN_HOST_IP:$PORT enabled=1 .*desc=gdnat-e2e" <<<"$OUT"; then
    pass show.tcp "$(head -1 <<<"$OUT")"
else
    fail show.tcp "exit $RC, out: $(oneline "$OUT") err: $(oneline "$ERR")"
fi

for proto in TCP UDP; do
    p=${proto,,}
    gd delete "$PORT" "$proto" --url "$URL"
    if [ "$RC" = 0 ] && grep -qx "deleted $PORT $proto" <<<"$OUT"; then
        pass "delete.$p" "$(head -1 <<<"$OUT") ($MS ms)"
    else
        fail "delete.$p" "exit $RC, out: $(oneline "$OUT") err: $(oneline "$ERR")"
    fi
    check_probe "deleted-unreachable.$p" unreachable "$p" "$PORT"
done

# ---- 6. the router's UPnP errors, as the CLI prints them -----------------------------------------
# check_error <name> <expected stderr line>: the last command must exit 1, print nothing on
# stdout and exactly this line on stderr: the typed error (code and name), the router's
# errorDescription, and the engine's UPNPResult from the one mapping function.
check_error() {
    local name=$1 want=$2
    if [ "$RC" = 1 ] && [ -z "$OUT" ] && [ "$ERR" = "$want" ]; then
        pass "$name" "exit 1: $ERR"
    else
        fail "$name" "want exit 1 and '$want'; exit $RC, out: $(oneline "$OUT") err: $(oneline "$ERR")"
    fi
}

# A mapping for another LAN client: 718 under secure_mode (not 606).
gd add "$OTHER_PORT" TCP --client "$TB_LAN_HOST2_IP" --url "$URL"
check_error add.other-client-718 \
    "error: router answered UPnP error 718 ConflictInMappingEntry (ConflictInMappingEntry) (UPNPResult 13)"
# The refused mapping does not exist: GetSpecificPortMappingEntry answers 714.
gd show "$OTHER_PORT" TCP --url "$URL"
check_error show.missing-714 \
    "error: router answered UPnP error 714 NoSuchEntryInArray (NoSuchEntryInArray) (UPNPResult 4)"
# External port 0 (the wildcard): the CLI sends it as given (`add 0 ...` is allowed for
# debugging a router); miniupnpd answers 716 with its own spelling of the description.
gd add 0 TCP --internal-port "$ZERO_INTERNAL_PORT" --url "$URL"
check_error add.external-port-0-716 \
    "error: router answered UPnP error 716 WildCardNotPermittedInExtPort (Wildcard not permited in ExtPort) (UPNPResult 7)"

# ---- 7. lease ------------------------------------------------------------------------------------
gd add "$LEASE_PORT" TCP --lease 3600 --url "$URL"
if [ "$RC" = 0 ] && grep -q "^added $LEASE_PORT TCP -> $TB_LAN_HOST_IP:$LEASE_PORT" <<<"$OUT"; then
    pass add.lease "$(head -1 <<<"$OUT")"
else
    fail add.lease "exit $RC, out: $(oneline "$OUT") err: $(oneline "$ERR")"
fi
gd show "$LEASE_PORT" TCP --url "$URL"
lease=$(sed -n "s/^mapping $LEASE_PORT TCP .* lease=\([0-9]*\).*/\1/p" <<<"$OUT" | head -1)
if [ "$RC" = 0 ] && [ -n "$lease" ] && [ "$lease" -ge 3500 ] && [ "$lease" -le 3600 ]; then
    pass show.lease "lease=$lease (3500..3600)"
else
    fail show.lease "want lease 3500..3600; exit $RC, out: $(oneline "$OUT") err: $(oneline "$ERR")"
fi
gd delete "$LEASE_PORT" TCP --url "$URL"
[ "$RC" = 0 ] && pass delete.lease "$(head -1 <<<"$OUT")" || fail delete.lease "exit $RC, err: $(oneline "$ERR")"

# ---- usage errors and the router's state ------------------------------------------------------------
gd add
if [ "$RC" = 2 ]; then pass usage.exit-2 "missing arguments: exit 2"; else fail usage.exit-2 "exit $RC for 'gdnat add'"; fi
source "$REPO/tests/lib/router-table.sh"   # a failed nft is a failure, not "nothing left"
if ! rules=$(gdnat_nft_dnat_rules "$TB_NS_ROUTER" 2>&1); then
    fail router.clean "could not read the router's rules: $rules"
elif [ -n "$rules" ]; then
    fail router.clean "dnat rules left: $(oneline "$rules")"
else
    pass router.clean "no dnat rule left (nft list chain inet filter prerouting_miniupnpd)"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
