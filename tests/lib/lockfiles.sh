#!/usr/bin/env bash
# Checks that every Cargo.lock of the repository (the workspace's and each fuzz crate's) is
# current: `cargo metadata --locked` fails when a manifest needs a lock file change. Offline
# when the registry cache has every crate, else it may fetch the index. Prints PASS/FAIL per
# lock file and `N passed, N failed`; exit 1 on any FAIL.
set -uo pipefail
cd "$(dirname "$0")/../.."
passed=0 failed=0
while read -r lock; do
    dir=$(dirname "$lock")
    if out=$(cargo metadata --locked --format-version 1 --manifest-path "$dir/Cargo.toml" 2>&1 >/dev/null); then
        echo "PASS $lock"; passed=$((passed + 1))
    else
        echo "FAIL $lock is out of date (run cargo update -w in $dir): $(grep -m1 -i error <<<"$out")"; failed=$((failed + 1))
    fi
done < <(git ls-files '*Cargo.lock' | sort)
[ $((passed + failed)) -gt 0 ] || { echo "FAIL no Cargo.lock found"; failed=1; }
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
