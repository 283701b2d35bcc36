#!/usr/bin/env bash
# Runs the cargo-fuzz targets of gdnat-igd's parsers (rust/gdnat-igd/fuzz, docs/fuzzing.md) and
# prints one line per target with its executions, duration, rate and verdict.
#
#   bash tests/fuzz/run.sh                    # every target, 10 000 000 executions each
#   bash tests/fuzz/run.sh --runs N url       # N executions of one target
#   bash tests/fuzz/run.sh --smoke 5          # CI: 5 s per target on a throw-away corpus
#
# Targets: ssdp_answer description soap_answer http_answer url. Long runs keep their corpus in
# rust/gdnat-igd/fuzz/corpus/<target> (not committed); the committed seeds are
# rust/gdnat-igd/fuzz/seeds/<target>. A crash leaves its input in rust/gdnat-igd/fuzz/artifacts/
# and makes the script exit 1. Needs cargo-fuzz (tests/setup.sh installs the pinned version);
# the stable toolchain is enough with RUSTC_BOOTSTRAP=1, which cargo-fuzz's -Z flags need.
# Targets run one after the other, under `nice -n 15` (a shared machine).
set -euo pipefail
cd "$(dirname "$0")/../.."
FUZZ_DIR=rust/gdnat-igd/fuzz
ALL_TARGETS=(ssdp_answer description soap_answer http_answer url)
runs=10000000
smoke=
targets=()
while (($#)); do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --smoke) smoke=$2; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
((${#targets[@]})) || targets=("${ALL_TARGETS[@]}")

export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo-fuzz >/dev/null || { echo "run.sh: cargo-fuzz is not installed (run tests/setup.sh)" >&2; exit 1; }
export RUSTC_BOOTSTRAP=1
LOGS=${GDNAT_LOGS:-/tmp/gdnat-logs}/fuzz
mkdir -p "$LOGS"
# -O release, -a debug assertions (integer overflow panics), no sanitizer: the parsers are safe
# Rust, so a memory error cannot happen there; what the fuzzer looks for is panics, broken
# invariants (the asserts in each target), hangs (-timeout) and runaway memory (-rss_limit_mb).
FUZZ_FLAGS=(-O -a -s none)
# The fuzz crate has its own lock (docs/fuzzing.md): fetch exactly it, then build.
cargo fetch --locked --manifest-path "$FUZZ_DIR/Cargo.toml" >"$LOGS/fetch.log" 2>&1 \
    || { tail -20 "$LOGS/fetch.log" >&2; echo "run.sh: cargo fetch of the fuzz crate failed (log $LOGS/fetch.log)" >&2; exit 1; }
(cd rust/gdnat-igd && nice -n 15 cargo fuzz build "${FUZZ_FLAGS[@]}" >"$LOGS/build.log" 2>&1) \
    || { tail -20 "$LOGS/build.log" >&2; echo "run.sh: cargo fuzz build failed (log $LOGS/build.log)" >&2; exit 1; }

failed=0
printf '%-12s %12s %9s %10s  %s\n' target executions seconds "execs/s" verdict
for target in "${targets[@]}"; do
    [[ -d $FUZZ_DIR/seeds/$target ]] || { echo "run.sh: unknown target $target" >&2; exit 2; }
    if [[ -n $smoke ]]; then
        corpus=$(mktemp -d "${TMPDIR:-/tmp}/gdnat-fuzz-$target.XXXXXX")
        limit=(-max_total_time="$smoke")
    else
        corpus=$PWD/$FUZZ_DIR/corpus/$target
        mkdir -p "$corpus"
        limit=(-runs="$runs")
    fi
    log="$LOGS/$target.log"
    t0=$(date +%s.%N)
    set +e
    (cd rust/gdnat-igd && nice -n 15 cargo fuzz run "${FUZZ_FLAGS[@]}" "$target" "$corpus" "$OLDPWD/$FUZZ_DIR/seeds/$target" -- \
        "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1) >"$log" 2>&1
    rc=$?
    set -e
    seconds=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    [[ -n $smoke ]] && rm -rf "$corpus"
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if ((rc == 0)) && [[ -n $executions ]] && ((executions > 0)); then
        verdict="0 crashes"
    else
        verdict="FAILED (exit $rc, log $log)"
        failed=$((failed + 1))
        grep -E 'panicked at|SUMMARY|Test unit written' "$log" | head -5 >&2 || true
    fi
    executions=${executions:-0}
    printf '%-12s %12d %9.1f %10.0f  %s\n' "$target" "$executions" "$seconds" "$(awk -v e="$executions" -v s="$seconds" 'BEGIN { printf "%.0f", e / s }')" "$verdict"
done
echo "fuzz: $(( ${#targets[@]} - failed )) passed, $failed failed"
((failed == 0))
