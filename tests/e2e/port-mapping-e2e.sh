#!/usr/bin/env bash
# The NatPortMapping node (rust/gdnat-godot/src/port_mapping) in the real Godot against the real
# miniupnpd of the test bed, as root: tests/godot/test_port_mapping.gd runs headless in the bed's
# LAN namespace (PCP map, a WAN packet reaching the game's UDP socket, router restart -> lost then
# mapped, stop -> released and the router's table empty; UPnP only; queue_free clean-up; bad
# input). Its last test leaves a mapping and quits; this script then checks that quitting deleted
# it: the router's own table (tests/lib/router-table.sh: nft and upnpc -l, failing when the tool
# fails) is empty after Godot exited. About 15 s with the bed's start and stop (--no-build).
#
#   tests/e2e/port-mapping-e2e.sh [--no-build]
#   tests/e2e/port-mapping-e2e.sh hook send-udp|nft-rules|restart ...   (called by the suite)
#
# Prints `PASS|FAIL name detail` lines and `N passed, N failed`; exit 1 on any FAIL.
# Env: IGD_PREFIX (test-bed namespaces), GDNAT_LOGS (logs), CARGO_TARGET_DIR.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
TESTBED="$REPO/tests/testbed/testbed.sh"
# shellcheck source=../testbed/probe.sh
source "$REPO/tests/testbed/probe.sh"
# shellcheck source=../lib/router-table.sh
source "$REPO/tests/lib/router-table.sh"

[ "$(id -u)" = 0 ] || { echo "port-mapping-e2e: must run as root (network namespaces)" >&2; exit 1; }

# ---- hooks the suite calls from inside the LAN namespace ----------------------------------------
if [ "${1:-}" = hook ]; then
    case "${2:-}" in
        send-udp)
            # send-udp PORT TOKEN: one datagram from the WAN peer to the router's external
            # address, from a never-used source port (conntrack entries outlive mappings).
            [[ "${3:-}" =~ ^[0-9]+$ ]] && [ -n "${4:-}" ] || { echo "usage: hook send-udp PORT TOKEN"; exit 2; }
            sport=$(probe_next_sport)
            printf '%s\n' "$4" | ip netns exec "$TB_NS_WAN" timeout 5 \
                socat -u STDIN "UDP4-SENDTO:$TB_WAN_ROUTER_IP:$3,bind=$TB_WAN_PEER_IP:$sport" 2>&1
            exit "${PIPESTATUS[1]}" ;;
        nft-rules)
            gdnat_nft_dnat_rules "$TB_NS_ROUTER" ;;
        restart)
            bash "$TESTBED" restart-router 2>&1 | tail -1; exit "${PIPESTATUS[0]}" ;;
        *) echo "unknown hook ${2:-}" >&2; exit 2 ;;
    esac
    exit $?
fi

build=1
for a in "$@"; do
    case $a in
        --no-build) build=0 ;;
        *) sed -n '2,16p' "$0" >&2; exit 2 ;;
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
# Information only (retired workers of earlier tests count too): the library's shutdown join.
echo "port-mapping-e2e: ${shutdown_line:-no NatPortMapping shutdown line}"
echo "port-mapping-e2e: $(( $(tb_now_ms) - T0 )) ms"
finish
