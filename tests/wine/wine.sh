#!/usr/bin/env bash
# Runs Windows programs under Wine 10 from the cached sid root (tests/wine/provision.sh), as root,
# in the CURRENT network namespace (Wine creates its sockets in the wineserver, so the server must
# be started in the namespace the program should use: `ip netns exec NS tests/wine/wine.sh ...`).
#
#   tests/wine/wine.sh run PROGRAM.exe [ARGS...]   run one program; its exit code is returned
#   tests/wine/wine.sh server-start                start a persistent wineserver here; prints its PID
#   tests/wine/wine.sh server-stop PID             stop that server (and its Wine processes) by PID
#
# Each call runs in a private mount namespace: /proc and /dev are mounted into the root and the
# work tree (and CARGO_TARGET_DIR, and the program's folder) are bind-mounted at the same paths,
# so Unix paths are the same inside; nothing stays mounted when the call ends. The server keeps
# its own mount namespace while it lives.
#
# Env:
#   GDNAT_CACHE        cache folder (default $HOME/.cache/gdnat); the root is $GDNAT_CACHE/wine-sid
#   GDNAT_WINE_PREFIX  name of the Wine prefix (default: $IGD_PREFIX or "default"): each name has
#                      its own prefix and so its own wineserver; made from the provisioned
#                      template on first use (the root's /var/lib/gdnat-wine/NAME)
#   WINEDEBUG          passed on (default -all)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${GDNAT_CACHE:-$HOME/.cache/gdnat}"
ROOT="$CACHE/wine-sid"
NAME="${GDNAT_WINE_PREFIX:-${IGD_PREFIX:-default}}"
PREFIX_IN_ROOT="/var/lib/gdnat-wine/$NAME"
WINESERVER=/usr/lib/x86_64-linux-gnu/wine/wineserver   # Debian installs it outside PATH

die() { echo "wine.sh: ERROR: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (chroot)"
[ -f "$ROOT/.gdnat-wine-provisioned" ] || die "no provisioned Wine root at $ROOT: run tests/wine/provision.sh"
case "$NAME" in ''|*/*|.*) die "bad GDNAT_WINE_PREFIX '$NAME'" ;; esac

# The prefix: a copy of the template made by provision.sh, once per name.
if [ ! -f "$ROOT$PREFIX_IN_ROOT/.gdnat-prefix" ]; then
    rm -rf "$ROOT$PREFIX_IN_ROOT.new.$$"
    mkdir -p "$ROOT/var/lib/gdnat-wine"
    [ -f "$ROOT/root/.wine-template/system.reg" ] || die "no template prefix: run tests/wine/provision.sh"
    # Hard links for the 1.2 GB of Windows DLLs (never written), real copies of the registry
    # files (the wineserver rewrites them).
    cp -al "$ROOT/root/.wine-template" "$ROOT$PREFIX_IN_ROOT.new.$$"
    for reg in "$ROOT$PREFIX_IN_ROOT.new.$$"/*.reg; do cp --remove-destination "$ROOT/root/.wine-template/${reg##*/}" "$reg"; done
    touch "$ROOT$PREFIX_IN_ROOT.new.$$/.gdnat-prefix"
    rm -rf "$ROOT$PREFIX_IN_ROOT"
    mv "$ROOT$PREFIX_IN_ROOT.new.$$" "$ROOT$PREFIX_IN_ROOT"
fi

# Network safety: Wine programs run only in a test namespace (never the machine's own), and the
# wineserver of this prefix, where Wine creates the sockets, must be in the same namespace.
require_test_netns() {
    # shellcheck source=../lib/netns-guard.sh
    source "$REPO/tests/lib/netns-guard.sh"
    gdnat_require_netns || die "refusing to run Wine in the machine's own network namespace"
    local pid
    for pid in $(pgrep -f "^$WINESERVER" 2>/dev/null || true); do
        local environ
        environ=$(tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null) || continue
        grep -qx "WINEPREFIX=$PREFIX_IN_ROOT" <<<"$environ" || continue
        [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" = "$OUR_NETNS" ] \
            || die "the wineserver of prefix $NAME (pid $pid) runs in another network namespace"
    done
}
OUR_NETNS=$(readlink /proc/self/ns/net)

# Folders visible inside the root at their own paths.
BINDS=("$REPO")
[ -n "${CARGO_TARGET_DIR:-}" ] && BINDS+=("$(cd "$CARGO_TARGET_DIR" && pwd)")

# in_root CMD...: exec CMD inside the root (private mount namespace, same PID).
in_root() {
    local binds_text
    binds_text=$(printf '%s\n' "${BINDS[@]}")
    exec unshare --mount --propagation private -- bash -c '
        root=$1; shift; binds=$1; shift
        mount -t proc proc "$root/proc" || exit 125
        mount --rbind /dev "$root/dev" || exit 125
        while IFS= read -r dir; do
            [ -n "$dir" ] && [ -d "$dir" ] || continue
            mkdir -p "$root$dir" && mount --bind "$dir" "$root$dir" || exit 125
        done <<<"$binds"
        cwd=$PWD; [ -d "$root$cwd" ] || cwd=/
        exec chroot "$root" /usr/bin/env -C "$cwd" "$@"
    ' in-root "$ROOT" "$binds_text" \
        HOME=/root USER=root PATH=/usr/local/bin:/usr/bin:/bin WINEPREFIX="$PREFIX_IN_ROOT" WINESERVER="$WINESERVER" \
        WINEDEBUG="${WINEDEBUG:--all}" WINEDLLOVERRIDES="mscoree,mshtml=" LANG=C.UTF-8 \
        GDNAT_ROOT_NETNS="${GDNAT_ROOT_NETNS:-}" GDNAT_ISOLATED_BY="tests/wine/wine.sh $OUR_NETNS" RUST_BACKTRACE="${RUST_BACKTRACE:-0}" \
        ${GDNAT_WINE_ENV:-} "$@"
}

# The socket of this prefix's server: <tmp dir of the uid>/server-<dev>-<inode of the prefix>/socket
# (Debian's Wine 10 keeps it in /tmp/wine-XXXXXX of the root; upstream in /tmp/.wine-0).
server_socket_exists() {
    local name
    name=$(printf 'server-%x-%x' "0x$(stat -c %D "$ROOT$PREFIX_IN_ROOT")" "$(stat -c %i "$ROOT$PREFIX_IN_ROOT")")
    compgen -G "$ROOT/tmp/*wine*/$name/socket" >/dev/null
}

cmd=${1:-}; shift || true
case "$cmd" in
    run)
        [ $# -ge 1 ] || die "run needs a program"
        program=$1; shift
        require_test_netns
        [ -f "$program" ] || die "no program $program"
        program=$(cd "$(dirname "$program")" && pwd)/$(basename "$program")
        case "$(dirname "$program")/" in
            "$REPO"/*|"${CARGO_TARGET_DIR:-$REPO}"/*) ;;
            /usr/*|/bin/*|/sbin/*|/lib*|/etc/*|/proc/*|/sys/*|/dev/*|/var/*|/root/|/) die "refusing to bind system folder $(dirname "$program") into the root" ;;
            *) BINDS+=("$(dirname "$program")") ;;
        esac
        in_root wine "$program" "$@"
        ;;
    server-start)
        # -f: stays in the foreground, so the PID we print is the server's own (the unshare,
        # bash and chroot above it exec into it); -p: persistent until stopped.
        require_test_netns
        log="${GDNAT_LOGS:-/tmp}/wineserver-$NAME.log"
        ( in_root "$WINESERVER" -f -p ) >"$log" 2>&1 </dev/null &
        pid=$!
        # Ready when the server's socket exists (bounded wait).
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || die "wineserver exited at once (log $log)"
            if server_socket_exists; then
                case "$(readlink "/proc/$pid/exe" 2>/dev/null)" in
                    */wineserver*)
                        # Warm-up: the first Wine program starts the prefix's services
                        # (services.exe, winedevice.exe, ...), which live as long as the server
                        # and keep the first program's stdout open; started here with the log as
                        # output, they never hold a caller's pipe or $(...) open.
                        ( in_root timeout 120 wine cmd.exe /c exit 0 ) >>"$log" 2>&1 </dev/null \
                            || { kill "$pid"; die "Wine's first program failed in the new server (log $log)"; }
                        echo "$pid"; exit 0 ;;
                esac
            fi
            sleep 0.1
        done
        kill "$pid" 2>/dev/null || true
        die "wineserver did not come up within 10 s (log $log)"
        ;;
    server-stop)
        pid=${1:-}
        [[ $pid =~ ^[0-9]+$ ]] || die "server-stop needs the PID from server-start"
        case "$(readlink "/proc/$pid/exe" 2>/dev/null)" in
            */wineserver*) ;;
            "") exit 0 ;;   # already gone
            *) die "PID $pid is not a wineserver" ;;
        esac
        # Ask the server to end its Wine processes (wineserver -k), then end the server by PID.
        ( in_root timeout 10 "$WINESERVER" -k ) >/dev/null 2>&1 || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        ;;
    *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
