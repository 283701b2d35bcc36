#!/usr/bin/env bash
# Provision Wine 10 for the Windows tests, from Debian sid's packages, in a root of its own.
#
# Debian 12's Wine 8 cannot start current Rust Windows binaries (bcryptprimitives.dll is
# missing); sid's Wine 10 runs them. Wine gets its OWN cached sid root, $GDNAT_CACHE/wine-sid,
# with its own marker, and never touches the Godot root ($GDNAT_CACHE/godot-sid): that root is
# in use by other test runs (the engine runs straight from it), an apt run inside it would
# change libraries under a running engine, and its marker only speaks for Godot. A second root
# costs a few minutes and about 2.8 GB once (Wine pulls in many libraries; the template prefix
# is 1.2 GB of Windows DLLs); it is cached like the Godot one.
#
# Usage (as root):  tests/wine/provision.sh [--force]
#   --force        throw away the cached Wine root and bootstrap it again
# Env:
#   GDNAT_CACHE          cache folder (default $HOME/.cache/gdnat)
#   GDNAT_DEBIAN_MIRROR  Debian mirror (default http://deb.debian.org/debian)
#
# The root is complete only when $ROOT/.gdnat-wine-provisioned exists; it is written last
# (after Wine has started a program), so a half-finished root is detected and redone.
# No wineserver is left running: the check runs in a throwaway network namespace and the
# server it started is waited for.
set -euo pipefail

CACHE="${GDNAT_CACHE:-$HOME/.cache/gdnat}"
ROOT="$CACHE/wine-sid"
MARKER="$ROOT/.gdnat-wine-provisioned"
MIRROR="${GDNAT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
APT_OPTS=(-o Acquire::Check-Valid-Until=false)
WINE_PACKAGES=(wine wine64)
LOG="$CACHE/wine-sid-apt.log"
# Debian installs the server outside PATH.
WINESERVER=/usr/lib/x86_64-linux-gnu/wine/wineserver

FORCE=no
for arg in "$@"; do
    case "$arg" in
        --force) FORCE=yes ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "wine/provision.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

say() { echo "wine-provision: $*"; }
die() { echo "wine-provision: ERROR: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap and chroot need it)"
case "$ROOT" in */godot-sid*) die "refusing to use the Godot root" ;; esac

# apt inside the root runs in a private mount namespace with its own /proc: nothing stays mounted.
in_root_apt() {
    unshare --mount --propagation private -- bash -c '
        mount -t proc proc "$0/proc"
        chroot "$0" env DEBIAN_FRONTEND=noninteractive timeout 1200 apt-get "${@}"
    ' "$ROOT" "${APT_OPTS[@]}" "$@"
}

root_has_packages() {
    chroot "$ROOT" dpkg-query -W -f='${Status}\n' "$@" 2>/dev/null \
        | grep -c 'install ok installed' | grep -qx "$#"
}


# debootstrap writes no /etc/hosts: without it "localhost" does not resolve under Wine, while
# Windows always resolves it.
write_hosts() {
    [ -s "$ROOT/etc/hosts" ] && return 0
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$ROOT/etc/hosts"
}

if [ "$FORCE" = yes ] && [ -d "$ROOT" ]; then
    say "--force: removing $ROOT"
    rm -rf --one-file-system "$ROOT"
fi

if [ -f "$MARKER" ] && chroot "$ROOT" test -x /usr/bin/wine && [ -f "$ROOT/root/.wine-template/system.reg" ]; then
    say "cached Wine root is complete: $ROOT ($(cat "$MARKER"))"
    write_hosts
    exit 0
fi

if [ -d "$ROOT" ]; then
    say "found an unfinished Wine root (no marker): removing $ROOT and starting again"
    rm -rf --one-file-system "$ROOT"
fi

command -v debootstrap >/dev/null || die "debootstrap is missing: run tests/setup.sh"
mkdir -p "$CACHE"
t0=$(date +%s)
say "bootstrapping a Debian sid minbase root into $ROOT"
timeout 1200 debootstrap --variant=minbase --include=ca-certificates sid "$ROOT" "$MIRROR" \
    > "$CACHE/wine-debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE/wine-debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/wine-debootstrap.log)"; }
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
write_hosts
printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"

say "installing Wine into the root"
in_root_apt update > "$LOG" 2>&1 || { tail -20 "$LOG" >&2; die "apt-get update in the Wine root failed"; }
in_root_apt install -y --no-install-recommends "${WINE_PACKAGES[@]}" >> "$LOG" 2>&1 \
    || { tail -20 "$LOG" >&2; die "installing Wine in the sid root failed"; }
in_root_apt clean >> "$LOG" 2>&1 || true
chroot "$ROOT" test -x /usr/bin/wine -a -x "$WINESERVER" || die "wine or $WINESERVER is missing in the root after the install"
root_has_packages "${WINE_PACKAGES[@]}" || die "some Wine packages are not installed in the root"

# Check that Wine starts a Windows program (its own cmd.exe) before declaring success; this also
# creates the template prefix that tests/wine/wine.sh copies. In a throwaway network namespace;
# the server is waited for.
rm -rf "$ROOT/root/.wine-template"
timeout 300 unshare --net --mount --propagation private -- bash -c '
    mount -t proc proc "$0/proc"; mount --rbind /dev "$0/dev"
    exec chroot "$0" env HOME=/root WINEDEBUG=-all WINEPREFIX=/root/.wine-template bash -c \
        "wine --version && wineboot --init && wine cmd.exe /c echo wine-runs && $1 -w"
' "$ROOT" "$WINESERVER" > "$CACHE/wine-check.log" 2>&1 \
    || { tail -20 "$CACHE/wine-check.log" >&2; die "Wine does not start in the root (log $CACHE/wine-check.log)"; }
version=$(grep -m1 '^wine-' "$CACHE/wine-check.log")
grep -q '^wine-runs' "$CACHE/wine-check.log" || die "cmd.exe printed nothing under Wine (log $CACHE/wine-check.log)"
[ -f "$ROOT/root/.wine-template/system.reg" ] || die "Wine made no prefix at $ROOT/root/.wine-template"
case "$version" in
    wine-1[0-9]*) ;;
    *) die "unexpected Wine version: '$version' (need Wine 10 or newer)" ;;
esac
echo "$version provisioned $(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$MARKER"
say "done in $(( $(date +%s) - t0 )) s: $version in $ROOT"
