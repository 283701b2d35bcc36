#!/usr/bin/env bash
# Takes docs/screenshot.png: the demo scene in a real window (Xvfb + Mesa's software OpenGL),
# after it discovered the test bed's miniupnpd, read the external IP and mapped a port over TCP
# and UDP; the mappings are removed again before the demo exits. As root.
#
#   tests/demo/screenshot.sh [OUTPUT.png]     default: docs/screenshot.png
#
# Needs the addon built into godot-project/ (tests/build.sh) and a display-capable engine
# (tests/godot/provision.sh --with-display: host Xvfb, Mesa in the sid root).
# Brings the test bed up if it was down (and down again at the end). Xvfb runs inside the LAN
# namespace next to the demo and is stopped by PID.
#
# Env: SCREENSHOT_SIZE (window size, default 1100x700), SCREENSHOT_PORT (default 7777),
#      GDNAT_DEMO_PROJECT (the Godot project, default godot-project/), GDNAT_LOGS.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
# shellcheck source=../testbed/common.sh
source "$REPO/tests/testbed/common.sh"

OUT=$(realpath -m "${1:-$REPO/docs/screenshot.png}")
SIZE=${SCREENSHOT_SIZE:-1100x700}
PORT=${SCREENSHOT_PORT:-7777}
PROJECT=${GDNAT_DEMO_PROJECT:-$REPO/godot-project}
LOGS=${GDNAT_LOGS:-/tmp/gdnat-logs}
LOG="$LOGS/demo-screenshot.log"
mkdir -p "$LOGS" "$(dirname "$OUT")"

die() { echo "screenshot: ERROR: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
command -v Xvfb >/dev/null || die "Xvfb missing: run tests/godot/provision.sh --with-display"
ls "$PROJECT"/addons/gdnat/*.gdextension >/dev/null 2>&1 || die "addon missing: run tests/build.sh"

BED_STARTED=no
XVFB_PID=""
GODOT_PID=""
stop_pid() {   # stop_pid <pid>: TERM, bounded wait, KILL
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null
    for ((i = 0; i < 30; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}
cleanup() {
    stop_pid "$GODOT_PID"; GODOT_PID=""
    stop_pid "$XVFB_PID"; XVFB_PID=""
    if [ "$BED_STARTED" = yes ]; then
        "$REPO/tests/testbed/testbed.sh" down > "$LOGS/screenshot-testbed-down.log" 2>&1
        BED_STARTED=no
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! tb_is_up; then
    BED_STARTED=yes
    "$REPO/tests/testbed/testbed.sh" up > "$LOGS/screenshot-testbed-up.log" 2>&1 \
        || die "testbed.sh up failed, see $LOGS/screenshot-testbed-up.log"
fi

# A display number nobody uses (lock files are in the shared /tmp).
DISPLAY_NUM=""
for n in $(seq 77 99); do
    [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ] || { DISPLAY_NUM=$n; break; }
done
[ -n "$DISPLAY_NUM" ] || die "no free X display number in 77-99"
ip netns exec "$TB_NS_LAN" timeout 300 Xvfb ":$DISPLAY_NUM" -screen 0 "${SIZE}x24" -nolisten tcp \
    > "$LOGS/screenshot-xvfb.log" 2>&1 &
XVFB_PID=$!
for ((i = 0; i < 50; i++)); do [ -e "/tmp/.X11-unix/X$DISPLAY_NUM" ] && break; sleep 0.1; done
[ -e "/tmp/.X11-unix/X$DISPLAY_NUM" ] || die "Xvfb did not start, see $LOGS/screenshot-xvfb.log"

rm -f "$OUT"
GDNAT_GODOT_DISPLAY=1 DISPLAY=":$DISPLAY_NUM" ip netns exec "$TB_NS_LAN" timeout -k 5 120 \
    "$REPO/tests/godot/godot.sh" --rendering-driver opengl3 --audio-driver Dummy --path "$PROJECT" \
    --resolution "$SIZE" --position 0,0 res://main.tscn \
    -- --screenshot="$OUT" --port="$PORT" --proto=both --lease=3600 --deadline=100 \
    > "$LOG" 2>&1 < /dev/null &
GODOT_PID=$!
wait "$GODOT_PID"; rc=$?
GODOT_PID=""
grep -a -E '^(STEP|EXTERNAL_IP|DOUBLE_NAT|MAX_FRAME_MS|DEMO_DONE)' "$LOG"
if [ "$rc" != 0 ] || [ ! -s "$OUT" ]; then
    echo "screenshot: FAIL (demo exit $rc); log: $LOG" >&2
    exit 1
fi
echo "screenshot: wrote $OUT ($(stat -c %s "$OUT") bytes)"
