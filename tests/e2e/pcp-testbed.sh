#!/usr/bin/env bash
# NAT-PMP and PCP (rust/gdnat-pcp) against the real miniupnpd of the test bed, as root:
# external address, map, renew with the same nonce, delete, another nonce (NOT_AUTHORIZED), a
# denied port, NAT-PMP map/renew/delete, WAN->LAN traffic through each mapping, the router's own
# nftables table empty afterwards, and a router restart (new epoch, empty table) that the
# clients' epoch checks detect.
#
#   tests/e2e/pcp-testbed.sh            build the test, bring the bed up, run it, bring the bed down
#   tests/e2e/pcp-testbed.sh hook ...   (used by the test itself: probe|table|restart)
#
# Prints the test's `PASS|FAIL name detail` lines and `N passed, N failed`; exit 1 on any FAIL.
# Env: IGD_PREFIX (test-bed namespaces), CARGO_TARGET_DIR.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
TESTBED="$REPO/tests/testbed/testbed.sh"
# shellcheck source=../testbed/common.sh
source "$REPO/tests/testbed/common.sh"

[ "$(id -u)" = 0 ] || { echo "pcp-testbed: must run as root (network namespaces)" >&2; exit 1; }

# ---- the hook the Rust test calls from inside the LAN namespace ---------------------------------
if [ "${1:-}" = hook ]; then
    case "${2:-}" in
        probe)
            # Exit 0 reached, 1 unreachable, 2 the probe could not run.
            out=$(bash "$REPO/tests/testbed/probe.sh" "$3" "$4"); rc=$?
            echo "$out"; exit $rc ;;
        table)
            # The router's forwarding rules made by miniupnpd (DNAT in prerouting_miniupnpd and
            # accepts in the miniupnpd forward chain). A failed nft, or output without the chain
            # header, is a failure: never "no rules".
            nat=$(ip netns exec "$TB_NS_ROUTER" nft list chain inet filter prerouting_miniupnpd 2>&1) || { echo "nft failed: $nat"; exit 1; }
            fwd=$(ip netns exec "$TB_NS_ROUTER" nft list chain inet filter miniupnpd 2>&1) || { echo "nft failed: $fwd"; exit 1; }
            grep -q 'chain prerouting_miniupnpd' <<<"$nat" && grep -q 'chain miniupnpd' <<<"$fwd" \
                || { echo "nft printed no chain: $nat $fwd"; exit 1; }
            echo $(( $(grep -c 'dnat' <<<"$nat") + $(grep -c 'accept' <<<"$fwd") )) ;;
        restart)
            bash "$TESTBED" restart-router 2>&1 | tail -1; exit "${PIPESTATUS[0]}" ;;
        *) echo "unknown hook ${2:-}" >&2; exit 2 ;;
    esac
    exit 0
fi

[ $# = 0 ] || { sed -n '2,14p' "$0" >&2; exit 2; }
# The hook runs inside the test; the main mode must never run there (it would start itself again).
[ -z "${GDNAT_TESTBED_HOOK:-}" ] || { echo "pcp-testbed: main mode called from inside the test" >&2; exit 2; }

# ---- build the test binary ----------------------------------------------------------------------
echo "pcp-testbed: cargo test -p gdnat-pcp --test testbed --no-run"
BIN=$(cd "$REPO" && timeout 1200 cargo test -q -p gdnat-pcp --test testbed --no-run --message-format=json 2>/dev/null \
    | sed -n 's/.*"executable":"\([^"]*testbed-[^"]*\)".*/\1/p' | tail -1)
[ -x "$BIN" ] || { echo "FAIL build no test binary (cargo test -p gdnat-pcp --test testbed --no-run)"; echo "0 passed, 1 failed"; exit 1; }

# ---- the bed ------------------------------------------------------------------------------------
OWN_BED=no
if ! tb_is_up; then
    OWN_BED=yes
    bash "$TESTBED" up >/dev/null || { echo "FAIL up the test bed did not come up"; echo "0 passed, 1 failed"; exit 1; }
fi
cleanup() { [ "$OWN_BED" = yes ] && bash "$TESTBED" down >/dev/null; }
trap cleanup EXIT

out=$(GDNAT_TESTBED_GATEWAY=$TB_LAN_ROUTER_IP GDNAT_TESTBED_HOOK="$HERE/pcp-testbed.sh" \
    ip netns exec "$TB_NS_LAN" timeout 120 "$BIN" --nocapture --test-threads=1 2>&1)
rc=$?
grep -E '^(PASS|FAIL|SKIP) ' <<<"$out"
passed=$(grep -c '^PASS ' <<<"$out")
failed=$(grep -c '^FAIL ' <<<"$out")
if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then
    echo "FAIL run the test exited $rc: $(tail -5 <<<"$out" | tr '\n' ' ')"; failed=1
fi
[ "$passed" -gt 0 ] || { echo "FAIL run no check ran"; failed=$((failed + 1)); }
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
