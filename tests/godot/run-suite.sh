#!/usr/bin/env bash
# Runs one headless GDScript suite with the real Godot, bounded in time, and judges its log.
#
#   tests/godot/run-suite.sh [--timeout SECONDS] [--name NAME] [--project DIR] res://tests/<suite>.gd [-- ARGS...]
#
# The suite runs as `godot --headless --path <project> -s <script> -- ARGS` under `timeout`.
# Its output is shown and also written to ${GDNAT_LOGS:-${TMPDIR:-/tmp}/gdnat-logs}/<NAME>-<time>.log.
# Failure (exit 1) when Godot exits non-zero (the suite's own verdict, the watchdog, the
# timeout) or when the log contains any of (fixed strings):
#   SCRIPT ERROR | [panic | panicked | leaked at exit | ObjectDB instances leaked | Error loading extension
# The panic and leak patterns are tests/lib/log-check.sh's (shared with run-async.sh and the
# demo).
# tests/godot/run-async.sh proves the check with a deliberate panic (panic-detection).
# The defaults: --timeout 300, --name from the script's file name, --project <repo>/godot-project.
#
# NETWORK SAFETY: suites may call discover(). This script refuses to run in the machine's own
# network namespace; call it through `ip netns exec <test-bed ns>` or tests/lib/isolated.sh.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

timeout_s=300
name=""
project="${GDNAT_PROJECT:-$REPO/godot-project}"
while [ $# -gt 0 ]; do
    case "$1" in
        --timeout) timeout_s=$2; shift 2 ;;
        --name) name=$2; shift 2 ;;
        --project) project=$2; shift 2 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) break ;;
    esac
done
script=${1:-}
[ -n "$script" ] || { echo "run-suite: missing res://... script (see --help)" >&2; exit 2; }
shift
if [ "${1:-}" = "--" ]; then shift; fi
[ -n "$name" ] || name=$(basename "$script" .gd)

# shellcheck source=../lib/netns-guard.sh
source "$REPO/tests/lib/netns-guard.sh"
gdnat_require_netns || exit 2

logs="${GDNAT_LOGS:-${TMPDIR:-/tmp}/gdnat-logs}"
mkdir -p "$logs"
log="$logs/$name-$(date -u +%Y%m%dT%H%M%S)-$$.log"

echo "run-suite: $name: godot --headless --path $project -s $script -- $* (timeout ${timeout_s}s, log $log)"
timeout --kill-after=10 "$timeout_s" "$HERE/godot.sh" --headless --path "$project" -s "$script" -- "$@" \
    2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

bad=0
# shellcheck source=../lib/log-check.sh
source "$HERE/../lib/log-check.sh"
for pattern in "SCRIPT ERROR" "${GDNAT_BAD_LOG_PATTERNS[@]}" "Error loading extension"; do
    n=$(grep -c -F -- "$pattern" "$log" 2>/dev/null || true)
    n=${n:-0}
    if [ "$n" -gt 0 ]; then
        echo "run-suite: $name: FAIL: log has $n line(s) with '$pattern'"
        bad=1
    fi
done
case $rc in
    0) ;;
    124|137) echo "run-suite: $name: FAIL: timed out after ${timeout_s}s"; bad=1 ;;
    *) echo "run-suite: $name: FAIL: godot exited with $rc"; bad=1 ;;
esac
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
if [ -z "$summary" ]; then
    echo "run-suite: $name: FAIL: no 'N passed, N failed' line"
    bad=1
fi
if [ $bad = 0 ]; then
    echo "run-suite: $name: PASS ($summary)"
else
    echo "run-suite: $name: FAILED (${summary:-no summary}), log: $log"
fi
exit $bad
