# The zig compiler that cargo-zigbuild links the macOS builds with: PyPI's `ziglang` package in a
# virtual environment of its own under the gdnat cache, with `zig` linked into a bin folder that
# goes first on PATH. A venv, not `pip install` into a system Python: Debian's python3 has no pip
# and refuses system-wide installs (PEP 668), and `sudo` drops a user's pyenv from PATH.
# Sourced by tests/setup-cross.sh, tests/macos/build.sh and tests/package.sh. (bash; no shell
# options changed)
#
#   source tests/lib/zig-env.sh
#   gdnat_zig_env            # PATH gets $GDNAT_CACHE/zig/bin; fails when no zig runs there
#   gdnat_zig_version        # e.g. 0.17.0

GDNAT_ZIG_HOME="${GDNAT_CACHE:-$HOME/.cache/gdnat}/zig"

gdnat_zig_env() {
    case ":$PATH:" in *":$GDNAT_ZIG_HOME/bin:"*) ;; *) export PATH="$GDNAT_ZIG_HOME/bin:$PATH" ;; esac
    [ -x "$GDNAT_ZIG_HOME/bin/zig" ] && "$GDNAT_ZIG_HOME/bin/zig" version >/dev/null 2>&1
}

gdnat_zig_version() {
    "$GDNAT_ZIG_HOME/bin/zig" version 2>/dev/null
}

# gdnat_zig_install VERSION: the venv with ziglang==VERSION and the `zig` link (idempotent).
gdnat_zig_install() {
    local version=$1 zig
    [ "$(gdnat_zig_version)" = "$version" ] && return 0
    rm -rf "$GDNAT_ZIG_HOME"
    timeout 120 /usr/bin/python3 -m venv "$GDNAT_ZIG_HOME/venv" || return 1
    timeout 600 "$GDNAT_ZIG_HOME/venv/bin/pip" install -q --disable-pip-version-check "ziglang==$version" || return 1
    zig=$(find "$GDNAT_ZIG_HOME/venv" -path '*/ziglang/zig' -type f | head -1)
    [ -n "$zig" ] || return 1
    mkdir -p "$GDNAT_ZIG_HOME/bin" && ln -sf "$zig" "$GDNAT_ZIG_HOME/bin/zig"
    [ "$(gdnat_zig_version)" = "$version" ]
}
