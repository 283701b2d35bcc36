#!/usr/bin/env bash
# Cross-builds the GDExtension for macOS as one universal (x86_64 + arm64) libgdnat.dylib, with
# cargo-zigbuild and the zig compiler from PyPI's `ziglang` (tests/setup.sh installs both), and
# checks what can be checked without a Mac:
#   - the file is a universal Mach-O with exactly the x86_64 and arm64 slices;
#   - each slice is a Mach-O dynamic library (MH_DYLIB) of its CPU type;
#   - each slice exports the GDExtension entry symbol (_gdext_rust_init);
#   - each slice links only system libraries (/usr/lib/..., /System/Library/...).
# The library is NOT run or loaded anywhere: macOS is compiled but untested (README).
#
#   tests/macos/build.sh [--release] [--check-only]
#
# Output: addons/gdnat/bin/libgdnat.macos.<profile>.dylib (the name gdnat.gdextension lists).
# Prints `PASS|FAIL name detail` and `N passed, N failed`; exit 1 on any FAIL.
# Tools: LLVM's llvm-lipo / llvm-objdump / llvm-nm from Debian's `llvm` package.
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
TRIPLE=universal2-apple-darwin
ENTRY=gdext_rust_init

profile=debug
build=yes
for a in "$@"; do
    case $a in
        --release) profile=release ;;
        --check-only) build=no ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "macos/build.sh: unknown option $a" >&2; exit 2 ;;
    esac
done

passed=0; failed=0
pass() { passed=$((passed + 1)); echo "PASS $1 ${2:-}"; }
fail() { failed=$((failed + 1)); echo "FAIL $1 ${2:-}"; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" = 0 ]; exit $?; }

# The newest LLVM tool of a name (Debian installs them as /usr/lib/llvm-N/bin/NAME).
llvm_tool() {
    local t
    t=$(ls -d /usr/lib/llvm-*/bin/"$1" 2>/dev/null | sort -V | tail -1)
    [ -n "$t" ] && echo "$t" || command -v "$1"
}
LIPO=$(llvm_tool llvm-lipo); OBJDUMP=$(llvm_tool llvm-objdump); NM=$(llvm_tool llvm-nm)
for t in LIPO OBJDUMP NM; do
    [ -n "${!t}" ] || { fail tools "llvm-lipo, llvm-objdump and llvm-nm are needed (apt-get install llvm)"; finish; }
done

lib="$TARGET_DIR/$TRIPLE/$profile/libgdnat.dylib"
dest="addons/gdnat/bin/libgdnat.macos.$profile.dylib"
if [ "$build" = yes ]; then
    command -v cargo-zigbuild >/dev/null || { fail build "cargo-zigbuild is missing (tests/setup.sh installs it)"; finish; }
    source tests/lib/zig-env.sh
    gdnat_zig_env || { fail build "no zig in $GDNAT_ZIG_HOME/bin (tests/setup-cross.sh installs it)"; finish; }
    rustup target list --installed | grep -qx aarch64-apple-darwin && rustup target list --installed | grep -qx x86_64-apple-darwin \
        || timeout 300 rustup target add aarch64-apple-darwin x86_64-apple-darwin \
        || { fail build "rustup cannot add the macOS targets"; finish; }
    flags=(--locked --target "$TRIPLE" -p gdnat-godot)
    [ "$profile" = release ] && flags+=(--release)
    t0=$SECONDS
    # No macOS SDK here: zig links against its own libSystem stubs (the SDK warnings are expected).
    if cargo zigbuild "${flags[@]}" 2>&1 | grep -v "^warning: .*SDK" ; [ "${PIPESTATUS[0]}" = 0 ]; then
        pass build "cargo zigbuild ${flags[*]} ($((SECONDS - t0)) s, zig $(gdnat_zig_version), $(cargo-zigbuild --version 2>/dev/null))"
    else
        fail build "cargo zigbuild ${flags[*]} failed"; finish
    fi
    cp "$lib" "$dest.tmp" && mv "$dest.tmp" "$dest"
fi
[ -f "$dest" ] || { fail file "no $dest"; finish; }
echo "INFO checking $dest ($(stat -c %s "$dest") bytes) with $LIPO, $OBJDUMP, $NM"

archs=$("$LIPO" -archs "$dest" 2>&1 | xargs -n1 | sort | xargs)
if [ "$archs" = "arm64 x86_64" ]; then
    pass universal "fat Mach-O with slices: $archs"
else
    fail universal "want exactly arm64 and x86_64 slices, llvm-lipo says: $archs"
fi

for arch in x86_64 arm64; do
    headers=$("$OBJDUMP" --macho --private-header --arch="$arch" "$dest" 2>&1)
    want_cpu=X86_64; [ "$arch" = arm64 ] && want_cpu=ARM64
    if grep -qE "MH_MAGIC_64 +$want_cpu .* DYLIB " <<<"$headers"; then
        pass "$arch.header" "$(grep -m1 -E 'MH_MAGIC_64' <<<"$headers" | tr -s ' ')"
    else
        fail "$arch.header" "not a 64-bit $want_cpu MH_DYLIB: $(head -c 300 <<<"$headers" | tr '\n' ' ')"
    fi

    symbols=$("$NM" --arch="$arch" --extern-only --defined-only "$dest" 2>&1)
    if grep -qE "^[0-9a-f]+ T _$ENTRY$" <<<"$symbols"; then
        pass "$arch.entry-symbol" "_$ENTRY exported ($(grep -cE ' T ' <<<"$symbols") exported functions)"
    else
        fail "$arch.entry-symbol" "_$ENTRY is not an exported function"
    fi

    dylibs=$("$OBJDUMP" --macho --dylibs-used --arch="$arch" "$dest" 2>&1 | sed 1d | awk '{print $1}' | grep -v '^$')
    own=$(grep -m1 . <<<"$("$OBJDUMP" --macho --dylib-id --arch="$arch" "$dest" 2>/dev/null | sed 1d)")
    others=$(grep -vE '^(/usr/lib/|/System/Library/)' <<<"$dylibs" | grep -vxF "${own:-/nonexistent}" || true)
    if [ -n "$dylibs" ] && [ -z "$others" ]; then
        pass "$arch.system-libraries-only" "$(grep -vxF "${own:-/nonexistent}" <<<"$dylibs" | tr '\n' ' ')(own install name: $own)"
    else
        fail "$arch.system-libraries-only" "non-system libraries: ${others:-<none listed at all>}"
    fi
done
finish
