#!/usr/bin/env bash
# Side-by-side conformance suite: the same GDScript checks against the engine's UPNP/UPNPDevice
# and gdnat's NatUPNP/NatUPNPDevice, in one real Godot, against the same routers (as root).
#
#   tests/godot/run-conformance.sh                  every mode: offline, soap, sim (all scenarios), testbed
#   tests/godot/run-conformance.sh offline soap     only these modes (offline|soap|sim|testbed)
#   tests/godot/run-conformance.sh sim:igd2-public  one sim scenario (sim:none = nothing answers)
#   tests/godot/run-conformance.sh --write-docs     every mode, then the run's table replaces the
#                                                   generated section of docs/conformance.md
#                                                   (tests/godot/conformance_table.py; format checked in CI
#                                                   by tests/docs/generated.py)
#
# Modes (each Godot run goes through tests/godot/run-suite.sh: timeout, log, log scan):
#   offline  API surface and argument validation; nothing is sent (still inside tests/lib/isolated.sh)
#   soap     a scripted SOAP responder thread on 127.0.0.1 (inside tests/lib/isolated.sh)
#   sim      one run per gdnat-simgw scenario on 127.0.0.1 (inside tests/lib/isolated.sh); two
#            scenarios need no simgw: `none` (nothing answers) and `scripted` (the suite's own
#            SSDP/HTTP responder threads play spec ideas 22-27)
#   testbed  the real miniupnpd router (inside `ip netns exec $IGD_PREFIX-lan`); the bed is brought
#            up if it is not, and taken down again if this script brought it up
# Needs tests/build.sh to have run (it is called if godot-project/addons/gdnat is missing); the
# suite scripts in tests/godot/ are re-copied to godot-project/tests/ so they are never stale.
# Env: IGD_PREFIX (test-bed namespace prefix, default igd: namespaces $IGD_PREFIX-wan/-router/-lan,
#      as tests/testbed/common.sh names them; exported to tests/testbed/testbed.sh),
#      GDNAT_SIMGW (simgw binary; default: newest target/**/gdnat-simgw, built if missing),
#      GDNAT_LOGS (log folder, default ${TMPDIR:-/tmp}/gdnat-logs).
# Prints every run's table, the verdict counts, and exits non-zero on any failure (a DIFF, a
# SCRIPT ERROR, a leak, a timeout...). The combined table is also written to
# $GDNAT_LOGS/conformance-table.md.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PROJECT="${GDNAT_PROJECT:-$REPO/godot-project}"
export GDNAT_LOGS="${GDNAT_LOGS:-${TMPDIR:-/tmp}/gdnat-logs}"
export IGD_PREFIX="${IGD_PREFIX:-igd}"
# Test-bed names and addresses (TB_NS_LAN = "$IGD_PREFIX-lan", TB_DESC_URL, ...).
# shellcheck source=../testbed/common.sh
source "$REPO/tests/testbed/common.sh"
# shellcheck source=../lib/router-table.sh
source "$REPO/tests/lib/router-table.sh"   # gdnat_upnpc_table (also used by testbed.gd via GDNAT_REPO)
export GDNAT_REPO="$REPO"
SUITE=res://tests/conformance/conformance.gd
SIM_SCENARIOS=(none scripted igd2-public igd1-public igd2-double-nat not-connected ppp-only printer-and-router
    desc-http-500-empty desc-empty desc-malformed-xml desc-truncated desc-hang soap-http-500-empty soap-empty soap-malformed-xml
    slow-http
    location-other-host odd-source-port slow-ssdp permanent-lease-only lowercase-protocol-rejected
    upnp-error wanip-v1-relative-url-with-urlbase namespace-prefixed-description)

say() { echo "conformance: $*"; }

# ---- inner: one sim scenario, already inside the isolated namespace ----------------------------
# run-conformance.sh --inner-sim SCENARIO SIMGW
if [ "${1:-}" = "--inner-sim" ]; then
    scenario=$2 simgw=$3
    if [ "$scenario" = none ] || [ "$scenario" = scripted ]; then
        # No gdnat-simgw: nothing answers (none), or the suite's own responder threads (scripted).
        exec bash "$HERE/run-suite.sh" --timeout 400 --name "conformance-sim-$scenario" "$SUITE" -- \
            --mode=sim --scenario="$scenario"
    fi
    extra=()
    [ "$scenario" = upnp-error ] && extra=(--error AddPortMapping:718 --error DeletePortMapping:714)
    out=$(mktemp)
    timeout 600 "$simgw" --bind 127.0.0.1 --multicast-if 127.0.0.1 --scenario "$scenario" \
        "${extra[@]}" --lifetime 500 > "$out" 2>&1 &
    sim_pid=$!
    ready=""
    for _ in $(seq 1 100); do
        ready=$(grep -m1 '^ready ' "$out" || true)
        [ -n "$ready" ] && break
        kill -0 "$sim_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$ready" ]; then
        say "sim $scenario: gdnat-simgw did not get ready: $(head -c 500 "$out")"
        kill "$sim_pid" 2>/dev/null; wait "$sim_pid" 2>/dev/null; rm -f "$out"
        echo "0 passed, 1 failed"
        exit 1
    fi
    say "sim $scenario: $ready"
    locations=$(echo "$ready" | tr ' ' '\n' | sed -n 's/^location=//p' | paste -sd, -)
    bash "$HERE/run-suite.sh" --timeout 400 --name "conformance-sim-$scenario" "$SUITE" -- \
        --mode=sim --scenario="$scenario" --location="$locations"
    rc=$?
    kill "$sim_pid" 2>/dev/null
    wait "$sim_pid" 2>/dev/null
    rm -f "$out"
    exit $rc
fi

# ---- outer --------------------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || { echo "run-conformance.sh needs root (network namespaces)" >&2; exit 2; }
mkdir -p "$GDNAT_LOGS"

selected=()
write_docs=0
for a in "$@"; do
    if [ "$a" = --write-docs ]; then write_docs=1; else selected+=("$a"); fi
done
if [ $write_docs = 1 ] && [ ${#selected[@]} -gt 0 ]; then
    echo "--write-docs writes the table of a full run: give no modes with it" >&2; exit 2
fi
[ ${#selected[@]} -gt 0 ] || selected=(offline soap sim testbed)
# The code under test, named in the docs' table (taken now: commits made during the run don't count).
run_commit="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)$(git -C "$REPO" diff --quiet HEAD -- tests rust 2>/dev/null || echo ' (with uncommitted changes)')"

if [ ! -d "$PROJECT/addons/gdnat" ]; then
    say "godot-project/addons/gdnat is missing: running tests/build.sh"
    bash "$REPO/tests/build.sh" || say "tests/build.sh failed (ours will show as not loaded)"
fi
mkdir -p "$PROJECT/tests"
if [ "$(realpath "$PROJECT/tests")" != "$(realpath "$REPO/tests/godot")" ]; then
    cp -r "$REPO/tests/godot/." "$PROJECT/tests/"
fi

find_simgw() {
    if [ -n "${GDNAT_SIMGW:-}" ]; then echo "$GDNAT_SIMGW"; return; fi
    local newest
    newest=$(find "${CARGO_TARGET_DIR:-$REPO/target}" "$REPO/target" -maxdepth 3 -type f -name gdnat-simgw \
        -perm -u+x -printf '%T@ %p\n' 2>/dev/null | sort -rn | head -1 | cut -d' ' -f2-)
    if [ -z "$newest" ]; then
        source "$REPO/tests/lib/rust-env.sh"; gdnat_rust_env   # cargo, also under sudo
        (cd "$REPO" && timeout 900 cargo build -q -p gdnat-simgw) >&2 || return 1
        newest="${CARGO_TARGET_DIR:-$REPO/target}/debug/gdnat-simgw"
    fi
    echo "$newest"
}

runs=() rcs=() outs=()
# run NAME CMD... : one Godot run; keeps its output for the table.
run() {
    local name=$1; shift
    local out="$GDNAT_LOGS/conformance-$name.out"
    say "=== $name"
    "$@" 2>&1 | tee "$out"
    local rc=${PIPESTATUS[0]}
    runs+=("$name"); rcs+=("$rc"); outs+=("$out")
}

testbed_started=0
testbed_up() { tb_ns_exists "$TB_NS_LAN" && ip netns exec "$TB_NS_LAN" true 2>/dev/null; }

for sel in "${selected[@]}"; do
    case $sel in
        offline|soap)
            run "$sel" bash "$REPO/tests/lib/isolated.sh" bash "$HERE/run-suite.sh" --timeout 300 \
                --name "conformance-$sel" "$SUITE" -- --mode="$sel"
            ;;
        sim|sim:*)
            simgw=$(find_simgw) || simgw=""
            scenarios=("${SIM_SCENARIOS[@]}")
            [ "$sel" != sim ] && scenarios=("${sel#sim:}")
            for sc in "${scenarios[@]}"; do
                if [ "$sc" != none ] && [ "$sc" != scripted ] && [ ! -x "$simgw" ]; then
                    say "sim $sc: no gdnat-simgw binary"; runs+=("sim-$sc"); rcs+=(1); outs+=(/dev/null)
                    continue
                fi
                run "sim-$sc" bash "$REPO/tests/lib/isolated.sh" bash "$HERE/run-conformance.sh" \
                    --inner-sim "$sc" "${simgw:-none}"
            done
            ;;
        testbed)
            if ! testbed_up; then
                bash "$REPO/tests/testbed/testbed.sh" up && testbed_started=1
            fi
            say "testbed: namespace $TB_NS_LAN (IGD_PREFIX=$IGD_PREFIX)"
            run testbed ip netns exec "$TB_NS_LAN" bash "$HERE/run-suite.sh" --timeout 300 \
                --name conformance-testbed "$SUITE" -- --mode=testbed
            # Nothing of ours may be left on the router.
            # (tests/lib/router-table.sh: a failed or empty upnpc listing is a failure, too.)
            if ! table=$(gdnat_upnpc_table "$TB_NS_LAN" "$TB_DESC_URL" 2>&1); then
                say "testbed: cannot read the router's table: $table"
                runs+=(testbed-cleanup); rcs+=(1); outs+=(/dev/null)
            elif left=$(grep -E "gdnat-conformance|gdnat demo|4700[0-9]->|3928->" <<<"$table"); then
                say "testbed: mappings left on the router: $left"
                runs+=(testbed-cleanup); rcs+=(1); outs+=(/dev/null)
            else
                say "testbed: the router's table (upnpc -l) lists no mapping of the suite"
            fi
            if [ $testbed_started = 1 ]; then bash "$REPO/tests/testbed/testbed.sh" down; fi
            ;;
        *) echo "unknown mode $sel (offline|soap|sim|sim:<scenario>|testbed)" >&2; exit 2 ;;
    esac
done

# ---- the table ----------------------------------------------------------------------------------
table="$GDNAT_LOGS/conformance-table.md"
{
    echo "| check | engine | ours | verdict |"
    echo "|---|---|---|---|"
    for out in "${outs[@]}"; do
        grep -E '^\| ' "$out" 2>/dev/null | grep -vE '^\| check \| engine \| ours \| verdict \|$'
    done
} > "$table"
echo
echo "==================== conformance table (all runs) ===================="
cat "$table"
echo
total_pass=0 total_fail=0 failed_runs=()
for i in "${!runs[@]}"; do
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "${outs[$i]}" 2>/dev/null | tail -1)
    p=$(echo "$line" | awk '{print $1}'); f=$(echo "$line" | awk '{print $3}')
    total_pass=$((total_pass + ${p:-0})); total_fail=$((total_fail + ${f:-0}))
    printf '  %-45s rc=%s  %s\n' "${runs[$i]}" "${rcs[$i]}" "${line:-no summary}"
    [ "${rcs[$i]}" = 0 ] || failed_runs+=("${runs[$i]}")
done
verdicts=$(awk -F' \\| ' 'NR>2 {v=$4; sub(/ \|$/,"",v); sub(/[( :].*/,"",v); n[v]++} END {for (k in n) printf "%s=%d ", k, n[k]}' "$table")
echo "verdicts: $verdicts"
echo "table: $table"
if [ ${#failed_runs[@]} -gt 0 ]; then
    echo "failed runs: ${failed_runs[*]}"
fi
if [ $write_docs = 1 ]; then
    godot_version=$(grep -h -m1 -o 'engine=[^ ]*' "${outs[0]}" 2>/dev/null | cut -d= -f2)
    runline="Run of $(date -u +%Y-%m-%d) on commit $run_commit"
    runline+=", Godot ${godot_version:-?}, miniupnpd $(dpkg-query -W -f='${Version}' miniupnpd-nftables 2>/dev/null)"
    runline+=": all modes, \`$total_pass passed, $total_fail failed\`, failed runs: ${failed_runs[*]:-none}"
    python3 "$HERE/conformance_table.py" render "$table" "$runline" \
        | python3 "$REPO/tests/docs/generated.py" replace docs/conformance.md \
            "sudo bash tests/godot/run-conformance.sh --write-docs" \
        && echo "wrote the generated table of docs/conformance.md" \
        || { echo "could not write docs/conformance.md"; failed_runs+=(write-docs); }
fi
echo "$total_pass passed, $total_fail failed"
[ ${#failed_runs[@]} = 0 ]
