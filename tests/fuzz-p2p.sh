#!/usr/bin/env bash
# Fuzzes gdnat's peer-to-peer codecs with cargo-fuzz (libFuzzer): the STUN Binding response
# parser, the RFC 5780 attributes and NAT verdict, and the BEP 15 tracker replies.
#
#   bash tests/fuzz-p2p.sh [RUNS]      default 1000000 executions per target
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and works on stable Rust through
# RUSTC_BOOTSTRAP=1 (cargo-fuzz passes nightly-only -Z flags). Runs `nice -n 15`. Each target
# starts from committed seeds (real coturn and opentracker answers recorded on the two-site
# bed, see docs/p2p.md) plus its growing corpus in fuzz/corpus/ (not committed). Prints one
# line per target with its executions and exec/s; exit 1 if a target crashed (the crashing
# input is in fuzz/artifacts/).
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-1000000}
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || { echo "fuzz-p2p: cargo-fuzz is missing (cargo install cargo-fuzz)" >&2; exit 2; }

TARGETS=("rust/gdnat-stun/fuzz stun_response" "rust/gdnat-stun/fuzz rfc5780" "rust/gdnat-rendezvous/fuzz bep15_reply")
failed=0
for entry in "${TARGETS[@]}"; do
    read -r dir target <<<"$entry"
    corpus="$dir/corpus/$target"
    mkdir -p "$corpus"
    log=$(mktemp)
    t0=$SECONDS
    if nice -n 15 cargo fuzz run --fuzz-dir "$dir" "$target" "$corpus" "$dir/seeds/$target" -- \
            -runs="$RUNS" -max_len=4096 -timeout=5 -print_final_stats=1 >"$log" 2>&1; then
        verdict=ok
    else
        verdict=CRASH; failed=1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
    echo "fuzz $target $verdict executions ${execs:-?} exec_per_s ${rate:-?} ${cov:-} seconds $((SECONDS - t0))"
    [ "$verdict" = ok ] || tail -30 "$log"
    rm -f "$log"
done
exit $failed
