#!/usr/bin/env bash
# gdnat benchmarks: the engine's built-in UPNP/UPNPDevice against gdnat (core CLI and the
# Godot classes NatUPNP/NatUPNPDevice), measured in the same run on the real-router test bed.
# Prints numbers (median, min-max, ratio ours/engine); asserts no timing.
#
#   sudo bash tests/bench/run.sh [--build] [--quick] [--reps N] [--sides engine|ours|engine,ours] [--no-write]
#
#   --build     run tests/build.sh --release first (measure the current code's release build)
#   --quick     1-2 repetitions, 20 mapping ports, 100 pairs in 2 queued rounds (a smoke run, about a minute)
#   --reps N    repetitions of each discovery/frame/first-map measurement (default 5, no router 3)
#   --sides S   which Godot sides to run (default engine,ours; ours is skipped if not built)
#   --no-write  print the table only, leave docs/benchmarks.md alone
#
# Needs root (network namespaces). Assumes tests/setup.sh and tests/build.sh ran; runs them
# when Godot or the addon/CLI is missing. Brings the test bed up if it is down, and down again
# at the end if it started it. Every Godot/CLI measurement runs inside the bed's LAN namespace
# (router present) or a fresh isolated namespace (tests/lib/isolated.sh: no router, nothing
# leaves the machine); nothing discovers from the machine's own namespace.
# Every mapping made is deleted; the router's table is checked at the end.
# Env: IGD_PREFIX (test-bed namespace prefix, default igd), CARGO_TARGET_DIR, GDNAT_BENCH_KEEP=1
# (keep the temporary project and raw samples).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT_DIR=$PWD

QUICK=0
BUILD=0
REPS=5
REPS_NONE=3
PORTS=200
PAIRS=1000
PAIR_REPS=5
SIDES=engine,ours
WRITE=1
while [ $# -gt 0 ]; do
    case $1 in
        --build) BUILD=1 ;;
        --quick) QUICK=1; REPS=2; REPS_NONE=1; PORTS=20; PAIRS=100; PAIR_REPS=2 ;;
        --reps) REPS=$2; REPS_NONE=$2; shift ;;
        --sides) SIDES=$2; shift ;;
        --no-write) WRITE=0 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

say() { echo "bench: $*" >&2; }
die() { echo "bench: ERROR: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces); run it with sudo"

PREFIX="${IGD_PREFIX:-igd}"
LAN_NS="$PREFIX-lan"
DESC_URL="http://10.77.0.1:5000/rootDesc.xml"
CONTROL_URL="http://10.77.0.1:5000/ctl/IPConn"
GODOT="$ROOT_DIR/tests/godot/godot.sh"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT_DIR/target}"
ADDON_SRC="$ROOT_DIR/godot-project/addons/gdnat"

WORK=$(mktemp -d /tmp/gdnat-bench.XXXXXX)
SAMPLES="$WORK/samples.txt"
META="$WORK/meta.txt"
LOG="$WORK/log.txt"
: > "$SAMPLES"; : > "$META"; : > "$LOG"
STARTED_BED=0
FAILURES=0

cleanup() {
    if [ "$STARTED_BED" = 1 ]; then
        say "taking the test bed down (we started it)"
        IGD_PREFIX=$PREFIX bash tests/testbed/testbed.sh down >> "$LOG" 2>&1 || true
    fi
    if [ "${GDNAT_BENCH_KEEP:-0}" = 1 ]; then
        say "kept $WORK"
    else
        rm -rf --one-file-system "$WORK"
    fi
}
trap cleanup EXIT

meta() { echo "$1=$2" >> "$META"; }

# --- prerequisites ------------------------------------------------------------------------
if ! timeout 60 bash "$GODOT" --headless --version > "$WORK/godot-version" 2>/dev/null; then
    say "Godot is missing: running tests/setup.sh"
    bash tests/setup.sh >&2 || die "tests/setup.sh failed"
    timeout 60 bash "$GODOT" --headless --version > "$WORK/godot-version" 2>/dev/null \
        || die "Godot still does not start"
fi
GODOT_VERSION=$(tail -1 "$WORK/godot-version")

if [ "$BUILD" = 1 ]; then
    say "tests/build.sh --release"
    bash tests/build.sh --release >&2 || die "tests/build.sh --release failed"
fi

# The CLI: release build if there is one.
CLI=""
for c in "$TARGET_DIR/release/gdnat" "$TARGET_DIR/debug/gdnat"; do
    [ -x "$c" ] && { CLI=$c; break; }
done
gdext_file() { ls "$ADDON_SRC"/*.gdextension 2>/dev/null | head -1; }
if [ -z "$CLI" ] || [ -z "$(gdext_file)" ]; then
    if [ -f tests/build.sh ]; then
        say "addon or CLI missing: running tests/build.sh --release"
        bash tests/build.sh --release >&2 || say "tests/build.sh failed; measuring what exists"
        for c in "$TARGET_DIR/release/gdnat" "$TARGET_DIR/debug/gdnat"; do
            [ -x "$c" ] && { CLI=$c; break; }
        done
    else
        say "tests/build.sh is missing; measuring what exists"
    fi
fi

# --- a private copy of the project that loads the chosen build ----------------------------
# The editor binary run with -s uses the `debug` feature tag, so every linux x86_64 key of the
# copied .gdextension is pointed at one library: the release one when the addon has it.
PROJ="$WORK/project"
mkdir -p "$PROJ/bench" "$PROJ/.godot"
printf 'config_version=5\n\n[application]\n\nconfig/name="gdnat-bench"\n' > "$PROJ/project.godot"
cp tests/bench/godot/*.gd "$PROJ/bench/"
LIB_USED=none
GDEXT=$(gdext_file)
if [ -n "$GDEXT" ]; then
    mkdir -p "$PROJ/addons"
    cp -rp "$ADDON_SRC" "$PROJ/addons/gdnat"
    GDEXT_NAME=$(basename "$GDEXT")
    # Value of <key> in the .gdextension as a file in the copied project (res:// or relative).
    lib_for_key() {
        local v
        v=$(sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\"\(.*\)\"/\1/p" "$GDEXT" | head -1)
        [ -n "$v" ] || return 0
        case $v in
            res://*) echo "$PROJ/${v#res://}" ;;
            *) echo "$PROJ/addons/gdnat/$v" ;;
        esac
    }
    # Newest existing file of: the repository's addon folder and cargo's output; else the
    # project copy (tests/build.sh copies it without keeping the date).
    newest_of() {
        local best="" c
        for c in "$@"; do
            [ -f "$c" ] || continue
            if [ -z "$best" ] || [ "$c" -nt "$best" ]; then best=$c; fi
        done
        echo "$best"
    }
    candidates() {   # <kind> <path of the key's file in the copied project>
        local n
        n=$(newest_of "$ROOT_DIR/addons/gdnat/${2#"$PROJ"/addons/gdnat/}" "$TARGET_DIR/$1/libgdnat.so")
        [ -n "$n" ] || n=$(newest_of "$2")
        echo "$n"
    }
    CHOSEN=""
    ORIGIN=""
    BUILD_KIND=""
    DEBUG_KEY_FILE=""
    for kind in release debug; do
        f=$(lib_for_key "linux.$kind.x86_64")
        [ -z "$f" ] && f=$(lib_for_key "linux.$kind")
        [ -z "$f" ] && continue
        [ "$kind" = debug ] && DEBUG_KEY_FILE=$f
        [ -n "$CHOSEN" ] && continue
        src=$(candidates "$kind" "$f")
        [ -n "$src" ] || continue
        mkdir -p "$(dirname "$f")"
        [ "$src" = "$f" ] || cp -p "$src" "$f"
        CHOSEN=$f; ORIGIN=$src; BUILD_KIND=$kind
    done
    if [ -n "$CHOSEN" ]; then
        rel="res://${CHOSEN#"$PROJ"/}"
        sed -i -E "s|^([[:space:]]*linux[.a-z_0-9]*[[:space:]]*=[[:space:]]*).*|\1\"$rel\"|" \
            "$PROJ/addons/gdnat/$GDEXT_NAME"
        echo "res://addons/gdnat/$GDEXT_NAME" > "$PROJ/.godot/extension_list.cfg"
        STALE=""
        if [ "$BUILD_KIND" = release ] && [ "$BUILD" = 1 ]; then
            # --build ran cargo for the release build: it is the current code even when cargo
            # had nothing to rebuild (its file may then be older than a later debug build).
            STALE=" (built from the current sources by --build)"
        elif [ "$BUILD_KIND" = release ] && [ -n "$DEBUG_KEY_FILE" ]; then
            # Say so when a debug build is newer: the release library may be stale.
            d=$(candidates debug "$DEBUG_KEY_FILE")
            if [ -n "$d" ] && [ "$d" -nt "$ORIGIN" ]; then
                STALE=" - WARNING: older than the debug build ${d#"$ROOT_DIR"/} ($(date -u -r "$d" +%Y-%m-%dT%H:%M:%SZ)); run with --build for current numbers"
                say "the release library is older than ${d#"$ROOT_DIR"/}; run with --build for current numbers"
            fi
        fi
        LIB_USED="$BUILD_KIND (${ORIGIN#"$ROOT_DIR"/}, $(stat -c %s "$CHOSEN") bytes, file dated $(date -u -r "$ORIGIN" +%Y-%m-%dT%H:%M:%SZ))$STALE"
    fi
fi
say "library measured: $LIB_USED; CLI: ${CLI:-none}"

# --- test bed -----------------------------------------------------------------------------
bed_up() { for s in wan router lan; do ip netns list | awk '{print $1}' | grep -qx "$PREFIX-$s" || return 1; done; }
if ! bed_up; then
    say "bringing the test bed up"
    IGD_PREFIX=$PREFIX bash tests/testbed/testbed.sh up >> "$LOG" 2>&1 || { tail -20 "$LOG" >&2; die "test bed did not come up"; }
    STARTED_BED=1
fi

in_lan() { ip netns exec "$LAN_NS" "$@"; }
# A fresh namespace with only loopback (multicast on): nothing answers, nothing leaves.
isolated() {
    if [ -f tests/lib/isolated.sh ]; then
        bash tests/lib/isolated.sh "$@"
    else
        unshare --net bash -c 'ip link set lo up && ip link set lo multicast on &&
            ip route add 239.0.0.0/8 dev lo && exec "$@"' isolated "$@"
    fi
}

# run_godot <where: lan|isolated> <group> [bench args...]: appends SAMPLE/INFO lines.
run_godot() {
    local where=$1 group=$2; shift 2
    local out="$WORK/godot-$group.out" rc
    say "godot group $group ($where)"
    local cmd=(timeout --kill-after=10 300 bash "$GODOT" --headless --path "$PROJ" -s res://bench/bench.gd --
               "--group=$group" "--sides=$SIDES" "--control-url=$CONTROL_URL" "$@")
    if [ "$where" = lan ]; then in_lan "${cmd[@]}" > "$out" 2>&1; else isolated "${cmd[@]}" > "$out" 2>&1; fi
    rc=$?
    grep -E '^(SAMPLE|INFO|WARN) ' "$out" | grep -v '^INFO \(group\|godot\|sides\|done\)' >> "$LOG"
    grep '^SAMPLE ' "$out" >> "$SAMPLES"
    grep '^WARN ' "$out" | sed 's/^/bench: /' >&2
    if [ $rc -ne 0 ]; then
        FAILURES=$((FAILURES + 1))
        say "group $group exited with $rc (output: $out)"
        tail -15 "$out" | sed 's/^/    /' >&2
    fi
    grep -h '^INFO \(max_fps\|frame_sleep_usec\|gdnat_loaded\)' "$out" | head -3 > "$WORK/godot-info" || true
}

# run_cli <where> <measure> <reps> [discover args...]: wall time of `gdnat discover` measured
# inside the namespace (no `ip netns exec` start-up cost), plus the time the CLI reports.
run_cli() {
    local where=$1 measure=$2 n=$3; shift 3
    [ -n "$CLI" ] || return 0
    say "CLI gdnat discover $* x$n ($where)"
    local script='cli=$1; n=$2; measure=$3; shift 3
        for i in $(seq 1 "$n"); do
            t0=$EPOCHREALTIME
            out=$(timeout 15 "$cli" discover "$@" 2>&1); rc=$?
            t1=$EPOCHREALTIME
            echo "SAMPLE $measure cli-wall $(awk -v a="$t0" -v b="$t1" "BEGIN{printf \"%.3f\", (b-a)*1000}")"
            r=$(sed -n "s/^discovered [0-9]* in \([0-9.]*\) ms.*/\1/p" <<<"$out")
            [ -n "$r" ] && echo "SAMPLE $measure cli-reported $r"
            echo "INFO cli.$measure.$i rc=$rc $(tr "\n" " " <<<"$out" | cut -c1-300)"
        done'
    local out="$WORK/cli-$measure.out"
    if [ "$where" = lan ]; then
        in_lan timeout 120 bash -c "$script" cli "$CLI" "$n" "$measure" "$@" > "$out" 2>&1
    else
        isolated timeout 120 bash -c "$script" cli "$CLI" "$n" "$measure" "$@" > "$out" 2>&1
    fi
    grep '^SAMPLE ' "$out" >> "$SAMPLES"
    grep '^INFO ' "$out" >> "$LOG"
}

T_START=$SECONDS
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
# Router present.
run_cli lan discover_router_ms "$REPS"
run_godot lan router-discovery "--reps=$REPS"
run_godot lan mapping "--ports=$PORTS"
run_godot lan frames "--reps=$REPS"
run_godot lan first-map "--reps=$REPS"
run_godot lan pairs "--pairs=$PAIRS" "--pair-reps=$PAIR_REPS"
# No router.
run_cli isolated discover_none_2000_ms "$REPS_NONE" --timeout 2000
run_cli isolated discover_none_500_ms "$REPS_NONE" --timeout 500
run_godot isolated no-router "--reps=$REPS_NONE"
ELAPSED=$((SECONDS - T_START))
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --- every mapping we made is gone ----------------------------------------------------------
# (tests/lib/router-table.sh: a failed or cut-off upnpc listing is a failure, not "none left")
source tests/lib/router-table.sh
if ! TABLE_NOW=$(gdnat_upnpc_table "$LAN_NS" "$DESC_URL" 2>&1); then
    say "cannot read the router's table: $TABLE_NOW"
    FAILURES=$((FAILURES + 1))
fi
LEFT=$(grep -c "gdnat-bench" <<<"$TABLE_NOW")
if [ "${LEFT:-0}" -gt 0 ]; then
    say "$LEFT gdnat-bench mappings were left on the router: deleting them"
    in_lan timeout 30 upnpc -i -u "$DESC_URL" -l 2>/dev/null | grep gdnat-bench \
        | sed -n -E 's/^ *[0-9]+ +(TCP|UDP) +([0-9]+)->.*/\2 \1/p' | while read -r port proto; do
            in_lan timeout 10 upnpc -i -u "$DESC_URL" -d "$port" "$proto" > /dev/null 2>&1
        done
    FAILURES=$((FAILURES + 1))
fi
LEFT_AFTER=$(in_lan timeout 30 upnpc -i -u "$DESC_URL" -l 2>/dev/null | grep -c "gdnat-bench")
LEFT_CLI="-"
if [ -n "$CLI" ]; then
    LEFT_CLI=$(in_lan timeout 30 "$CLI" list --url "$DESC_URL" 2>/dev/null | grep -c "desc=gdnat-bench")
fi
say "router mappings left by the benchmark: ${LEFT:-0} before clean-up, ${LEFT_AFTER:-0} after (upnpc -l); gdnat list: $LEFT_CLI"

# --- the table ------------------------------------------------------------------------------
meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta machine "$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), kernel $(uname -r)"
meta "load average" "$LOAD_BEFORE at the start, $LOAD_AFTER at the end (other work on the machine adds noise)"
meta "Godot" "$GODOT_VERSION (engine UPNP: its bundled miniupnpc)"
meta "gdnat build measured" "$LIB_USED; CLI ${CLI#"$ROOT_DIR"/}"
meta "gdnat commit" "$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- rust 2>/dev/null || echo ' (rust/ has uncommitted changes)')"
meta router "miniupnpd $(dpkg-query -W -f='${Version}' miniupnpd-nftables 2>/dev/null) in the test bed ($PREFIX-router), client in $PREFIX-lan"
meta "main loop" "headless SceneTree, $(sed -n 's/^INFO max_fps /Engine.max_fps = /p' "$WORK/godot-info"), $(sed -n 's/^INFO frame_sleep_usec /OS.low_processor_usage_mode_sleep_usec = /p' "$WORK/godot-info")"
meta repetitions "$REPS with the router, $REPS_NONE without; $PORTS ports per call measure; $PAIRS pairs ($PAIR_REPS queued rounds)"
meta "run time" "$ELAPSED s; gdnat-bench mappings left on the router: ${LEFT_AFTER:-?} (upnpc -l), $LEFT_CLI (gdnat list)"

TABLE="$WORK/table.md"
python3 tests/bench/report.py "$SAMPLES" "$META" > "$TABLE" || die "report.py failed"
cat "$TABLE"

if [ "$WRITE" = 1 ]; then
    # Sections written by other commands (between "<!-- generated: bash tests/bench/X.sh -->"
    # and "<!-- end generated -->", e.g. tests/bench/cancellation.sh) are kept as they are.
    OTHERS="$WORK/other-sections.md"
    sed -n '/^<!-- generated: bash tests\/bench\/[a-z0-9_-]*\.sh -->$/,/^<!-- end generated -->$/p' docs/benchmarks.md > "$OTHERS" 2>/dev/null || : > "$OTHERS"
    {
        echo "# Benchmarks: gdnat vs the engine's built-in UPNP"
        echo
        echo "Written by \`sudo bash tests/bench/run.sh\` (do not edit by hand). Both sides run in the"
        echo "same run, on the same machine, against the same real router (miniupnpd in the test bed)."
        echo "Times in ms unless the row says otherwise; median (min–max, n samples); the ratio is"
        echo "ours/engine of the medians. The goal column restates each issue's target; nothing here is"
        echo "asserted by the test suites."
        echo
        # The generated section: its format is checked in CI (tests/docs/generated.py).
        echo "<!-- generated: sudo bash tests/bench/run.sh -->"
        cat "$TABLE"
        echo "<!-- end generated -->"
        echo
        cat tests/bench/notes.md
        if [ -s "$OTHERS" ]; then echo; cat "$OTHERS"; fi
    } > docs/benchmarks.md
    say "wrote docs/benchmarks.md"
fi

if [ "$FAILURES" -gt 0 ]; then
    say "$FAILURES problems: failed measurement groups or mappings left behind (see above)"
    exit 1
fi
exit 0
