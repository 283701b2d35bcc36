#!/usr/bin/env bash
# Self-test of tests/lib/router-table.sh with fake `upnpc`, `nft` and `ip` on PATH (no router,
# no namespace, no root needed): a failed, silent or cut-off listing must be an error; an empty
# or filled table must be read as such. Prints PASS/FAIL lines and `N passed, N failed`.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FAKE=$(mktemp -d /tmp/gdnat-router-table-test.XXXXXX)
trap 'rm -rf "$FAKE"' EXIT
# `ip netns exec NS CMD...` runs CMD here; upnpc and nft print $FAKE_OUT and exit $FAKE_RC.
printf '#!/bin/sh\n[ "$1 $2" = "netns exec" ] && { shift 3; exec "$@"; }\nexit 99\n' > "$FAKE/ip"
printf '#!/bin/sh\n[ -n "$FAKE_OUT" ] && printf "%%s\\n" "$FAKE_OUT"\nexit "$FAKE_RC"\n' > "$FAKE/upnpc"
cp "$FAKE/upnpc" "$FAKE/nft"
chmod +x "$FAKE"/*
export PATH="$FAKE:$PATH"
source "$HERE/router-table.sh"

passed=0 failed=0
result() { if [ "$1" = ok ]; then passed=$((passed + 1)); echo "PASS $2"; else failed=$((failed + 1)); echo "FAIL $2"; fi; }
HEAD=$'Found valid IGD : http://10.77.0.1:5000/ctl/IPConn\nExternalIPAddress = 198.51.100.1\n i protocol exPort->inAddr:inPort description remoteHost leaseTime'
END='GetGenericPortMappingEntry() returned 713 (SpecifiedArrayIndexInvalid)'
ROW=" 0 TCP  7777->10.77.0.2:7777  'gdnat' '' 0"

# expect_upnpc <ok|error> <name> <rc> <output> [<expected rows>]
expect_upnpc() {
    local want=$1 name=$2 rows rc
    rows=$(FAKE_RC=$3 FAKE_OUT=$4 gdnat_upnpc_table fake-ns http://x/ 2>/dev/null); rc=$?
    if [ "$want" = error ]; then
        [ $rc != 0 ] && result ok "upnpc: $name is an error" || result no "upnpc: $name read as a table: '$rows'"
    else
        [ $rc = 0 ] && [ "$rows" = "${5:-}" ] && result ok "upnpc: $name -> '$rows'" || result no "upnpc: $name: rc=$rc rows='$rows'"
    fi
}
expect_upnpc error "exit 1, no output" 1 ""
expect_upnpc error "exit 0, no output" 0 ""
expect_upnpc error "no IGD found (exit 0)" 0 "No valid UPNP Internet Gateway Device found."
expect_upnpc error "listing cut off before its end" 0 "$HEAD"$'\n'"$ROW"
expect_upnpc error "timeout (exit 124)" 124 "$HEAD"
expect_upnpc ok "empty table" 0 "$HEAD"$'\n'"$END" ""
expect_upnpc ok "one mapping" 0 "$HEAD"$'\n'"$ROW"$'\n'"$END" "$ROW"

expect_nft() {
    local want=$1 name=$2 rules rc
    rules=$(FAKE_RC=$3 FAKE_OUT=$4 gdnat_nft_dnat_rules fake-ns 2>/dev/null); rc=$?
    if [ "$want" = error ]; then
        [ $rc != 0 ] && result ok "nft: $name is an error" || result no "nft: $name read as '$rules'"
    else
        [ $rc = 0 ] && [ "$(grep -c dnat <<<"$rules")" = "$5" ] && result ok "nft: $name -> $5 rules" || result no "nft: $name: rc=$rc rules='$rules'"
    fi
}
CHAIN=$'table inet filter {\n\tchain prerouting_miniupnpd {'
expect_nft error "exit 1 (no such chain)" 1 "Error: No such file or directory"
expect_nft error "exit 0, no output" 0 ""
expect_nft ok "empty chain" 0 "$CHAIN"$'\n\t}\n}' 0
expect_nft ok "one dnat rule" 0 "$CHAIN"$'\n\t\tiif "wan0" tcp dport 7777 dnat ip to 10.77.0.2:7777\n\t}\n}' 1

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
