#!/usr/bin/env bash
# The Windows command-line tool (gdnat.exe) under Wine 10, in the test bed's LAN namespace,
# against the real miniupnpd: the same checks as the Linux tool (tests/e2e/core-e2e.sh:
# discover, external-ip, add, list, show, delete, leases, errors; real WAN traffic proves each
# mapping opens and closes the router), as root.
#
#   tests/wine/cli-e2e.sh
#
# Wine creates every socket inside the wineserver, so one wineserver is started inside the LAN
# namespace before the first check and stopped by its PID after the last one; afterwards no Wine
# process may be left in the namespace. Checks that fail under Wine for a reason of Wine's own
# are listed in tests/wine/known-wine-failures.txt ("cli <check> | reason"): shown as XFAIL with
# their output, and an XPASS (listed but passing) fails the run.
# Env: GDNAT_WINDOWS_BIN (default: the gdnat.exe of the last tests/windows/build.sh debug build),
#      IGD_PREFIX (test-bed namespaces), E2E_PORT (as core-e2e.sh).
# Prints `PASS|FAIL|XFAIL|XPASS name detail` and `N passed, N failed`; exit 1 on any failure.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
# shellcheck source=../testbed/common.sh
source "$REPO/tests/testbed/common.sh"
LOGS=${GDNAT_LOGS:-/tmp/gdnat-logs}; mkdir -p "$LOGS"

[ "$(id -u)" = 0 ] || { echo "wine/cli-e2e: must run as root" >&2; exit 2; }
passed=0; failed=0
PASSED_NAMES=" "
pass() { passed=$((passed + 1)); PASSED_NAMES+="$1 "; echo "PASS $1 ${2:-}"; }
fail() { failed=$((failed + 1)); echo "FAIL $1 ${2:-}"; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" = 0 ]; exit $?; }

EXE=${GDNAT_WINDOWS_BIN:-$(cat "$TARGET_DIR/windows-out-debug.txt" 2>/dev/null)/gdnat.exe}
[ -f "$EXE" ] || { fail build "no gdnat.exe at $EXE: run tests/windows/build.sh first"; finish; }
bash "$HERE/provision.sh" > "$LOGS/wine-provision.log" 2>&1 || { fail provision "$(tail -2 "$LOGS/wine-provision.log")"; finish; }
export GDNAT_WINE_PREFIX="${GDNAT_WINE_PREFIX:-${IGD_PREFIX:-default}}-cli"

# The test bed, brought up here if it is down (and down again at the end).
OWN_BED=no
SERVER=
WORK=$(mktemp -d /tmp/gdnat-wine-cli.XXXXXX)
cleanup() {
    [ -n "$SERVER" ] && bash "$HERE/wine.sh" server-stop "$SERVER"
    [ "$OWN_BED" = yes ] && bash "$REPO/tests/testbed/testbed.sh" down >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT
if ! tb_is_up; then
    OWN_BED=yes
    bash "$REPO/tests/testbed/testbed.sh" up > "$LOGS/wine-cli-testbed.log" 2>&1 \
        || { fail testbed "testbed.sh up failed ($LOGS/wine-cli-testbed.log)"; finish; }
fi

SERVER=$(ip netns exec "$TB_NS_LAN" bash "$HERE/wine.sh" server-start) \
    || { SERVER=; fail wineserver "did not start in $TB_NS_LAN"; finish; }
if ip netns pids "$TB_NS_LAN" | grep -qx "$SERVER"; then
    pass wineserver "pid $SERVER runs in $TB_NS_LAN"
else
    fail wineserver "pid $SERVER is not in $TB_NS_LAN"; finish
fi

# The binary core-e2e.sh runs (with `ip netns exec <lan> timeout 30 BIN ...`): gdnat.exe under Wine.
cat > "$WORK/gdnat" <<EOF
#!/usr/bin/env bash
export GDNAT_WINE_PREFIX=$GDNAT_WINE_PREFIX
exec bash "$HERE/wine.sh" run "$EXE" "\$@"
EOF
chmod +x "$WORK/gdnat"
version=$(ip netns exec "$TB_NS_LAN" timeout 60 "$WORK/gdnat" --help 2>&1 | head -1)
[ -n "$version" ] && pass start "gdnat.exe starts under Wine: $version" || fail start "gdnat.exe --help printed nothing"

t0=$SECONDS
GDNAT_BIN="$WORK/gdnat" timeout 900 bash "$REPO/tests/e2e/core-e2e.sh" > "$LOGS/wine-cli-e2e.log" 2>&1
rc=$?
echo "INFO core-e2e.sh with gdnat.exe under Wine: exit $rc in $((SECONDS - t0)) s (log $LOGS/wine-cli-e2e.log)"
grep -E '^INFO ' "$LOGS/wine-cli-e2e.log" | sed 's/^/    /'

mapfile -t KNOWN < <(grep -E '^cli ' "$HERE/known-wine-failures.txt" 2>/dev/null || true)
known_reason() { local l; for l in "${KNOWN[@]}"; do [ "$(awk '{print $2}' <<<"${l%%|*}")" = "$1" ] && { echo "${l#*|}"; return 0; }; done; return 1; }
while read -r verdict name detail; do
    if reason=$(known_reason "$name"); then
        if [ "$verdict" = FAIL ]; then
            passed=$((passed + 1)); echo "XFAIL $name under Wine:$reason"; echo "    evidence: $detail"
        else
            failed=$((failed + 1)); echo "XPASS $name passes under Wine now: remove it from tests/wine/known-wine-failures.txt"
        fi
    elif [ "$verdict" = PASS ]; then pass "$name" "$detail"; else fail "$name" "$detail"; fi
done < <(grep -E '^(PASS|FAIL) ' "$LOGS/wine-cli-e2e.log")
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$LOGS/wine-cli-e2e.log" | tail -1)
[ -n "$summary" ] || fail core-e2e "core-e2e.sh printed no summary (exit $rc)"
# list: core-e2e.sh has no list check, so it is done here: a mapping made by gdnat.exe is listed
# by gdnat.exe (and by the router's own upnpc -l), and is gone from both after its delete.
LPORT=$(( ${E2E_PORT:-7777} + 20 ))
wgd() { OUT=$(ip netns exec "$TB_NS_LAN" timeout 60 "$WORK/gdnat" "$@" 2>&1); RC=$?; }
router_lists() { ip netns exec "$TB_NS_LAN" timeout 20 upnpc -u "$TB_DESC_URL" -l 2>/dev/null | grep -cE "^ *[0-9]+ TCP +$LPORT->$TB_LAN_HOST_IP:$LPORT "; }
wgd add "$LPORT" TCP --desc gdnat-wine-list --url "$TB_DESC_URL"
if [ "$RC" = 0 ]; then
    wgd list --url "$TB_DESC_URL"
    row=$(grep -E "^mapping $LPORT TCP -> $TB_LAN_HOST_IP:$LPORT enabled=1 lease=[0-9]+ desc=gdnat-wine-list$" <<<"$OUT")
    count=$(grep -oE '^mappings [0-9]+$' <<<"$OUT")
    if [ "$RC" = 0 ] && [ -n "$row" ] && [ -n "$count" ] && [ "$(router_lists)" = 1 ]; then
        pass list.shows-mapping "$row ($count; upnpc -l on the router agrees)"
    else
        fail list.shows-mapping "exit $RC, router rows $(router_lists), out: $(tr '\n' ' ' <<<"$OUT" | head -c 400)"
    fi
    wgd delete "$LPORT" TCP --url "$TB_DESC_URL"
    del_rc=$RC
    wgd list --url "$TB_DESC_URL"
    upnpc_out=$(ip netns exec "$TB_NS_LAN" timeout 20 upnpc -u "$TB_DESC_URL" -l 2>&1)
    if [ "$del_rc" = 0 ] && [ "$RC" = 0 ] && grep -qE '^mappings [0-9]+$' <<<"$OUT" \
       && ! grep -q "^mapping $LPORT TCP " <<<"$OUT" && grep -q 'ExternalIPAddress' <<<"$upnpc_out" \
       && [ "$(router_lists)" = 0 ]; then
        pass list.after-delete "$(grep -E '^mappings' <<<"$OUT"); no row for $LPORT TCP in gdnat.exe list nor in upnpc -l"
    else
        fail list.after-delete "delete exit $del_rc, list exit $RC, out: $(tr '\n' ' ' <<<"$OUT" | head -c 300)"
    fi
else
    fail list.shows-mapping "gdnat.exe add $LPORT TCP failed: exit $RC $(tr '\n' ' ' <<<"$OUT" | head -c 300)"
fi

for op in discover external-ip add list delete; do
    grep -qE " $op[.-]" <<<"$PASSED_NAMES" || fail "covers.$op" "no passing $op check under Wine"
done

bash "$HERE/wine.sh" server-stop "$SERVER"
left=$(for p in $(ip netns pids "$TB_NS_LAN"); do readlink "/proc/$p/exe"; done 2>/dev/null | grep -ci 'wine' || true)
if ! kill -0 "$SERVER" 2>/dev/null && [ "$left" = 0 ]; then
    pass wineserver-stopped "pid $SERVER ended, no Wine process left in $TB_NS_LAN"
else
    fail wineserver-stopped "pid $SERVER alive or $left Wine processes left in $TB_NS_LAN"
fi
SERVER=
finish
