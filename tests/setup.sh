#!/usr/bin/env bash
# Idempotent machine set-up for gdnat's tests and demo (run as root, Debian 12 or newer).
#
#   tests/setup.sh [--with-display] [--no-godot]
#
# - installs the real router and its tools (miniupnpd-nftables, nftables, coturn, socat,
#   miniupnpc, natpmpc, ...) WITHOUT starting any daemon in the machine's own network
#   namespace (policy-rc.d answers 101 during the install; any root-namespace miniupnpd or
#   turnserver that appears anyway is stopped by PID afterwards);
# - installs every other tool the tests and the demo call: curl (conformance suite), gcc and
#   libc6-dev (the C linker Rust needs), python3, iproute2 (ip, ss), util-linux (unshare, flock,
#   mount), procps (ps, pgrep), git (the benchmark names the commit), debootstrap; no
#   pkg-config: no crate of the workspace builds C code;
# - finds a Rust toolchain of at least Cargo.toml's rust-version (tests/lib/rust-env.sh, also under
#   sudo); when there is none it installs Debian's rustc/cargo, or rustc-web/cargo-web (Debian's
#   security-supported newer Rust, in bookworm-security and trixie), when the candidate is new
#   enough, else a toolchain through rustup when the system has it (the command, or Debian's
#   `rustup` package); else it stops with one line saying what to install;
# - provisions Godot 4.6.3 via tests/godot/provision.sh (cached in ${GDNAT_CACHE:-$HOME/.cache/gdnat});
# - is fast when everything is already there (apt is skipped when dpkg says all is installed).
#   --with-display  also install Xvfb on the host (screenshots of the demo)
#   --no-godot      skip the Godot provisioning
#   --no-cross      skip the Windows/macOS cross-build tools and Wine (tests/setup-cross.sh)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PACKAGES=(miniupnpd-nftables nftables iproute2 coturn socat debootstrap miniupnpc natpmpc
          procps psmisc python3 util-linux mount ca-certificates
          curl gcc libc6-dev git coreutils grep sed findutils g++)
# The two-site bed (tests/testbed-p2p): the BEP 15 tracker (whitelist build) next to coturn.
PACKAGES+=(opentracker conntrack)
DAEMONS=(miniupnpd turnserver opentracker)

WITH_DISPLAY=no
WITH_GODOT=yes
WITH_CROSS=yes
for arg in "$@"; do
    case "$arg" in
        --with-display) WITH_DISPLAY=yes ;;
        --no-godot) WITH_GODOT=no ;;
        --no-cross) WITH_CROSS=no ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done
[ "$WITH_DISPLAY" = yes ] && PACKAGES+=(xvfb)

# shellcheck source=lib/rust-env.sh
source "$HERE/lib/rust-env.sh"   # gdnat_rust_env, gdnat_rust_required, gdnat_version_ge

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
APT_UPDATED=no
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
    APT_UPDATED=yes
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${MISSING[@]}" \
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

for tool in miniupnpd nft ip ss turnserver turnutils_natdiscovery opentracker socat upnpc natpmpc unshare flock python3 curl cc timeout ps pgrep awk git debootstrap; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || [ -x "/usr/bin/$tool" ] \
        || die "tool '$tool' not found after install"
done
say "tools present: miniupnpd $(dpkg-query -W -f='${Version}' miniupnpd-nftables), coturn $(dpkg-query -W -f='${Version}' coturn), miniupnpc $(dpkg-query -W -f='${Version}' miniupnpc)"

# ---- Rust ------------------------------------------------------------------------------------
apt_update_once() {
    [ "$APT_UPDATED" = yes ] && return 0
    timeout 600 apt-get update >> /tmp/gdnat-setup-apt.log 2>&1 \
        || { tail -20 /tmp/gdnat-setup-apt.log >&2; die "apt-get update failed (log /tmp/gdnat-setup-apt.log)"; }
    APT_UPDATED=yes
}
# Upstream version of a package's apt candidate (1:1.96.0+dfsg1-1~deb12u2 -> 1.96.0), or nothing.
candidate_version() {
    local v
    v=$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p' | head -1)
    [ -n "$v" ] && [ "$v" != "(none)" ] || return 1
    v=${v#*:}; v=${v%%[+~-]*}
    echo "$v"
}
apt_install() {
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "$@" \
        >> /tmp/gdnat-setup-apt.log 2>&1 \
        || { tail -20 /tmp/gdnat-setup-apt.log >&2; die "apt-get install $* failed (log /tmp/gdnat-setup-apt.log)"; }
}
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

ensure_rust() {
    local required pair v
    required=$(gdnat_rust_required)
    [ -n "$required" ] || die "no rust-version in Cargo.toml"
    if gdnat_rust_env; then
        say "rust: $GDNAT_RUST_FOUND (needs >= $required)"
        return 0
    fi
    say "no Rust >= $required found (${GDNAT_RUST_SEEN:-none}); looking at Debian's packages"
    apt_update_once
    for pair in "rustc cargo" "rustc-web cargo-web"; do
        set -- $pair
        v=$(candidate_version "$1") || continue
        gdnat_version_ge "$v" "$required" || { say "Debian's $1 is $v: too old"; continue; }
        # rustc-web replaces rustc: never remove an installed rustc (other software may use it).
        if [ "$1" = rustc-web ] && installed rustc; then
            say "Debian's rustc-web $v would replace the installed rustc package: not done"
            continue
        fi
        say "installing Debian's $1 and $2 $v"
        apt_install "$1" "$2"
        gdnat_rust_env && { say "rust: $GDNAT_RUST_FOUND"; return 0; }
    done
    if ! command -v rustup >/dev/null && candidate_version rustup >/dev/null && ! installed rustc && ! installed cargo; then
        say "installing Debian's rustup package"
        apt_install rustup
    fi
    if command -v rustup >/dev/null; then
        say "installing Rust $required through rustup (downloads the toolchain)"
        if timeout 900 rustup toolchain install "$required" --profile minimal \
                && { rustup default >/dev/null 2>&1 || rustup default "$required"; }; then
            gdnat_rust_env && { say "rust: $GDNAT_RUST_FOUND"; return 0; }
        fi
        say "rustup could not install Rust $required"
    fi
    die "$(gdnat_rust_missing_message)"
}
ensure_rust
# cargo-fuzz for the parser fuzz targets (tests/fuzz/run.sh, docs/fuzzing.md), pinned and
# cached in ~/.cargo/bin: built once with `cargo install --locked` (about 4 min on 2 cores).
CARGO_FUZZ_VERSION=0.13.2
CARGO_BIN=$(command -v cargo || echo "$HOME/.cargo/bin/cargo")
if [ "$("$HOME/.cargo/bin/cargo-fuzz" --version 2>/dev/null || cargo-fuzz --version 2>/dev/null)" = "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    say "cargo-fuzz $CARGO_FUZZ_VERSION already installed"
elif [ -x "$CARGO_BIN" ]; then
    say "installing cargo-fuzz $CARGO_FUZZ_VERSION (cargo install --locked)"
    timeout 1200 "$CARGO_BIN" install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION" > /tmp/gdnat-setup-cargo-fuzz.log 2>&1 \
        || { tail -20 /tmp/gdnat-setup-cargo-fuzz.log >&2; die "cargo install cargo-fuzz failed (log /tmp/gdnat-setup-cargo-fuzz.log)"; }
else
    die "cargo not found: install Rust (rustup or Debian's cargo) before the fuzz tools"
fi

if [ "$WITH_GODOT" = yes ]; then
    args=()
    [ "$WITH_DISPLAY" = yes ] && args+=(--with-display)
    bash "$HERE/godot/provision.sh" "${args[@]}" || die "Godot provisioning failed"
else
    say "Godot provisioning skipped (--no-godot)"
fi
# Windows and macOS builds, Wine (issue 11): mingw-w64, llvm, zip, rustup targets, ziglang,
# cargo-zigbuild, the Wine root.
if [ "$WITH_CROSS" = yes ]; then
    bash "$HERE/setup-cross.sh" || die "cross-build set-up failed (tests/setup-cross.sh)"
fi
say "done in $(( $(date +%s) - t0 )) s"
