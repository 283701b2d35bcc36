#!/usr/bin/env bash
# Runs every gdnat test: Rust unit and simulated-gateway tests, the real-router test bed, the
# CLI end-to-end checks, the side-by-side Godot conformance suite, the async/lifecycle suites
# and the headless demo. Needs root (network namespaces). Sets the machine up first.
#
#   sudo bash tests/all.sh            # everything
#   sudo bash tests/all.sh --no-setup # skip apt/Godot provisioning (already done)
#   sudo bash tests/all.sh --no-fresh # skip the bare-Debian demo stage (tests/fresh: downloads, a cold build)
#
# Prints one line per stage and ends with `N passed, N failed`. Exit status 0 only when every
# stage passed. Logs go to ${GDNAT_LOGS:-/tmp/gdnat-logs}.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR=$PWD
export GDNAT_LOGS=${GDNAT_LOGS:-/tmp/gdnat-logs}
mkdir -p "$GDNAT_LOGS"

if [[ $(id -u) != 0 ]]; then
    echo "tests/all.sh needs root (it creates network namespaces); run it with sudo" >&2
    exit 2
fi

setup=1
fresh=1
for a in "$@"; do
    case $a in
        --no-setup) setup=0 ;;
        --no-fresh) fresh=0 ;;
        *) echo "unknown option $a" >&2; exit 2 ;;
    esac
done

# cargo for the Rust stages, also under sudo (tests/lib/rust-env.sh; setup installs one if needed).
source tests/lib/rust-env.sh
gdnat_rust_env || true

passed=0
failed=0
failed_stages=()

# stage NAME CMD... : runs one stage with a time bound, logs it, records the verdict.
stage() {
    local name=$1; shift
    local log="$GDNAT_LOGS/stage-$name.log"
    local t0=$SECONDS
    echo "=== $name: $*"
    if timeout --kill-after=10 "${STAGE_TIMEOUT:-900}" "$@" > >(tee "$log") 2>&1; then
        passed=$((passed + 1))
        echo "=== PASS $name ($((SECONDS - t0)) s)"
    else
        failed=$((failed + 1))
        failed_stages+=("$name")
        echo "=== FAIL $name ($((SECONDS - t0)) s), log: $log"
    fi
}

if ((setup)); then
    stage setup bash tests/setup.sh || true
    gdnat_rust_env || true
fi
# Cheap checks of the test harness itself: generated doc sections have their generator's format;
# the router-table helper calls a failed/empty upnpc or nft listing a failure.
stage docs-generated python3 tests/docs/generated.py check
stage router-table-selftest bash tests/lib/router-table-selftest.sh
# Every Cargo.lock (workspace and fuzz crates) matches its manifests, so the --locked builds
# below fail here, by name, instead of deep inside a later stage.
stage lockfiles bash tests/lib/lockfiles.sh
stage build bash tests/build.sh --all
# The Rust tests talk HTTP/SOAP to simulated gateways on loopback and the SSDP ones multicast:
# all of them run inside a fresh network namespace of their own (tests/lib/isolated.sh).
stage rust-fetch cargo fetch --locked
stage rust-tests bash tests/lib/isolated.sh cargo test --workspace --locked --offline
stage rust-ssdp-tests bash tests/lib/isolated.sh cargo test --workspace --locked --offline -- --ignored
# The engine-names build uses lazy function tables instead of the default build's thread support
# (the two cannot be combined), so it is built without the default features (docs/threads.md).
stage rust-engine-names cargo test -p gdnat-godot --no-default-features --features engine-names --locked --offline --lib
# A few seconds of each parser fuzz target (docs/fuzzing.md); the long runs are tests/fuzz/run.sh.
stage fuzz-smoke bash tests/fuzz/run.sh --smoke 5
stage testbed-verify bash tests/testbed/testbed.sh verify
# Issue 10: the two-site bed (coturn RFC 5780 + opentracker + two NAT routers); STUN, NAT
# behaviour against turnutils_natdiscovery, tracker rendezvous and hole punching (~60 s).
stage p2p-bed bash tests/testbed-p2p/bed.sh verify --gdnat "${CARGO_TARGET_DIR:-target}/debug/gdnat"
# Issue 10, the Godot side: NatStun/NatRendezvous/NatPunch checks, then two headless Godots
# connect over ENet on the punched port (RPC each way; home/home with ENet counted in router A,
# fullcone/home, fullcone/fullcone, symmetric/fullcone; the p2p demo scene headless);
# symmetric/symmetric fails clearly within 15 s (~31 s).
stage p2p-godot bash tests/testbed-p2p/godot-e2e.sh --no-build
stage core-e2e bash tests/e2e/core-e2e.sh
# Issue 8 item 5: SSDP multicast dropped in the router; the unicast M-SEARCH to the default
# gateway still finds it (~10 s).
stage multicast-dropped bash tests/e2e/multicast-dropped.sh
stage ipv6-e2e bash tests/e2e/ipv6-e2e.sh
# NAT-PMP/PCP (rust/gdnat-pcp) against the real miniupnpd, incl. a router restart (~15 s).
stage pcp-testbed bash tests/e2e/pcp-testbed.sh
# `gdnat probe` / `gdnat map` (gdnat-mapper) with PCP, NAT-PMP, UPnP and auto (~35 s).
stage map-e2e bash tests/e2e/map-e2e.sh
# The NatPortMapping node in the real Godot on the real miniupnpd: PCP, UPnP only, router restart,
# stop/queue_free/quit clean-up, bad input, kill -9 crash (~20 s incl. the bed; the build stage built it).
stage port-mapping-e2e bash tests/e2e/port-mapping-e2e.sh --no-build
stage godot-conformance bash tests/godot/run-conformance.sh
stage godot-async bash tests/godot/run-async.sh
# Issue 13's numbers (quit/free/discover with hanging I/O) on the simulated gateway and the real
# bed, checked against their goals plus the suites' scheduling margins (about 45 s).
stage godot-cancellation bash tests/bench/cancellation.sh --no-build --reps 3 --check
stage demo bash tests/demo/run-demo.sh
# Windows (issue 11): cross-built with mingw-w64 (debug), the core's tests and the CLI against
# the real miniupnpd under Wine 10; then the release of every platform (macOS universal dylib
# checked), the Asset Library zip, and the demo run from a fresh project with the zip alone.
stage windows-build bash tests/windows/build.sh --tests
stage wine-rust-tests bash tests/wine/run-tests.sh
stage wine-cli-e2e bash tests/wine/cli-e2e.sh
STAGE_TIMEOUT=${STAGE_TIMEOUT:-1800} stage package bash tests/package.sh
# The README's demo command in a debootstrapped bare Debian root (downloads, a cold debug build;
# times in docs/testing.md).
if ((fresh)); then
    STAGE_TIMEOUT=3300 stage fresh-debian bash tests/fresh/fresh-debian.sh
else
    echo "SKIP fresh-debian: --no-fresh"
fi

# Nothing may be left behind.
left=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^(igd-|gdnat)' | tr '\n' ' ')
if [[ -n $left ]]; then
    echo "=== FAIL cleanup: namespaces left behind: $left"
    failed=$((failed + 1)); failed_stages+=(cleanup)
else
    passed=$((passed + 1))
fi

echo
# A digest of each failed stage: the lines that name a failure, then the stage's last lines, so
# that the end of this output (often all a CI viewer shows) holds the cause of every failure.
for name in "${failed_stages[@]}"; do
    log="$GDNAT_LOGS/stage-$name.log"
    [[ -f $log ]] || continue
    echo "--- digest of $name ($log)"
    grep -E '(^|[^A-Z])(FAIL|FAILED|ERROR|error(\[E[0-9]+\])?:|panicked)' "$log" | grep -v '^=== ' | head -12
    echo "--- last lines of $name"
    tail -8 "$log"
done
if ((failed)); then echo "failed stages: ${failed_stages[*]}"; fi
echo "stages: $passed passed, $failed failed"
((failed == 0))
