# Finds a Rust toolchain new enough for gdnat (Cargo.toml's `rust-version`) and puts it first on
# PATH, also under `sudo`, whose secure_path drops ~/.cargo/bin. Sourced by tests/setup.sh,
# tests/build.sh, tests/all.sh, tests/e2e/core-e2e.sh and tests/godot/run-conformance.sh.
# (bash; no shell options changed)
#
#   source tests/lib/rust-env.sh
#   gdnat_rust_env || exit 1     # exports PATH (and RUSTUP_HOME for a sudo user's rustup)
#
# Where it looks, in order: the cargo on PATH; $CARGO_HOME/bin; ~/.cargo/bin; under sudo, the
# calling user's ~/.cargo/bin (with that user's ~/.rustup as RUSTUP_HOME, so rustup's proxies find
# their toolchains); /usr/bin (Debian's rustc/cargo or rustc-web/cargo-web). A candidate counts
# only when both `cargo` and `rustc` run and rustc is at least the required version.

GDNAT_RUST_ENV_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# The `rust-version` of the workspace's Cargo.toml (e.g. 1.94).
gdnat_rust_required() {
    sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' "$GDNAT_RUST_ENV_REPO/Cargo.toml" | head -1
}

# gdnat_version_ge A B: true when dotted version A >= B (numeric per part; missing parts are 0).
gdnat_version_ge() {
    local IFS=. i a b
    read -ra a <<<"$1"; read -ra b <<<"$2"
    for ((i = 0; i < 3; i++)); do
        [ "${a[i]:-0}" -gt "${b[i]:-0}" ] 2>/dev/null && return 0
        [ "${a[i]:-0}" -lt "${b[i]:-0}" ] 2>/dev/null && return 1
    done
    return 0
}

# The home folder of the user who called sudo, if any.
gdnat_sudo_home() {
    [ -n "${SUDO_USER:-}" ] || return 1
    local home
    home=$(getent passwd "$SUDO_USER" 2>/dev/null | cut -d: -f6)
    [ -n "$home" ] && [ -d "$home" ] && echo "$home"
}

# Prints "DIR<TAB>RUSTUP_HOME-or-empty" per place where a toolchain may be, best first.
gdnat_rust_candidates() {
    local cargo home
    cargo=$(command -v cargo 2>/dev/null) && printf '%s\t\n' "$(dirname "$cargo")"
    [ -n "${CARGO_HOME:-}" ] && printf '%s\t\n' "$CARGO_HOME/bin"
    [ -n "${HOME:-}" ] && printf '%s\t\n' "$HOME/.cargo/bin"
    if home=$(gdnat_sudo_home); then
        if [ -z "${RUSTUP_HOME:-}" ] && [ -d "$home/.rustup" ]; then
            printf '%s\t%s\n' "$home/.cargo/bin" "$home/.rustup"
        else
            printf '%s\t\n' "$home/.cargo/bin"
        fi
    fi
    printf '%s\t\n' /usr/bin
}

# The version of `rustc` in DIR (with RUSTUP_HOME=$2 when given), e.g. 1.95.0; fails if none runs.
gdnat_rustc_version_in() {
    local dir=$1 rustup_home=$2 out
    [ -x "$dir/cargo" ] && [ -x "$dir/rustc" ] || return 1
    if [ -n "$rustup_home" ]; then
        out=$(RUSTUP_HOME="$rustup_home" timeout 60 "$dir/rustc" --version 2>/dev/null) || return 1
        RUSTUP_HOME="$rustup_home" timeout 60 "$dir/cargo" --version >/dev/null 2>&1 || return 1
    else
        out=$(timeout 60 "$dir/rustc" --version 2>/dev/null) || return 1
        timeout 60 "$dir/cargo" --version >/dev/null 2>&1 || return 1
    fi
    out=${out#rustc }
    echo "${out%% *}"
}

# Finds the first new-enough toolchain and exports PATH (and RUSTUP_HOME when needed).
# Sets GDNAT_RUST_FOUND ("1.95.0 in /root/.cargo/bin") or, when none fits, GDNAT_RUST_SEEN (what
# was found, for the message) and returns 1 without printing.
gdnat_rust_env() {
    local required dir rustup_home version
    required=$(gdnat_rust_required)
    GDNAT_RUST_FOUND="" GDNAT_RUST_SEEN=""
    while IFS=$'\t' read -r dir rustup_home; do
        version=$(gdnat_rustc_version_in "$dir" "$rustup_home") || continue
        if gdnat_version_ge "$version" "${required:-0}"; then
            # First on PATH, also when an older one was found earlier on it.
            hash -r
            [ "$(command -v cargo 2>/dev/null)" = "$dir/cargo" ] || PATH="$dir:$PATH"
            export PATH
            hash -r
            [ -n "$rustup_home" ] && export RUSTUP_HOME="$rustup_home"
            GDNAT_RUST_FOUND="$version in $dir"
            return 0
        fi
        GDNAT_RUST_SEEN="${GDNAT_RUST_SEEN:+$GDNAT_RUST_SEEN, }$version in $dir"
    done < <(gdnat_rust_candidates)
    return 1
}

# One line saying what to install, for scripts that stop when gdnat_rust_env failed.
gdnat_rust_missing_message() {
    echo "gdnat needs Rust >= $(gdnat_rust_required) (rust-version in Cargo.toml), found ${GDNAT_RUST_SEEN:-none}:" \
         "run 'sudo bash tests/setup.sh' (it installs Debian's rustc-web/cargo-web or uses rustup)," \
         "or install it with rustup (rustup.rs)"
}
