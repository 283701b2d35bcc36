#!/usr/bin/env bash
# The release command: builds every platform and writes a versioned zip in the Godot Asset
# Library's layout, then proves that the zip alone is a working install (as root).
#
#   bash tests/package.sh [--skip-build] [--no-demo]
#
# 1. Builds the release libraries: Linux x86_64 (cargo), Windows x86_64 (tests/windows/build.sh
#    --release: rustup's target or Debian's fallback, the path used is recorded in BUILD-INFO.txt)
#    and macOS universal x86_64+arm64 (tests/macos/build.sh --release, which also checks the
#    Mach-O slices, the entry symbol and the linked libraries).
# 2. Lays out gdnat-<version>/addons/gdnat/ (version from Cargo.toml): gdnat.gdextension (every
#    debug and release key of [libraries] points at the release library of its platform), bin/,
#    icons/, plugin.cfg/plugin.gd, the class reference doc_classes/*.xml (written by the engine
#    itself from the library's registered docs: godot --doctool --gdextension-docs), LICENSE,
#    README.md and BUILD-INFO.txt; zips it to dist/gdnat-<version>.zip. The single top-level folder
#    is the one the editor's asset installer strips.
# 3. Checks the zip's file list, unpacks it into a fresh copy of the demo project (the files git
#    tracks in godot-project/, nothing else) and runs the headless demo from that copy against the
#    test bed's real miniupnpd (tests/demo/run-demo.sh --project=...).
#
# --skip-build  package the libraries already in target/ (release) without building
# --no-demo     stop after the zip and its file-list check
# Prints `PASS|FAIL name detail` and `N passed, N failed`; exit 1 on any FAIL.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
LOGS=${GDNAT_LOGS:-/tmp/gdnat-logs}
mkdir -p "$LOGS"

build=yes
demo=yes
for a in "$@"; do
    case $a in
        --skip-build) build=no ;;
        --no-demo) demo=no ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) echo "package.sh: unknown option $a" >&2; exit 2 ;;
    esac
done

passed=0; failed=0
pass() { passed=$((passed + 1)); echo "PASS $1 ${2:-}"; }
fail() { failed=$((failed + 1)); echo "FAIL $1 ${2:-}"; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" = 0 ]; exit $?; }

VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)
[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || { fail version "no workspace version in Cargo.toml"; finish; }
NAME="gdnat-$VERSION"
LINUX_LIB="$TARGET_DIR/release/libgdnat.so"
WIN_LIB="addons/gdnat/bin/gdnat.windows.x86_64.release.dll"
MAC_LIB="addons/gdnat/bin/libgdnat.macos.release.dylib"

# ---- 1. build ----------------------------------------------------------------------------------
timed() { # timed NAME CMD...: runs CMD, logs it, PASS/FAIL with its duration
    local name=$1 t0=$SECONDS; shift
    if "$@" > "$LOGS/package-$name.log" 2>&1; then
        pass "$name" "$((SECONDS - t0)) s: $*"
    else
        fail "$name" "$((SECONDS - t0)) s: $* (log $LOGS/package-$name.log: $(tail -3 "$LOGS/package-$name.log" | tr '\n' ' '))"
    fi
}
if [ "$build" = yes ]; then
    timed build-linux cargo build --locked --release -p gdnat-godot
    timed build-windows bash tests/windows/build.sh --release
    timed build-macos bash tests/macos/build.sh --release
    grep -E '^(PASS|FAIL) ' "$LOGS/package-build-macos.log" | sed 's/^/    macos: /'
    grep -m1 'toolchain path' "$LOGS/package-build-windows.log" | sed 's/^/    /'
    ((failed == 0)) || finish
fi
for f in "$LINUX_LIB" "$WIN_LIB" "$MAC_LIB"; do
    [ -s "$f" ] || { fail libraries "missing $f"; finish; }
done

# ---- 2. lay out and zip ------------------------------------------------------------------------
STAGE="$TARGET_DIR/package/$NAME"
ADDON="$STAGE/addons/gdnat"
rm -rf "$TARGET_DIR/package"
# The classes the library registers, each with its page of the class reference.
DOC_CLASSES="NatUPNP NatUPNPDevice NatPortMapping NatStun NatRendezvous NatPunch"
have_doc_classes() { local class; for class in $DOC_CLASSES; do [ -s "$ADDON/doc_classes/$class.xml" ] || return 1; done; }
mkdir -p "$ADDON/bin" "$ADDON/doc_classes"
cp -r addons/gdnat/icons addons/gdnat/plugin.cfg addons/gdnat/plugin.gd addons/gdnat/nat_room.gd "$ADDON/"
cp "$LINUX_LIB" "$ADDON/bin/libgdnat.linux.x86_64.release.so"
cp "$WIN_LIB" "$ADDON/bin/gdnat.windows.x86_64.release.dll"
cp "$MAC_LIB" "$ADDON/bin/libgdnat.macos.release.dylib"
# Only release libraries ship: every debug key points at the release file of its platform.
sed -E 's#^(([a-z]+)\.debug(\.[a-z0-9_]+)?) *= *"bin/(.*)\.debug\.(so|dll|dylib)"#\1 = "bin/\4.release.\5"#' \
    addons/gdnat/gdnat.gdextension > "$ADDON/gdnat.gdextension"
{ cat LICENSE; echo; echo "================ LICENSE-MIT ================"; cat LICENSE-MIT
  echo; echo "================ LICENSE-APACHE ================"; cat LICENSE-APACHE; } > "$ADDON/LICENSE"
{ cat addons/gdnat/README.md; cat <<EOF

## Platforms in this release ($VERSION)

| System | Library | Tested |
|---|---|---|
| Linux x86_64 | \`bin/libgdnat.linux.x86_64.release.so\` | yes: the headless demo on Godot 4.6.3 against a real miniupnpd |
| Windows x86_64 | \`bin/gdnat.windows.x86_64.release.dll\` | the core and the command-line tool under Wine 10 against a real miniupnpd; the addon itself not in a Windows Godot |
| macOS (universal x86_64 + arm64) | \`bin/libgdnat.macos.release.dylib\` | **compiled but untested**: checked to be a valid Mach-O for both architectures, exporting the entry symbol and linking only system libraries; never loaded on a Mac |

Built against the GDExtension API of Godot 4.3 (\`api-4-3\`): it loads in Godot 4.3 and every
later 4.x (the engine keeps older extension APIs working), not in 4.2 or older. Tested on 4.6.3.
The library is unsigned: on macOS, Gatekeeper may quarantine it (\`xattr -d com.apple.quarantine\`).
License: MIT OR Apache-2.0 (LICENSE). Build details: BUILD-INFO.txt.
EOF
} > "$ADDON/README.md"

# Class reference, written by the engine from the library's registered docs.
DOCPROJ=$(mktemp -d /tmp/gdnat-package-doc.XXXXXX)
printf 'config_version=5\n[application]\nconfig/name="gdnat-doc"\n' > "$DOCPROJ/project.godot"
mkdir -p "$DOCPROJ/addons" "$DOCPROJ/.godot"
cp -r "$ADDON" "$DOCPROJ/addons/gdnat"
echo "res://addons/gdnat/gdnat.gdextension" > "$DOCPROJ/.godot/extension_list.cfg"
# (--doctool PATH writes PATH/doc_classes/<Class>.xml; only the extension's classes with
# --gdextension-docs.)
mkdir -p "$DOCPROJ/out"
if bash tests/lib/isolated.sh timeout 120 bash tests/godot/godot.sh --headless --path "$DOCPROJ" \
        --doctool "$DOCPROJ/out" --gdextension-docs > "$LOGS/package-doctool.log" 2>&1 \
   && cp "$DOCPROJ"/out/doc_classes/*.xml "$ADDON/doc_classes/" 2>/dev/null \
   && have_doc_classes; then
    pass doc-classes "$(cd "$ADDON/doc_classes" && ls | tr '\n' ' ')(godot --doctool --gdextension-docs)"
else
    fail doc-classes "godot --doctool --gdextension-docs did not write one of: $DOC_CLASSES (log $LOGS/package-doctool.log)"
fi
rm -rf "$DOCPROJ"

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain 2>/dev/null | grep -qv '^??' && echo " (with uncommitted changes)" || true)
{
    echo "gdnat $VERSION, commit $commit$dirty, built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -sm)"
    echo "rustc: $(rustc --version)"
    echo "godot-rust: $(grep -A1 '^name = "godot"$' Cargo.lock | sed -n 's/version = "\(.*\)"/\1/p'), api-4-3 (Godot 4.3+)"
    echo "linux x86_64: cargo build --release (host toolchain)"
    echo "windows x86_64: $(cat "$TARGET_DIR/windows-toolchain-release.txt" 2>/dev/null || echo 'toolchain path not recorded (--skip-build)')"
    echo "macos universal: cargo zigbuild --release --target universal2-apple-darwin; zig $(source tests/lib/zig-env.sh; gdnat_zig_version || echo ?), $(cargo-zigbuild --version 2>/dev/null || echo cargo-zigbuild ?)"
    echo
    (cd "$ADDON" && sha256sum bin/*)
} > "$ADDON/BUILD-INFO.txt"

mkdir -p dist
ZIP="$REPO/dist/$NAME.zip"
rm -f "$ZIP"
(cd "$TARGET_DIR/package" && TZ=UTC zip -q -X -r "$ZIP" "$NAME") || { fail zip "zip failed"; finish; }
pass zip "$ZIP ($(stat -c %s "$ZIP") bytes)"

# ---- 3. the zip's contents, then the demo from a fresh project with the zip alone -------------
listing=$(unzip -Z1 "$ZIP")
want=(addons/gdnat/gdnat.gdextension addons/gdnat/plugin.cfg addons/gdnat/plugin.gd addons/gdnat/nat_room.gd addons/gdnat/LICENSE
      addons/gdnat/README.md addons/gdnat/BUILD-INFO.txt addons/gdnat/icons/NatRoom.svg)
for class in $DOC_CLASSES; do want+=("addons/gdnat/doc_classes/$class.xml"); done
# Every icon the .gdextension's [icons] section names.
while read -r icon; do want+=("addons/gdnat/$icon"); done < <(sed -n '/^\[icons\]/,/^\[/s/^[A-Za-z]* *= *"\(icons\/[^"]*\)"/\1/p' "$ADDON/gdnat.gdextension")
while read -r lib; do want+=("addons/gdnat/$lib"); done < <(sed -n 's/^[a-z]*\.[a-z0-9_.]* *= *"\(bin\/[^"]*\)"/\1/p' "$ADDON/gdnat.gdextension" | sort -u)
missing=()
for f in "${want[@]}"; do grep -qx "$NAME/$f" <<<"$listing" || missing+=("$f"); done
outside=$(grep -v "^$NAME/addons/gdnat/" <<<"$listing" | grep -vx "$NAME/\|$NAME/addons/" || true)
if [ ${#missing[@]} = 0 ] && [ -z "$outside" ]; then
    pass zip-layout "$(grep -vc '/$' <<<"$listing") files under $NAME/addons/gdnat/, every library the .gdextension lists"
else
    fail zip-layout "missing: ${missing[*]:-none}; outside addons/gdnat: ${outside:-none}"
fi

if [ "$demo" = yes ]; then
    PROJ=$(mktemp -d /tmp/gdnat-package-demo.XXXXXX)
    git ls-files -z godot-project | (cd "$REPO" && xargs -0 cp --parents -t "$PROJ")
    UNZ=$(mktemp -d /tmp/gdnat-package-unzip.XXXXXX)
    unzip -q "$ZIP" -d "$UNZ" && cp -r "$UNZ/$NAME/." "$PROJ/godot-project/"
    rm -rf "$UNZ"
    if [ -f "$PROJ/godot-project/addons/gdnat/gdnat.gdextension" ] && [ ! -e "$PROJ/godot-project/tests" ]; then
        pass demo-project "fresh copy of godot-project/ (git-tracked files) + the unpacked zip: $PROJ/godot-project"
    else
        fail demo-project "could not lay out the fresh project in $PROJ"
    fi
    t0=$SECONDS
    if bash tests/demo/run-demo.sh --project="$PROJ/godot-project" > "$LOGS/package-demo.log" 2>&1; then
        pass demo-from-zip "$((SECONDS - t0)) s: tests/demo/run-demo.sh --project=$PROJ/godot-project"
    else
        fail demo-from-zip "$((SECONDS - t0)) s (log $LOGS/package-demo.log)"
    fi
    grep -E '^run-demo: (PASS|FAIL) ' "$LOGS/package-demo.log" | sed 's/^/    /'
    grep -q 'libgdnat.linux.x86_64.release.so' "$LOGS/demo-godot.log" 2>/dev/null \
        && echo "    (the engine's log names the release library of the zip)"
    rm -rf "$PROJ"
fi
finish
