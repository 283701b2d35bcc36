#!/usr/bin/env bash
# Idempotent machine set-up for gdnat's tests and demo (run as root, Debian 12 or newer).
#
#   tests/setup.sh [--with-display] [--no-godot]
#
# - installs the real router and its tools (miniupnpd-nftables, nftables, coturn, socat,
#   miniupnpc, natpmpc, ...) WITHOUT starting any daemon in the machine's own network
#   namespace (policy-rc.d answers 101 during the install; any root-namespace miniupnpd or
#   turnserver that appears anyway is stopped by PID afterwards);
# - provisions Godot 4.6.3 via tests/godot/provision.sh (cached in ${GDNAT_CACHE:-$HOME/.cache/gdnat});
# - is fast when everything is already there (apt is skipped when dpkg says all is installed).
#   --with-display  also install Xvfb on the host (screenshots of the demo)
#   --no-godot      skip the Godot provisioning
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PACKAGES=(miniupnpd-nftables nftables iproute2 coturn socat debootstrap miniupnpc natpmpc
          procps psmisc python3 util-linux mount ca-certificates)
# The two-site bed (tests/testbed-p2p): the BEP 15 tracker (whitelist build) next to coturn.
PACKAGES+=(opentracker conntrack)
DAEMONS=(miniupnpd turnserver opentracker)

WITH_DISPLAY=no
WITH_GODOT=yes
for arg in "$@"; do
    case "$arg" in
        --with-display) WITH_DISPLAY=yes ;;
        --no-godot) WITH_GODOT=no ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done
[ "$WITH_DISPLAY" = yes ] && PACKAGES+=(xvfb)

say() { echo "setup: $*"; }
die() { echo "setup: ERROR: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (apt-get, network namespaces)"
command -v apt-get >/dev/null && command -v dpkg-query >/dev/null || die "needs a Debian-like system (apt-get, dpkg-query)"

missing_packages() {
    local p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
    done
}

# PIDs of a daemon that run in the root network namespace.
root_ns_pids() {
    local name=$1 pid root_ns
    root_ns=$(readlink /proc/1/ns/net)
    for pid in $(pgrep -x "$name" 2>/dev/null || true); do
        [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" = "$root_ns" ] && echo "$pid"
    done
    return 0
}

t0=$(date +%s)
mapfile -t MISSING < <(missing_packages)
if [ "${#MISSING[@]}" -eq 0 ]; then
    say "all packages already installed (${#PACKAGES[@]}), apt skipped"
else
    say "installing: ${MISSING[*]}"
    # Daemons that were already running before we started are not ours to stop.
    declare -A BEFORE=()
    for d in "${DAEMONS[@]}"; do for pid in $(root_ns_pids "$d"); do BEFORE[$pid]=1; done; done

    CREATED_POLICY=no
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        CREATED_POLICY=yes
        say "created /usr/sbin/policy-rc.d (exit 101) for the install"
    fi
    remove_policy() { [ "$CREATED_POLICY" = yes ] && rm -f /usr/sbin/policy-rc.d && say "removed the temporary policy-rc.d"; return 0; }
    trap remove_policy EXIT

    timeout 600 apt-get update > /tmp/gdnat-setup-apt.log 2>&1 \
        || { tail -20 /tmp/gdnat-setup-apt.log >&2; die "apt-get update failed (log /tmp/gdnat-setup-apt.log)"; }
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y --no-install-recommends "${MISSING[@]}" \
        >> /tmp/gdnat-setup-apt.log 2>&1 \
        || { tail -20 /tmp/gdnat-setup-apt.log >&2; die "apt-get install failed (log /tmp/gdnat-setup-apt.log)"; }
    remove_policy; trap - EXIT
    mapfile -t STILL < <(missing_packages)
    [ "${#STILL[@]}" -eq 0 ] || die "still missing after install: ${STILL[*]}"
    say "installed ${#MISSING[@]} packages"

    # Stop, by PID, any daemon that a package started in the root namespace.
    for d in "${DAEMONS[@]}"; do
        for pid in $(root_ns_pids "$d"); do
            [ -n "${BEFORE[$pid]:-}" ] && continue
            say "stopping root-namespace $d started by the install (pid $pid)"
            kill "$pid" 2>/dev/null || true
        done
    done
fi

for tool in miniupnpd nft ip turnserver turnutils_natdiscovery opentracker socat upnpc natpmpc unshare python3; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || [ -x "/usr/bin/$tool" ] \
        || die "tool '$tool' not found after install"
done
say "tools present: miniupnpd $(dpkg-query -W -f='${Version}' miniupnpd-nftables), coturn $(dpkg-query -W -f='${Version}' coturn), miniupnpc $(dpkg-query -W -f='${Version}' miniupnpc)"

if [ "$WITH_GODOT" = yes ]; then
    args=()
    [ "$WITH_DISPLAY" = yes ] && args+=(--with-display)
    bash "$HERE/godot/provision.sh" "${args[@]}" || die "Godot provisioning failed"
else
    say "Godot provisioning skipped (--no-godot)"
fi
say "done in $(( $(date +%s) - t0 )) s"
