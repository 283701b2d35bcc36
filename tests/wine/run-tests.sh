#!/usr/bin/env bash
# The core crates' unit and simulated-gateway tests (every crate but gdnat-godot), cross-compiled
# for Windows (tests/windows/build.sh --tests) and run under Wine 10, as root, in a fresh network
# namespace of their own (tests/lib/isolated.sh: only lo, multicast looped back), including the
# multicast SSDP tests that `cargo test` ignores by default.
#
#   tests/wine/run-tests.sh
#
# cargo runs every test program through tests/wine/wine.sh (the target's runner); one wineserver
# is started inside the namespace first and stopped by its PID at the end. Tests that fail under
# Wine for a reason of Wine's own are listed in tests/wine/known-wine-failures.txt with the
# evidence: they still run, in a second pass, and must still fail (XFAIL); one that passes is an
# XPASS and fails the stage, so the list cannot go stale. Doc tests are not run (they are not
# cross-compiled by cargo test; they run on Linux).
# Prints cargo's results, `XFAIL|XPASS name`, and `N passed, N failed` (test programs and
# expected-failure checks); exit 1 on any failure.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
TRIPLE=x86_64-pc-windows-gnu

[ "$(id -u)" = 0 ] || { echo "wine/run-tests: must run as root" >&2; exit 2; }
if [ -z "${GDNAT_WINE_TESTS_INSIDE:-}" ]; then
    bash "$HERE/provision.sh" || { echo "FAIL provision Wine root"; echo "0 passed, 1 failed"; exit 1; }
    GDNAT_WINE_TESTS_INSIDE=1 exec bash "$REPO/tests/lib/isolated.sh" bash "$0" "$@"
fi
unset GDNAT_WINE_TESTS_INSIDE
source "$REPO/tests/lib/netns-guard.sh"
gdnat_require_netns || exit 1
cd "$REPO"

export GDNAT_WINE_PREFIX="${GDNAT_WINE_PREFIX:-${IGD_PREFIX:-default}}-tests"
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$HERE/wine.sh run"
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
LOGS=${GDNAT_LOGS:-/tmp/gdnat-logs}; mkdir -p "$LOGS"

server=$(bash "$HERE/wine.sh" server-start) || { echo "FAIL wineserver did not start"; echo "0 passed, 1 failed"; exit 1; }
echo "INFO wineserver pid $server in namespace $(readlink /proc/self/ns/net)"
trap 'bash "$HERE/wine.sh" server-stop "$server"' EXIT

# Known Wine failures: "<crate> <test name> | reason" lines.
mapfile -t KNOWN < <(grep -v '^\s*\(#\|$\)' "$HERE/known-wine-failures.txt" 2>/dev/null || true)
skips=()
for line in "${KNOWN[@]}"; do
    name=$(awk '{print $2}' <<<"${line%%|*}")
    skips+=(--skip "$name")
done

passed=0; failed=0
cargo_flags=(--locked --offline --target "$TRIPLE" -p gdnat-io -p gdnat-igd -p gdnat-simgw -p gdnat-cli -p gdnat-pcp -p gdnat-stun -p gdnat-rendezvous -p gdnat-mapper -p gdnat-punch --lib --bins --tests)
t0=$SECONDS
# Output goes to a file, not a pipe: Wine's helper processes (winedevice.exe) inherit the first
# program's stdout and live as long as the wineserver, so a pipe would never end.
timeout 900 cargo test "${cargo_flags[@]}" --no-fail-fast -- --include-ignored --exact "${skips[@]}" \
    > "$LOGS/wine-tests.log" 2>&1
rc=$?
cat "$LOGS/wine-tests.log"
ok_programs=$(grep -c '^test result: ok' "$LOGS/wine-tests.log")
bad_programs=$(grep -c '^test result: FAILED' "$LOGS/wine-tests.log")
tests_passed=$(grep -oE '^test result: [A-Za-z]+\. [0-9]+ passed' "$LOGS/wine-tests.log" | awk '{s+=$4} END {print s+0}')
echo "INFO $tests_passed tests passed under Wine in $ok_programs test programs ($((SECONDS - t0)) s)"
passed=$((passed + ok_programs)); failed=$((failed + bad_programs))
if [ "$rc" != 0 ] && [ "$bad_programs" = 0 ]; then
    echo "FAIL cargo test exited $rc without a failing test program (build or runner failure)"
    failed=$((failed + 1))
fi

# Second pass: each known Wine failure alone; it must still fail.
for line in "${KNOWN[@]}"; do
    crate=$(awk '{print $1}' <<<"${line%%|*}"); name=$(awk '{print $2}' <<<"${line%%|*}")
    reason=${line#*|}
    timeout 300 cargo test --locked --offline --target "$TRIPLE" -p "$crate" --lib --bins --tests \
          -- --include-ignored --exact "$name" > "$LOGS/wine-known-one.log" 2>&1
    out=$(cat "$LOGS/wine-known-one.log")
    echo "$out" >> "$LOGS/wine-known-failures.log"
    ran=$(grep -c "^test $name \.\.\. " <<<"$out")
    if [ "$ran" -ge 1 ] && grep -q "^test $name \.\.\. FAILED" <<<"$out"; then
        passed=$((passed + 1))
        echo "XFAIL $crate::$name under Wine:$reason"
        grep -m3 -E "panicked at|left:|right:|Error" <<<"$out" | sed 's/^/    evidence: /'
    elif [ "$ran" -ge 1 ]; then
        failed=$((failed + 1))
        echo "XPASS $crate::$name passes under Wine now: remove it from tests/wine/known-wine-failures.txt"
    else
        failed=$((failed + 1))
        echo "FAIL $crate::$name (listed as a known Wine failure) did not run"
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
