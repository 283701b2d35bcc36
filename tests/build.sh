#!/usr/bin/env bash
# Builds gdnat and lays out the Godot project for the tests and the demo.
#
#   tests/build.sh            debug build
#   tests/build.sh --release  release build only
#   tests/build.sh --all      debug and release
#   tests/build.sh --engine-names [--release]  only the engine-names library (classes named UPNP /
#                             UPNPDevice, lazy function tables, no thread support), built without
#                             the default features into ${CARGO_TARGET_DIR:-target}/engine-names/;
#                             never copied into the addon (it would clash with the engine's UPNP)
#
# Steps:
# 1. cargo build of the GDExtension (gdnat-godot), the simulated gateway (gdnat-simgw) and the
#    CLI (gdnat) in the chosen profile(s), into ${CARGO_TARGET_DIR:-target}.
# 2. Copies libgdnat.so to addons/gdnat/bin/libgdnat.linux.x86_64.{debug,release}.so, only for
#    the profiles built now (no stand-in is made for a profile that was not built).
# 3. Copies addons/gdnat/ to godot-project/addons/gdnat/ and tests/godot/ to
#    godot-project/tests/ (real copies, git-ignored; replaced as a whole when they differ).
# Idempotent; cargo makes it fast when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}

profiles=()
engine_names=0
for arg in "$@"; do
    case $arg in
        --release) profiles=(release) ;;
        --all) profiles=(debug release) ;;
        --engine-names) engine_names=1 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done
[ ${#profiles[@]} -gt 0 ] || profiles=(debug)
# cargo, also under sudo (whose PATH has no ~/.cargo/bin): tests/lib/rust-env.sh
source tests/lib/rust-env.sh
gdnat_rust_env || { echo "build: $(gdnat_rust_missing_message)" >&2; exit 1; }

if ((engine_names)); then
    for profile in "${profiles[@]}"; do
        flags=(--no-default-features --features engine-names --target-dir "$TARGET_DIR/engine-names")
        [ "$profile" = release ] && flags+=(--release)
        echo "build: cargo build -p gdnat-godot ${flags[*]}"
        cargo build -p gdnat-godot "${flags[@]}"
        echo "build: $TARGET_DIR/engine-names/$profile/libgdnat.so (engine-names)"
    done
    exit 0
fi

for profile in "${profiles[@]}"; do
    flags=()
    [ "$profile" = release ] && flags=(--release)
    echo "build: cargo build ${flags[*]} (gdnat-godot, gdnat-simgw, gdnat-cli)"
    cargo build "${flags[@]}" -p gdnat-godot -p gdnat-simgw -p gdnat-cli
    lib="$TARGET_DIR/$profile/libgdnat.so"
    [ -f "$lib" ] || { echo "build: $lib is missing after the build" >&2; exit 1; }
    dest="addons/gdnat/bin/libgdnat.linux.x86_64.$profile.so"
    if ! cmp -s "$lib" "$dest"; then
        cp "$lib" "$dest.tmp" && mv "$dest.tmp" "$dest"
    fi
    echo "build: $dest"
done

# The Godot project gets real copies (no symlinks), refreshed as a whole: copied next to the
# destination, then swapped in with two renames, so a Godot starting meanwhile (other test runs
# share this tree) never sees a half-copied addon. Nothing is touched when the copy is current.
sync_dir() { # sync_dir SRC DEST
    local src=$1 dest=$2
    if [ -d "$dest" ] && diff -rq "$src" "$dest" >/dev/null 2>&1; then
        return 0
    fi
    mkdir -p "$(dirname "$dest")"
    rm -rf "$dest.new.$$" "$dest.old.$$"
    cp -r "$src" "$dest.new.$$"
    [ -e "$dest" ] && mv "$dest" "$dest.old.$$"
    mv "$dest.new.$$" "$dest"
    rm -rf "$dest.old.$$"
    echo "build: synced $src -> $dest"
}
sync_dir addons/gdnat godot-project/addons/gdnat
sync_dir tests/godot godot-project/tests
