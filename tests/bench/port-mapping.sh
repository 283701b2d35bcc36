#!/usr/bin/env bash
# Issue 9's speed rows: the NatPortMapping node on the real-router bed (miniupnpd in
# tests/testbed), beside the engine's best manual path measured in the same run. As root:
#
#   sudo bash tests/bench/port-mapping.sh [--reps N] [--no-build] [--write-docs]
#   tests/bench/port-mapping.sh hook count      (called by the Godot script: router counters)
#
# Per repetition, one fresh headless Godot process per sample, inside the bed's LAN namespace
# (tests/godot/bench/port_mapping_bench.gd):
#   engine      UPNP.new() + discover() + a hand-filled UPNPDevice's add_port_mapping
#   pcp-first   node added -> mapped, empty user:// (the gateway is probed), then in the same
#               process a refresh() -> renewed: the requests the router received (nft counters
#               in its namespace) and the longest frame, beside an idle window's longest frame
#   pcp-second  a new process with the first one's user:// (gateway remembered) -> mapped
#   upnp-first, upnp-second   the same with the router speaking UPnP only (its PCP/NAT-PMP
#               port closed to the game host: ICMP port unreachable, as with enable_natpmp=no)
# The node keeps its defaults (all three protocols allowed), as a game would.
# Prints the table (tests/bench/port_mapping_report.py); --write-docs replaces the section
# "<!-- generated: bash tests/bench/port-mapping.sh -->" of docs/benchmarks.md (through
# tests/docs/generated.py replace). Asserts no timing; exit 1 when a sample could not be taken
# or a mapping was left on the router.
# Env: IGD_PREFIX (bed namespaces), GDNAT_LOGS (logs and the runs' user:// folders, under
# $GDNAT_LOGS/bench-port-mapping), CARGO_TARGET_DIR.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
# shellcheck source=../testbed/common.sh
source "$REPO/tests/testbed/common.sh"
COUNT_TABLE=gdnat_bench_count

# ---- hook: the router's request counters (run from inside the LAN namespace) ----------------
if [ "${1:-}" = hook ]; then
    [ "${2:-}" = count ] || { echo "usage: hook count" >&2; exit 2; }
    rules=$(ip netns exec "$TB_NS_ROUTER" nft list table inet "$COUNT_TABLE" 2>&1) || { echo "nft: $rules"; exit 1; }
    out=""
    for what in pmp http ssdp; do
        n=$(grep -F "comment \"$what\"" <<<"$rules" | grep -o 'packets [0-9]*' | cut -d' ' -f2)
        [ -n "$n" ] || { echo "no counter $what"; exit 1; }
        out+="$what=$n "
    done
    echo "${out% }"
    exit 0
fi

reps=5 build=1 write_docs=0
while [ $# -gt 0 ]; do
    case $1 in
        --reps) reps=$2; shift ;;
        --no-build) build=0 ;;
        --write-docs) write_docs=1 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "port-mapping.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[ "$(id -u)" = 0 ] || { echo "port-mapping.sh: must run as root (network namespaces)" >&2; exit 2; }
LOGS=${GDNAT_LOGS:-/tmp/gdnat-logs}/bench-port-mapping
mkdir -p "$LOGS"
SAMPLES="$LOGS/samples.txt"
META="$LOGS/meta.txt"
: >"$SAMPLES"; : >"$META"
problems=0
say() { echo "port-mapping.sh: $*" >&2; }

if ((build)); then
    bash "$REPO/tests/build.sh" >"$LOGS/build.log" 2>&1 || { say "tests/build.sh failed, see $LOGS/build.log"; exit 1; }
fi
OWN_BED=no
cleanup() {
    ip netns exec "$TB_NS_ROUTER" nft delete table inet "$COUNT_TABLE" 2>/dev/null
    [ "$OWN_BED" = yes ] && bash "$REPO/tests/testbed/testbed.sh" down >/dev/null 2>&1
}
trap cleanup EXIT
if ! tb_is_up; then
    OWN_BED=yes
    bash "$REPO/tests/testbed/testbed.sh" up >"$LOGS/bed.log" 2>&1 || { say "the bed did not come up, see $LOGS/bed.log"; exit 1; }
fi
# Counters of what reaches the router from the game host: PCP/NAT-PMP datagrams, new TCP
# connections to its HTTP port (miniupnpd answers one request per connection, then closes it)
# and SSDP M-SEARCHes.
ip netns exec "$TB_NS_ROUTER" nft -f - <<NFT || { say "cannot load the counter table"; exit 1; }
table inet $COUNT_TABLE {
    chain pre {
        type filter hook prerouting priority -300; policy accept;
        ip saddr $TB_LAN_HOST_IP udp dport 5351 counter comment "pmp"
        ip saddr $TB_LAN_HOST_IP ip daddr $TB_LAN_ROUTER_IP tcp dport $TB_HTTP_PORT tcp flags & (syn | ack) == syn counter comment "http"
        ip saddr $TB_LAN_HOST_IP ip daddr 239.255.255.250 udp dport 1900 counter comment "ssdp"
    }
    # Filled only while the router plays a UPnP-only router (router_pmp off).
    chain in {
        type filter hook input priority -10; policy accept;
    }
}
NFT
# router_pmp on|off: off closes miniupnpd's PCP/NAT-PMP port to the game host, as a router with
# enable_natpmp=no does (nothing listens on UDP 5351: the kernel answers ICMP port unreachable).
router_pmp() {
    ip netns exec "$TB_NS_ROUTER" nft flush chain inet "$COUNT_TABLE" in || return 1
    [ "$1" = on ] || ip netns exec "$TB_NS_ROUTER" nft add rule inet "$COUNT_TABLE" in \
        ip saddr "$TB_LAN_HOST_IP" udp dport 5351 reject with icmp type port-unreachable
}

GODOT=(bash "$REPO/tests/godot/godot.sh" --headless --path "$REPO/godot-project" -s res://tests/bench/port_mapping_bench.gd --)
# run <name> <measure-prefix> <user-data folder> [args...]: one Godot process in the LAN
# namespace; its SAMPLE lines go to $SAMPLES with the measure renamed per <measure-prefix>.
run() {
    local name=$1 suffix=$2 data=$3; shift 3
    local log="$LOGS/$name-$i.log" rc
    XDG_DATA_HOME="$data" ip netns exec "$TB_NS_LAN" timeout --kill-after=5 90 "${GODOT[@]}" "$@" \
        --hook="$HERE/port-mapping.sh" >"$log" 2>&1
    rc=$?
    if [ "$rc" != 0 ] || grep -q '^BENCH-FAIL' "$log"; then
        problems=$((problems + 1))
        say "$name run $i: exit $rc: $(grep -E '^BENCH-FAIL|SCRIPT ERROR' "$log" | head -3 | tr '\n' ' ') (log $log)"
    fi
    grep -h '^INFO ' "$log" | grep -v 'INFO done' | sed "s/^/  $name.$i: /" >&2
    sed -n "s/^SAMPLE \([a-z_]*\) \([0-9.]*\)$/\1 \2/p" "$log" | while read -r measure value; do
        case $measure in
            engine_manual_ms) for m in first_pcp first_upnp second_pcp second_upnp; do echo "SAMPLE $m engine $value"; done ;;
            mapped_ms) echo "SAMPLE $suffix gdnat $value" ;;
            renew_requests) echo "SAMPLE renew_requests_${suffix##*_} gdnat $value" ;;
            renew_frame_max_ms) echo "SAMPLE renew_frame_${suffix##*_} gdnat $value" ;;
            idle_frame_max_ms) echo "SAMPLE renew_frame_${suffix##*_} idle $value" ;;
            renew_work_max_ms) echo "SAMPLE renew_work_${suffix##*_} gdnat $value" ;;
            idle_work_max_ms) echo "SAMPLE renew_work_${suffix##*_} idle $value" ;;
            renew_ms) echo "SAMPLE renew_ms_${suffix##*_} gdnat $value" ;;
        esac
    done >>"$SAMPLES"
}

# probe_line: `gdnat probe` from the game host, one line (each protocol's answer time): why a
# first start takes what it takes (the node's probe is the same core call).
CLI="${CARGO_TARGET_DIR:-$REPO/target}/debug/gdnat"
probe_line() {
    [ -x "$CLI" ] || { echo "no CLI at $CLI"; return; }
    ip netns exec "$TB_NS_LAN" timeout 10 "$CLI" probe 2>&1 | grep -E '^(pcp|natpmp|upnp|probe) ' \
        | awk '{printf "%s%s %s %s %s", (NR > 1 ? "; " : ""), $1, $2, $3, $4}'
}
PROBES=()

started=$(date +%s)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "$reps repetitions; logs in $LOGS"
for i in $(seq 1 "$reps"); do
    for kind in pcp upnp; do
        if [ $kind = pcp ]; then router_pmp on; else router_pmp off; fi || { say "cannot switch the router's PCP port"; exit 1; }
        port=$((7800 + i * 10)); [ $kind = upnp ] && port=$((port + 1))
        data="$LOGS/userdata-$kind-$i"
        case $data in */bench-port-mapping/userdata-*) rm -rf -- "$data" ;; esac
        mkdir -p "$data"
        run "$kind-first" "first_$kind" "$data" --mode=node --port=$port --expect-method=${kind^^} --expect-source=probe --renew=yes
        run "$kind-second" "second_$kind" "$data" --mode=node --port=$port --expect-method=${kind^^} --expect-source=record
        [ "$i" = 1 ] && PROBES+=("gdnat probe ($kind router)=$(probe_line)")
    done
    router_pmp on
    run engine engine "$LOGS/userdata-engine" --mode=engine --port=$((7800 + i * 10 + 2))
done
seconds=$(( $(date +%s) - started ))
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# Every mapping the benchmark made is gone from the router (nft and upnpc -l).
source "$REPO/tests/lib/router-table.sh"
left="?"
if rules=$(gdnat_nft_dnat_rules "$TB_NS_ROUTER") && rows=$(gdnat_upnpc_table "$TB_NS_LAN" "$TB_DESC_URL"); then
    left=$(printf '%s\n%s\n' "$rules" "$rows" | grep -c .)
    [ "$left" = 0 ] || { problems=$((problems + 1)); say "the router still holds $left entries of the benchmark: [$rules] [$rows]"; }
else
    problems=$((problems + 1)); say "cannot read the router's table"
fi

lib="$REPO/addons/gdnat/bin/libgdnat.linux.x86_64.debug.so"
{
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ); gdnat commit $(git -C "$REPO" rev-parse --short HEAD)$(git -C "$REPO" diff --quiet HEAD -- rust 2>/dev/null || echo ' (rust/ has uncommitted changes)'); $reps repetitions; run time $seconds s"
    echo "machine=$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), kernel $(uname -r)"
    echo "load average=$LOAD_BEFORE at the start, $LOAD_AFTER at the end (other work on the machine adds noise)"
    echo "build=debug (tests/build.sh; $(stat -c %s "$lib" 2>/dev/null) bytes); Godot $(bash "$REPO/tests/godot/godot.sh" --headless --version 2>/dev/null | tail -1); miniupnpd $(dpkg-query -W -f='${Version}' miniupnpd-nftables 2>/dev/null) in $TB_NS_ROUTER, game host $TB_LAN_HOST_IP in $TB_NS_LAN"
    echo "main loop=headless, Engine.max_fps = 0, OS.low_processor_usage_mode_sleep_usec = 1000 (an idle frame is about 1 ms)"
    printf '%s\n' "${PROBES[@]}"
    echo "left on the router=$left benchmark entries after the run (nft and upnpc -l)"
} >"$META"
TABLE="$LOGS/section.md"
python3 "$HERE/port_mapping_report.py" "$SAMPLES" "$META" >"$TABLE" || { say "port_mapping_report.py failed"; exit 1; }
cat "$TABLE"
if ((write_docs)); then
    DOC="$REPO/docs/benchmarks.md"
    if ! grep -qx '<!-- generated: bash tests/bench/port-mapping.sh -->' "$DOC"; then
        printf '\n<!-- generated: bash tests/bench/port-mapping.sh -->\n<!-- end generated -->\n' >>"$DOC"
    fi
    python3 "$REPO/tests/docs/generated.py" replace "$DOC" "bash tests/bench/port-mapping.sh" <"$TABLE" || exit 1
    say "wrote the section of docs/benchmarks.md"
fi
[ "$problems" = 0 ] || { say "$problems problem(s) (see above)"; exit 1; }
