#!/usr/bin/env bash
# Idempotent set-up of what the Windows and macOS builds and the Wine tests need (as root;
# called by tests/setup.sh, fast when everything is there):
#   - Debian: gcc-mingw-w64-x86-64 (Windows linker), llvm (llvm-lipo/objdump/nm for the Mach-O
#     checks), zip/unzip (the release zip), debootstrap (the Wine root);
#   - rustup targets x86_64-pc-windows-gnu, x86_64-apple-darwin, aarch64-apple-darwin (when
#     rustup cannot fetch them, tests/windows/build.sh falls back to Debian's packages; the
#     macOS build then cannot run and says so);
#   - PyPI: ziglang (the zig compiler cargo-zigbuild links with), pinned, in a venv of its own
#     (tests/lib/zig-env.sh; needs Debian's python3-venv);
#   - crates.io: cargo-zigbuild, pinned, `cargo install --locked` (kept in ~/.cargo/bin);
#   - Wine 10 in its own cached Debian sid root (tests/wine/provision.sh).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ZIGLANG_VERSION=0.17.0
ZIGBUILD_VERSION=0.24.1
PACKAGES=(gcc-mingw-w64-x86-64 llvm zip unzip debootstrap python3-venv)
TARGETS=(x86_64-pc-windows-gnu x86_64-apple-darwin aarch64-apple-darwin)

say() { echo "setup-cross: $*"; }
die() { echo "setup-cross: ERROR: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
t0=$(date +%s)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    { timeout 600 apt-get update && DEBIAN_FRONTEND=noninteractive timeout 900 \
        apt-get install -y --no-install-recommends "${missing[@]}"; } > /tmp/gdnat-setup-cross-apt.log 2>&1 \
        || { tail -20 /tmp/gdnat-setup-cross-apt.log >&2; die "apt-get install ${missing[*]} failed"; }
fi

if command -v rustup >/dev/null; then
    installed=$(rustup target list --installed 2>/dev/null)
    for t in "${TARGETS[@]}"; do
        grep -qx "$t" <<<"$installed" && continue
        say "rustup target add $t"
        timeout 600 rustup target add "$t" || say "WARNING: rustup could not add $t (Windows: tests/windows/build.sh falls back to Debian's packages)"
    done
else
    say "WARNING: no rustup: Windows builds use Debian's packages (tests/windows/build.sh --toolchain debian); macOS builds need rustup's targets"
fi

source "$HERE/lib/zig-env.sh"
if [ "$(gdnat_zig_version)" != "$ZIGLANG_VERSION" ]; then
    say "pip install ziglang==$ZIGLANG_VERSION into $GDNAT_ZIG_HOME/venv"
    gdnat_zig_install "$ZIGLANG_VERSION" || die "pip install ziglang==$ZIGLANG_VERSION into $GDNAT_ZIG_HOME/venv failed"
fi
gdnat_zig_env || die "no zig runs in $GDNAT_ZIG_HOME/bin"

if ! cargo-zigbuild --version 2>/dev/null | grep -q " $ZIGBUILD_VERSION\$"; then
    say "cargo install --locked cargo-zigbuild --version $ZIGBUILD_VERSION (a few minutes, once)"
    timeout 1500 cargo install --locked cargo-zigbuild --version "$ZIGBUILD_VERSION" \
        || die "cargo install cargo-zigbuild failed"
fi

bash "$HERE/wine/provision.sh" || die "Wine provisioning failed"
say "ready in $(( $(date +%s) - t0 )) s: mingw $(x86_64-w64-mingw32-gcc -dumpversion), zig $(gdnat_zig_version), $(cargo-zigbuild --version), $(cat "${GDNAT_CACHE:-$HOME/.cache/gdnat}/wine-sid/.gdnat-wine-provisioned")"
