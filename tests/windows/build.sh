#!/usr/bin/env bash
# Cross-builds gdnat for Windows x86_64 (x86_64-pc-windows-gnu) on Linux with Debian's mingw-w64.
#
#   tests/windows/build.sh [--release] [--tests] [--toolchain auto|rustup|debian]
#
#   --release    release profile (default: debug)
#   --tests      also build the core crates' test programs (every crate but gdnat-godot) for
#                tests/wine/run-tests.sh (debug only)
#   --toolchain  where the Windows standard library comes from:
#                rustup  the rustup target x86_64-pc-windows-gnu (added when missing)
#                debian  Debian's packages only: Debian's Rust compiler and the standard library
#                        SOURCE Debian ships with it (Debian 12: rustc-web, cargo-web, rust-web-src
#                        1.96, installed when missing), the Windows std compiled from it by cargo
#                        (-Zbuild-std, enabled with RUSTC_BOOTSTRAP=1 on that stable compiler).
#                        Debian has no prebuilt Windows std new enough: libstd-rust-dev-windows is
#                        1.63 in Debian 12 and absent from 13, sid and experimental, while the
#                        godot crate needs Rust 1.94 (docs/platforms.md). For machines that reach
#                        package registries only, where rustup cannot fetch the target.
#                auto    (default) rustup when the target is installed or can be added, else debian
#
# Output: gdnat.dll copied to addons/gdnat/bin/gdnat.windows.x86_64.<profile>.dll (the name
# addons/gdnat/gdnat.gdextension lists), gdnat.exe and gdnat-simgw.exe in
# <target>/x86_64-pc-windows-gnu/<profile>/. The path used is printed
# ("windows-build: toolchain path: ...") and written to <target>/windows-toolchain-<profile>.txt,
# which tests/package.sh copies into the release's build info.
# Env: CARGO_TARGET_DIR (default <repo>/target; the Debian path uses <target>/debian-rust).
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
TRIPLE=x86_64-pc-windows-gnu
LINKER=x86_64-w64-mingw32-gcc

profile=debug
tests=no
toolchain=auto
while [ $# -gt 0 ]; do
    case $1 in
        --release) profile=release ;;
        --tests) tests=yes ;;
        --toolchain) toolchain=${2:-}; shift ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) echo "windows/build.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
case $toolchain in auto|rustup|debian) ;; *) echo "windows/build.sh: --toolchain auto|rustup|debian" >&2; exit 2 ;; esac

say() { echo "windows-build: $*"; }
die() { echo "windows-build: ERROR: $*" >&2; exit 1; }

command -v "$LINKER" >/dev/null || die "$LINKER is missing: apt-get install gcc-mingw-w64-x86-64 (tests/setup.sh does)"

rustup_target_ready() {
    command -v rustup >/dev/null || return 1
    rustup target list --installed 2>/dev/null | grep -qx "$TRIPLE" && return 0
    say "rustup target add $TRIPLE"
    timeout 300 rustup target add "$TRIPLE" >&2 || return 1
}

if [ "$toolchain" = auto ]; then
    if rustup_target_ready; then toolchain=rustup; else
        say "rustup cannot provide the $TRIPLE standard library here: falling back to Debian's"
        toolchain=debian
    fi
elif [ "$toolchain" = rustup ]; then
    rustup_target_ready || die "rustup could not add $TRIPLE (try --toolchain debian)"
fi

flags=(--locked --target "$TRIPLE")
[ "$profile" = release ] && flags+=(--release)
t0=$SECONDS
if [ "$toolchain" = rustup ]; then
    info="rustup: $(rustc --version), target $TRIPLE from rustup, linker $($LINKER --version | head -1)"
    say "toolchain path: $info"
    export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=$LINKER
    cargo build "${flags[@]}" -p gdnat-godot -p gdnat-cli -p gdnat-simgw
    if [ "$tests" = yes ]; then
        cargo test "${flags[@]}" -p gdnat-io -p gdnat-igd -p gdnat-simgw -p gdnat-cli -p gdnat-pcp -p gdnat-stun -p gdnat-rendezvous -p gdnat-mapper -p gdnat-punch --no-run
    fi
    out="$TARGET_DIR/$TRIPLE/$profile"
else
    # Debian's compiler (not rustup's proxy): /usr/bin/rustc with its sysroot's library source.
    DEB_PACKAGES=(rustc-web cargo-web rust-web-src)
    have_debian_rust() {
        [ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] \
            && [ -f "$(/usr/bin/rustc --print sysroot)/lib/rustlib/src/rust/library/Cargo.lock" ]
    }
    if ! have_debian_rust; then
        [ "$(id -u)" = 0 ] || die "Debian's Rust packages are missing: apt-get install ${DEB_PACKAGES[*]}"
        say "installing Debian's ${DEB_PACKAGES[*]}"
        DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y --no-install-recommends "${DEB_PACKAGES[@]}" >&2 \
            || { timeout 600 apt-get update >&2 && DEBIAN_FRONTEND=noninteractive timeout 900 \
                 apt-get install -y --no-install-recommends "${DEB_PACKAGES[@]}" >&2; } \
            || die "could not install ${DEB_PACKAGES[*]} (Debian 12; on newer Debian: rustc cargo rust-src >= 1.94)"
        have_debian_rust || die "Debian's rustc or its library source is still missing"
    fi
    version=$(/usr/bin/rustc --version)
    info="debian: $version ($(dpkg-query -S /usr/bin/rustc 2>/dev/null | cut -d: -f1) $(dpkg-query -W -f='${Version}' "$(dpkg-query -S /usr/bin/rustc 2>/dev/null | cut -d: -f1)" 2>/dev/null)), Windows std built from Debian's library source (-Zbuild-std), linker $($LINKER --version | head -1)"
    say "toolchain path: $info"
    DEB_TARGET="$TARGET_DIR/debian-rust"
    debian_cargo() {
        env -u RUSTUP_TOOLCHAIN -u RUSTC -u RUSTDOC PATH=/usr/bin:/bin RUSTC_BOOTSTRAP=1 \
            CARGO_TARGET_DIR="$DEB_TARGET" CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=$LINKER \
            /usr/bin/cargo "$@" -Zbuild-std=std,panic_abort
    }
    debian_cargo build "${flags[@]}" -p gdnat-godot -p gdnat-cli -p gdnat-simgw
    if [ "$tests" = yes ]; then
        debian_cargo test "${flags[@]}" -p gdnat-io -p gdnat-igd -p gdnat-simgw -p gdnat-cli -p gdnat-pcp -p gdnat-stun -p gdnat-rendezvous -p gdnat-mapper -p gdnat-punch --no-run
    fi
    out="$DEB_TARGET/$TRIPLE/$profile"
fi

for f in gdnat.dll gdnat.exe gdnat-simgw.exe; do
    [ -f "$out/$f" ] || die "$out/$f is missing after the build"
done
# The DLL must export the GDExtension entry symbol and import Windows' own DLLs only (no
# libgcc_s/libwinpthread/libstdc++ from mingw, which a player's Windows does not have).
OBJDUMP=x86_64-w64-mingw32-objdump
# (objdump's output is read into a variable first: `objdump | grep -q` fails under pipefail
# when grep stops reading early.)
headers=$($OBJDUMP -p "$out/gdnat.dll") || die "$OBJDUMP cannot read $out/gdnat.dll"
imports=$(awk '/DLL Name:/ {print tolower($3)}' <<<"$headers" | sort -u)
foreign=$(grep -vE '^(kernel32|ntdll|ws2_32|iphlpapi|userenv|msvcrt|bcrypt|bcryptprimitives|advapi32|api-ms-win-[a-z0-9-]+)\.dll$' <<<"$imports" || true)
[ -n "$imports" ] && [ -z "$foreign" ] || die "gdnat.dll imports non-system DLLs: ${foreign:-<no imports read>}"
grep -qE '\] gdext_rust_init$' <<<"$headers" || die "gdnat.dll does not export gdext_rust_init"
say "gdnat.dll exports gdext_rust_init and imports only: $(tr '\n' ' ' <<<"$imports")"
dest="addons/gdnat/bin/gdnat.windows.x86_64.$profile.dll"
cmp -s "$out/gdnat.dll" "$dest" || { cp "$out/gdnat.dll" "$dest.tmp" && mv "$dest.tmp" "$dest"; }
mkdir -p "$TARGET_DIR"
echo "$info" > "$TARGET_DIR/windows-toolchain-$profile.txt"
# Where the test scripts find the programs of this build.
echo "$out" > "$TARGET_DIR/windows-out-$profile.txt"
say "$dest, $out/gdnat.exe ($profile, $((SECONDS - t0)) s, toolchain path: ${info%%:*})"
