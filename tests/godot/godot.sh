#!/usr/bin/env bash
# Run Godot 4 for gdnat's tests: all arguments are passed through.
#
# 1. $GODOT, if set and `$GODOT --version` reports 4.3 or newer (a user's own Godot 4.x);
# 2. otherwise the engine provisioned by tests/godot/provision.sh (Debian sid's godot 4.6.3),
#    run from the host through sid's dynamic loader. If it is missing and we are root, it is
#    provisioned first (about a minute); without root the script tells you to run tests/setup.sh.
#
# Env:
#   GODOT                  a Godot 4.3+ binary to prefer
#   GDNAT_CACHE            cache folder of the provisioned root (default $HOME/.cache/gdnat)
#   GDNAT_GODOT_DISPLAY=1  run with a real display for screenshots: DISPLAY (default :77, an Xvfb
#                          you started), Mesa's drivers from the sid root; add
#                          `--rendering-driver opengl3` yourself and drop --headless.
#
# NETWORK SAFETY: Godot's own UPNP.discover() sends SSDP at once. Run any script that may
# discover inside a test-bed namespace (tests/testbed/testbed.sh exec lan ...) or
# tests/lib/isolated.sh, never in the machine's own namespace.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${GDNAT_CACHE:-$HOME/.cache/gdnat}"
ROOT="$CACHE/godot-sid"
MARKER="$ROOT/.gdnat-provisioned"

# True when the version string (e.g. 4.6.3.stable...) is 4.3 or newer (and below 5).
version_ok() {
    local v=$1 major minor
    major=${v%%.*}
    minor=${v#*.}; minor=${minor%%.*}
    [[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ ]] || return 1
    [ "$major" -eq 4 ] && [ "$minor" -ge 3 ]
}

if [ -n "${GODOT:-}" ]; then
    if v=$(timeout 30 "$GODOT" --headless --version 2>/dev/null | tail -1) && version_ok "$v"; then
        exec "$GODOT" "$@"
    fi
    echo "godot.sh: \$GODOT=$GODOT is not a Godot 4.3+ (version '${v:-?}'); using the provisioned engine" >&2
fi

if [ ! -f "$MARKER" ] || [ ! -x "$ROOT/usr/bin/godot" ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "godot.sh: no provisioned Godot in $ROOT yet; provisioning it now (about a minute)" >&2
        bash "$HERE/provision.sh" >&2 || { echo "godot.sh: provisioning failed; run tests/setup.sh" >&2; exit 1; }
    else
        echo "godot.sh: no Godot 4 found. Set GODOT=/path/to/godot (4.3+) or run 'sudo tests/setup.sh'" \
             "to provision Godot 4.6.3 into $ROOT" >&2
        exit 1
    fi
fi

LIBS="$ROOT/usr/lib/x86_64-linux-gnu:$ROOT/lib/x86_64-linux-gnu:$ROOT/usr/lib/x86_64-linux-gnu/pulseaudio"
if [ "${GDNAT_GODOT_DISPLAY:-0}" = 1 ]; then
    export DISPLAY="${DISPLAY:-:77}"
    export LIBGL_DRIVERS_PATH="$ROOT/usr/lib/x86_64-linux-gnu/dri"
    export __EGL_VENDOR_LIBRARY_DIRS="$ROOT/usr/share/glvnd/egl_vendor.d"
fi
exec "$ROOT/usr/lib64/ld-linux-x86-64.so.2" --library-path "$LIBS" "$ROOT/usr/bin/godot" "$@"
