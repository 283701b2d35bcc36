#!/usr/bin/env bash
# Provision a real Godot 4.6.3 for the tests, from Debian sid's `godot` package.
#
# The host (Debian bookworm) has no Godot 4, and sid's package needs a newer glibc,
# so a private sid root is bootstrapped into a cache folder outside the work tree and
# the engine is run from the host through sid's own dynamic loader (see godot.sh).
#
# Usage (as root):  tests/godot/provision.sh [--with-display] [--force]
#   --with-display  also install the host's Xvfb (for screenshots; not needed in CI)
#   --force         throw away the cached root and bootstrap it again
# Env:
#   GDNAT_CACHE     cache folder (default $HOME/.cache/gdnat); the root is $GDNAT_CACHE/godot-sid
#   GDNAT_DEBIAN_MIRROR  Debian mirror (default http://deb.debian.org/debian)
#   GDNAT_GODOT_VERSION  the Godot version the tests expect (default 4.6.3, the pin): when sid's
#                   package (or a cached root) carries another one, provisioning stops and says so
#
# The root is complete only when the marker file $ROOT/.gdnat-provisioned exists; it is
# written last, so a root left half-finished by an interrupted run is detected and redone.
set -euo pipefail

CACHE="${GDNAT_CACHE:-$HOME/.cache/gdnat}"
ROOT="$CACHE/godot-sid"
MARKER="$ROOT/.gdnat-provisioned"
MIRROR="${GDNAT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
APT_OPTS=(-o Acquire::Check-Valid-Until=false)
GODOT_PACKAGES=(godot)
# The engine version the suites are written against (their expected values, print formats and
# the engine's UPNP behaviour). Debian sid moves on; a different version stops here, clearly.
GODOT_VERSION="${GDNAT_GODOT_VERSION:-4.6.3}"
GL_PACKAGES=(libgl1-mesa-dri libglx-mesa0 libegl-mesa0 libgl1 libegl1)

WITH_DISPLAY=no
FORCE=no
for arg in "$@"; do
    case "$arg" in
        --with-display) WITH_DISPLAY=yes ;;
        --force) FORCE=yes ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "provision.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

say() { echo "provision: $*"; }
die() { echo "provision: ERROR: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap and chroot need it)"

# Mount points a chroot'ed apt may use; always unmounted again on exit.
MOUNTED=()
cleanup_mounts() {
    local i
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTED[$i]}" 2>/dev/null || umount -l "${MOUNTED[$i]}" 2>/dev/null || true
    done
    MOUNTED=()
}
trap cleanup_mounts EXIT

mount_proc() {
    mkdir -p "$ROOT/proc"
    if ! mountpoint -q "$ROOT/proc"; then
        mount -t proc proc "$ROOT/proc" && MOUNTED+=("$ROOT/proc")
    fi
}

in_root_apt() {
    # Runs apt-get inside the sid root, noninteractive, never starting a service.
    chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive \
        timeout 900 apt-get "${APT_OPTS[@]}" "$@"
}

host_xvfb() {
    [ "$WITH_DISPLAY" = yes ] || return 0
    if dpkg-query -W -f='${Status}' xvfb 2>/dev/null | grep -q 'install ok installed'; then
        say "host xvfb already installed"
    else
        say "installing host xvfb"
        DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y --no-install-recommends xvfb \
            || { timeout 600 apt-get update && DEBIAN_FRONTEND=noninteractive timeout 600 \
                 apt-get install -y --no-install-recommends xvfb; } \
            || die "apt-get install xvfb failed"
    fi
}

root_has_packages() {
    chroot "$ROOT" dpkg-query -W -f='${Status}\n' "$@" 2>/dev/null \
        | grep -c 'install ok installed' | grep -qx "$#"
}

if [ "$FORCE" = yes ] && [ -d "$ROOT" ]; then
    say "--force: removing $ROOT"
    rm -rf --one-file-system "$ROOT"
fi

# wrong_version WHAT VERSION: stops with one line when VERSION is not the pinned one.
wrong_version() {
    case "$2" in
        "$GODOT_VERSION"|"$GODOT_VERSION".*|"$GODOT_VERSION"+*) return 0 ;;
    esac
    die "$1 is Godot ${2:-unknown}, but the tests expect Godot $GODOT_VERSION (pinned in tests/godot/provision.sh):" \
        "set GODOT=/path/to/a Godot $GODOT_VERSION binary (tests/godot/godot.sh uses it), or update the pin and the suites"
}

if [ -f "$MARKER" ] && [ -x "$ROOT/usr/bin/godot" ]; then
    cached=$(sed -n 's/^godot \([^ ]*\) .*/\1/p' "$MARKER")
    wrong_version "the cached root $ROOT" "$cached"
    say "cached Godot root is complete: $ROOT ($(cat "$MARKER"))"
    host_xvfb
    exit 0
fi

if [ -d "$ROOT" ]; then
    say "found an unfinished root (no marker): removing $ROOT and starting again"
    # Something may still be mounted from an interrupted run.
    for m in "$ROOT/proc" "$ROOT/sys" "$ROOT/dev/pts" "$ROOT/dev"; do
        mountpoint -q "$m" 2>/dev/null && { umount "$m" 2>/dev/null || umount -l "$m" || true; }
    done
    rm -rf --one-file-system "$ROOT"
fi

command -v debootstrap >/dev/null || die "debootstrap is missing: run tests/setup.sh (or apt-get install debootstrap)"
mkdir -p "$CACHE"

t0=$(date +%s)
say "bootstrapping a Debian sid minbase root into $ROOT (about 30 s)"
timeout 1200 debootstrap --variant=minbase --include=ca-certificates sid "$ROOT" "$MIRROR" \
    > "$CACHE/debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }

cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# No service may ever be started by a package inside the root.
printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"
mount_proc

say "installing godot into the root (about 20 s)"
in_root_apt update > "$CACHE/apt-sid.log" 2>&1 \
    || { tail -20 "$CACHE/apt-sid.log" >&2; die "apt-get update in the sid root failed"; }
candidate=$(chroot "$ROOT" apt-cache policy godot 2>/dev/null | sed -n 's/^ *Candidate: //p' | head -1)
candidate=${candidate#*:}
wrong_version "Debian sid's godot package ($candidate)" "${candidate%%[+~-]*}"
in_root_apt install -y --no-install-recommends "${GODOT_PACKAGES[@]}" >> "$CACHE/apt-sid.log" 2>&1 \
    || { tail -20 "$CACHE/apt-sid.log" >&2; die "installing godot in the sid root failed"; }

say "installing Mesa GL libraries into the root (for screenshots under Xvfb)"
in_root_apt install -y --no-install-recommends "${GL_PACKAGES[@]}" >> "$CACHE/apt-sid.log" 2>&1 \
    || { tail -20 "$CACHE/apt-sid.log" >&2; die "installing Mesa GL packages in the sid root failed"; }
in_root_apt clean >> "$CACHE/apt-sid.log" 2>&1 || true

[ -x "$ROOT/usr/bin/godot" ] || die "$ROOT/usr/bin/godot is missing after the install"
root_has_packages "${GODOT_PACKAGES[@]}" "${GL_PACKAGES[@]}" || die "some packages are not installed in the root"
cleanup_mounts

# Check that the engine really starts through sid's loader before declaring success.
LIBS="$ROOT/usr/lib/x86_64-linux-gnu:$ROOT/lib/x86_64-linux-gnu:$ROOT/usr/lib/x86_64-linux-gnu/pulseaudio"
version=$(timeout 60 "$ROOT/usr/lib64/ld-linux-x86-64.so.2" --library-path "$LIBS" \
    "$ROOT/usr/bin/godot" --headless --version 2>/dev/null | tail -1) \
    || die "the provisioned godot does not start"
wrong_version "the provisioned engine" "$version"

echo "godot $version provisioned $(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$MARKER"
say "done in $(( $(date +%s) - t0 )) s: Godot $version in $ROOT"
host_xvfb
