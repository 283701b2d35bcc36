#!/usr/bin/env bash
# Proves the README's demo command on a bare Debian: bootstraps a clean Debian root (minbase:
# only the "required" packages and apt, less than any Debian installation has), copies the
# repository's tracked files into it, and runs `bash tests/demo.sh` there as root, exactly as
# the README says. Everything else (packages, Rust, Godot, the build) must come from the
# project's own scripts.
#
#   sudo bash tests/fresh/fresh-debian.sh [--suite bookworm] [--keep]
#
# Suite: bookworm by default, the release of this machine and CI, whose miniupnpd (2.3.1) the
# test bed and the suites are written against; its Rust >= 1.94 is rustc-web/cargo-web from
# bookworm-security (the root gets the sources a Debian installer writes: main, -updates,
# -security). `--suite trixie` runs the same steps (rustc-web is in trixie's main; not run here).
#
# Isolation and clean-up: the chroot runs inside a private mount namespace (unshare --mount), so
# its /proc, /sys, /dev, /run (and /run/netns of the test bed, Godot's own sid root mounts) are
# never visible on the host and vanish with it; the test-bed namespaces use the prefix
# ${FRESH_IGD_PREFIX:-${IGD_PREFIX:-igd}f}. On every exit path (success, failure, INT/TERM, time
# out) the outer script kills by PID every process whose root is the fresh root, unmounts by
# mount point anything left under it, and removes it (unless --keep); it then checks that no
# process and no mount is left and fails otherwise.
#
# Env: GDNAT_LOGS (logs, default /tmp/gdnat-logs), GDNAT_DEBIAN_MIRROR (default
#      http://deb.debian.org/debian), FRESH_DIR (where the root goes, default
#      /var/tmp/gdnat-fresh-<prefix>), FRESH_TIMEOUT (seconds for the demo command, default 3000).
# Prints the time of each phase and `N passed, N failed`.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
SUITE=bookworm
KEEP=no
while [ $# -gt 0 ]; do
    case $1 in
        --suite) SUITE=$2; shift ;;
        --keep) KEEP=yes ;;
        --inner) break ;;
        -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
        *) echo "fresh-debian: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

PREFIX="${FRESH_IGD_PREFIX:-${IGD_PREFIX:-igd}f}"
LOGS="${GDNAT_LOGS:-/tmp/gdnat-logs}"
MIRROR="${GDNAT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
FRESH_DIR="${FRESH_DIR:-/var/tmp/gdnat-fresh-$PREFIX}"
ROOT="$FRESH_DIR/root"
FRESH_TIMEOUT="${FRESH_TIMEOUT:-3000}"

say() { echo "fresh-debian: $*"; }

# ---- inner: inside the private mount namespace ---------------------------------------------------
# fresh-debian.sh --inner ROOT PREFIX TIMEOUT: mounts what the chroot needs and runs the demo.
if [ "${1:-}" = --inner ]; then
    ROOT=$2 PREFIX=$3 FRESH_TIMEOUT=$4
    # The root must be a mount point of its own: `ip netns exec` runs `mount --make-rslave /`,
    # which fails (EINVAL) when the chroot's / is a plain directory.
    mount --bind "$ROOT" "$ROOT" || exit 1
    mount -t proc proc "$ROOT/proc" || exit 1
    mount -t sysfs sysfs "$ROOT/sys" || exit 1
    mount --rbind /dev "$ROOT/dev" || exit 1
    mount -t tmpfs -o mode=755 tmpfs "$ROOT/run" || exit 1
    mkdir -p "$ROOT/run/netns" "$ROOT/run/lock"
    # Nothing else of the host: a clean environment, root's home, the README's command.
    exec timeout -k 10 "$FRESH_TIMEOUT" chroot "$ROOT" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        IGD_PREFIX="$PREFIX" GDNAT_ASYNC_PREFIX="${PREFIX}as" GDNAT_LOGS=/root/logs \
        /bin/bash -c 'cd /root/gdnat && bash tests/demo.sh'
fi

# ---- outer ----------------------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || { echo "fresh-debian: needs root (debootstrap, chroot, namespaces)" >&2; exit 2; }
for tool in debootstrap unshare chroot git tar; do
    command -v "$tool" >/dev/null || { echo "fresh-debian: $tool is missing (tests/setup.sh installs it)" >&2; exit 2; }
done
mkdir -p "$LOGS"
PASSED=0 FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS $1 ${2:-}"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1 ${2:-}"; }

# PIDs of processes whose root directory is the fresh root or below it.
root_pids() {
    local p r
    for p in /proc/[0-9]*; do
        r=$(readlink "$p/root" 2>/dev/null) || continue
        case "$r" in "$ROOT"|"$ROOT"/*) echo "${p#/proc/}" ;; esac
    done
}
# Mount points under the fresh root, as the host sees them, deepest first.
root_mounts() {
    awk -v root="$ROOT" '$5 == root || index($5, root "/") == 1 {print $5}' /proc/self/mountinfo \
        | awk '{print length($0) " " $0}' | sort -rn | cut -d' ' -f2-
}

INNER_PID=""
cleanup() {
    local pids m i
    trap - EXIT INT TERM
    [ -n "$INNER_PID" ] && kill "$INNER_PID" 2>/dev/null
    for i in 1 2 3; do
        pids=$(root_pids)
        [ -z "$pids" ] && break
        say "stopping processes left in the fresh root (pids $(echo $pids))"
        kill $pids 2>/dev/null
        sleep 2
        pids=$(root_pids)
        [ -n "$pids" ] && kill -9 $pids 2>/dev/null && sleep 1
    done
    [ -n "$INNER_PID" ] && wait "$INNER_PID" 2>/dev/null
    for m in $(root_mounts); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
    local left_pids left_mounts
    left_pids=$(root_pids | tr '\n' ' ') left_mounts=$(root_mounts | tr '\n' ' ')
    if [ -n "$left_pids$left_mounts" ]; then
        fail cleanup "left behind: processes [$left_pids] mounts [$left_mounts]"
    else
        pass cleanup "no process and no mount left in $ROOT"
        if [ "$KEEP" = yes ]; then
            say "kept $ROOT (--keep)"
        else
            rm -rf --one-file-system "$FRESH_DIR"
        fi
    fi
    echo "$PASSED passed, $FAILED failed"
    # (`exit` without a number in a trap would keep the status from before the trap.)
    if [ "$FAILED" = 0 ] && [ "${RESULT:-1}" = 0 ]; then exit 0; fi
    exit 1
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

T0=$SECONDS
if [ -e "$FRESH_DIR" ]; then
    say "removing an old fresh root $FRESH_DIR"
    for m in $(root_mounts); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
    [ -z "$(root_mounts)" ] || { fail old-root "mounts under $ROOT that cannot be removed"; exit 1; }
    rm -rf --one-file-system "$FRESH_DIR"
fi
mkdir -p "$FRESH_DIR"

# ---- 1. a bare Debian ------------------------------------------------------------------------------
t=$SECONDS
say "debootstrap --variant=minbase $SUITE into $ROOT"
if timeout 1200 debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" > "$LOGS/fresh-debootstrap.log" 2>&1; then
    pass debootstrap "Debian $SUITE minbase in $((SECONDS - t)) s ($(du -sm --one-file-system "$ROOT" | cut -f1) MiB)"
else
    tail -5 "$LOGS/fresh-debootstrap.log"
    fail debootstrap "see $LOGS/fresh-debootstrap.log"
    RESULT=1; exit 1
fi
# The sources a Debian installer writes (security updates included), and a resolver.
security="http://deb.debian.org/debian-security"
cat > "$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $security $SUITE-security main
EOF
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# Not software but the network this machine is on: the local CA certificates the host trusts
# (a TLS-intercepting egress proxy here, whose CA crates.io's HTTPS needs). They go where a
# Debian admin puts them; the ca-certificates package that setup.sh installs adds them to the
# store. A machine without such a proxy has none, and nothing is copied.
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    mkdir -p "$ROOT/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
    say "copied the host's local CA certificates: $(cd /usr/local/share/ca-certificates && echo *.crt)"
fi
have=$(chroot "$ROOT" sh -c 'for t in cargo rustc curl gcc cc python3 ip nft upnpc godot ps debootstrap; do command -v $t; done' 2>/dev/null | tr '\n' ' ')
if [ -z "$have" ]; then
    pass bare-root "none of cargo, rustc, curl, gcc, python3, ip, nft, upnpc, godot, ps, debootstrap in the root"
else
    fail bare-root "the root already has: $have"
fi

# ---- 2. the repository, as a clone has it ----------------------------------------------------------
mkdir -p "$ROOT/root/gdnat"
if (cd "$REPO" && git ls-files -z | tar --null -T - -cf -) | tar -xf - -C "$ROOT/root/gdnat"; then
    pass copy "$(cd "$REPO" && git ls-files | wc -l) tracked files of $(cd "$REPO" && git rev-parse --short HEAD) copied (no target/, no build output)"
else
    fail copy "could not copy the tracked files"; RESULT=1; exit 1
fi

# ---- 3. the README's demo command ----------------------------------------------------------------
t=$SECONDS
say "running 'bash tests/demo.sh' in the fresh root (log: $LOGS/fresh-demo.log)"
unshare --mount --propagation private bash "$0" --inner "$ROOT" "$PREFIX" "$FRESH_TIMEOUT" \
    > "$LOGS/fresh-demo.log" 2>&1 < /dev/null &
INNER_PID=$!
wait "$INNER_PID"; rc=$?
INNER_PID=""
cp -r "$ROOT/root/logs" "$LOGS/fresh-demo-logs" 2>/dev/null
grep -E '^(setup|provision|build|run-demo|RESULT)' "$LOGS/fresh-demo.log" | grep -vE '^build: synced' | tail -40
phases=$(grep -E '^setup: done in|^provision: done in' "$LOGS/fresh-demo.log" | tr '\n' ' ')
if [ $rc = 0 ] && grep -q '^RESULT: PASS' "$LOGS/fresh-demo.log"; then
    pass demo "bash tests/demo.sh passed in the fresh root in $((SECONDS - t)) s ($phases)"
    RESULT=0
else
    tail -20 "$LOGS/fresh-demo.log"
    fail demo "bash tests/demo.sh exited $rc after $((SECONDS - t)) s; see $LOGS/fresh-demo.log"
    RESULT=1
fi
say "total $((SECONDS - T0)) s"
