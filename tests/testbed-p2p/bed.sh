#!/usr/bin/env bash
# gdnat's two-site bed: two players, each behind its own NAT router, and an "internet" with
# Debian's coturn (STUN, RFC 5780 on two addresses) and Debian's opentracker (BEP 15, whitelist
# build), all in network namespaces on this machine (as root).
#
#   tests/testbed-p2p/bed.sh up [PRESET_A [PRESET_B]]   build it (presets default to home home)
#   tests/testbed-p2p/bed.sh down                       stop our PIDs, delete our namespaces
#   tests/testbed-p2p/bed.sh preset <a|b> <PRESET>      switch a router's NAT (flushes its conntrack)
#   tests/testbed-p2p/bed.sh status                     what is running
#   tests/testbed-p2p/bed.sh verify [--gdnat BIN]       checks (see verify.sh); exit 1 on a FAIL
#   tests/testbed-p2p/bed.sh exec <ns> <cmd...>         run in inet|ra|la|rb|lb
#
#  <p>-p2p-inet  br0 198.18.0.10 + .11/24: coturn :3478/:3479 on both, opentracker udp .10:6969
#     |  ra0 -- wan0 |                 | rb0 -- wan0 |
#  <p>-p2p-ra  wan0 198.18.0.1  lan0 10.81.0.1     <p>-p2p-rb  wan0 198.18.0.2  lan0 10.82.0.1
#     |                                              |
#  <p>-p2p-la  eth0 10.81.0.2 (player A)           <p>-p2p-lb  eth0 10.82.0.2 (player B)
#
# Presets (nat-<name>.nft, loaded only in a router namespace): home (endpoint-independent
# mapping, address-and-port-dependent filtering), fullcone (endpoint-independent mapping and
# filtering), symmetric (masquerade random).
# Env: P2P_PREFIX (else IGD_PREFIX, else igd) -> namespaces <prefix>-p2p-*; P2P_STATE.
#
# Safety: every veth is created inside the namespaces (nothing appears in the root namespace),
# no namespace has a route off its /24s, every networked command runs under `ip netns exec`,
# every wait is bounded, and `down` stops only PIDs recorded here (checked to be inside our
# namespaces), then any leftover inside our namespaces one PID at a time, then the namespaces.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$HERE/common.sh"

say() { echo "p2p-bed: $*"; }
die() { echo "p2p-bed: ERROR: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "must run as root (network namespaces)"; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
record_pid() { echo "$1 $2" >> "$P2P_PIDS"; }   # <name> <pid>

check_tools() {
    local t
    for t in ip nft conntrack turnserver turnutils_natdiscovery opentracker sha1sum ss; do
        command -v "$t" >/dev/null || die "'$t' is missing: run tests/setup.sh"
    done
}

# wait_until <ms> <cmd...>: bounded poll until the command succeeds.
wait_until() {
    local deadline=$(( $(p2p_now_ms) + $1 )); shift
    while [ "$(p2p_now_ms)" -lt "$deadline" ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.02
    done
    return 1
}

valid_preset() { local p; for p in "${P2P_PRESETS[@]}"; do [ "$p" = "$1" ] && return 0; done; return 1; }

router_ns() {
    case "$1" in a|A|ra) echo "$P2P_NS_RA" ;; b|B|rb) echo "$P2P_NS_RB" ;; *) return 1 ;; esac
}

# load_preset <router namespace> <preset>: replaces our NAT table and forgets every flow, so no
# conntrack entry of the old preset shapes the next test.
load_preset() {
    local ns=$1 preset=$2
    valid_preset "$preset" || die "unknown preset '$preset' (one of: ${P2P_PRESETS[*]})"
    nsx "$ns" nft list table ip gdnat_nat >/dev/null 2>&1 && { nsx "$ns" nft delete table ip gdnat_nat || return 1; }
    nsx "$ns" nft -f "$HERE/nat-$preset.nft" || return 1
    # conntrack -F exits 0 also when the table was empty; its stderr line is noise.
    nsx "$ns" conntrack -F >/dev/null 2>&1 || return 1
    echo "$preset" > "$P2P_STATE/preset-$ns"
}

build_topology() {
    local ns dev
    for ns in "${P2P_NAMESPACES[@]}"; do
        ip netns add "$ns" || return 1
        nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 || return 1
        ip -n "$ns" link set lo up || return 1
    done
    ip -n "$P2P_NS_INET" link add br0 type bridge || return 1
    # Router WAN sides on the "internet" bridge; LAN sides to their host. Born in the namespaces.
    ip -n "$P2P_NS_RA" link add wan0 type veth peer name ra0 netns "$P2P_NS_INET" || return 1
    ip -n "$P2P_NS_RB" link add wan0 type veth peer name rb0 netns "$P2P_NS_INET" || return 1
    ip -n "$P2P_NS_RA" link add lan0 type veth peer name eth0 netns "$P2P_NS_LA" || return 1
    ip -n "$P2P_NS_RB" link add lan0 type veth peer name eth0 netns "$P2P_NS_LB" || return 1
    ip -n "$P2P_NS_INET" link set ra0 master br0 && ip -n "$P2P_NS_INET" link set rb0 master br0 || return 1
    ip -n "$P2P_NS_INET" addr add "$P2P_STUN_IP/24" dev br0 &&
    ip -n "$P2P_NS_INET" addr add "$P2P_STUN_IP2/24" dev br0 &&
    ip -n "$P2P_NS_RA" addr add "$P2P_WAN_A/24" dev wan0 &&
    ip -n "$P2P_NS_RB" addr add "$P2P_WAN_B/24" dev wan0 &&
    ip -n "$P2P_NS_RA" addr add "$P2P_LAN_RA/24" dev lan0 &&
    ip -n "$P2P_NS_RB" addr add "$P2P_LAN_RB/24" dev lan0 &&
    ip -n "$P2P_NS_LA" addr add "$P2P_LAN_A/24" dev eth0 &&
    ip -n "$P2P_NS_LB" addr add "$P2P_LAN_B/24" dev eth0 || return 1
    for ns in "${P2P_NAMESPACES[@]}"; do
        for dev in $(ip -n "$ns" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -v '^lo$'); do
            ip -n "$ns" link set "$dev" up || return 1
        done
    done
    nsx "$P2P_NS_RA" sysctl -qw net.ipv4.ip_forward=1 && nsx "$P2P_NS_RB" sysctl -qw net.ipv4.ip_forward=1 || return 1
    # Only the LAN hosts have a default route, and it ends at their router (which has none:
    # 198.18.0.0/24 is on-link). Nothing can leave the bed.
    ip -n "$P2P_NS_LA" route add default via "$P2P_LAN_RA" &&
    ip -n "$P2P_NS_LB" route add default via "$P2P_LAN_RB" || return 1
}

coturn_listening() {
    local socks a p; socks=$(nsx "$P2P_NS_INET" ss -Hlun) || return 1
    for a in "$P2P_STUN_IP" "$P2P_STUN_IP2"; do
        for p in "$P2P_STUN_PORT" "$P2P_STUN_ALT_PORT"; do grep -q "$a:$p " <<<"$socks" || return 1; done
    done
}
tracker_listening() { nsx "$P2P_NS_INET" ss -Hlun | grep -q "$P2P_STUN_IP:$P2P_TRACKER_PORT "; }

start_coturn() {
    cp "$HERE/turnserver.conf" "$P2P_STATE/turnserver.conf"
    # A plain `ip netns exec` (not a shell function) so that $! is the daemon itself.
    ip netns exec "$P2P_NS_INET" turnserver -c "$P2P_STATE/turnserver.conf" -l "$P2P_STATE/turnserver.log" \
        --pidfile "$P2P_STATE/turnserver.pid" --db "$P2P_STATE/turndb" </dev/null >"$P2P_STATE/turnserver.out" 2>&1 &
    record_pid turnserver $!
}

start_opentracker() {
    # opentracker chroots to -d and drops to `nobody` BEFORE it reads the whitelist, so the
    # list lives inside that folder (world-readable) and -w is relative to it.
    local dir="$P2P_STATE/tracker"
    mkdir -p "$dir" && chmod 755 "$P2P_STATE" "$dir" || return 1
    p2p_room_hash > "$dir/whitelist.txt" && chmod 644 "$dir/whitelist.txt" || return 1
    ip netns exec "$P2P_NS_INET" opentracker -i "$P2P_STUN_IP" -P "$P2P_TRACKER_PORT" -d "$dir" -w whitelist.txt \
        </dev/null >"$P2P_STATE/opentracker.log" 2>&1 &
    record_pid opentracker $!
}

cmd_up() {
    need_root; check_tools
    local preset_a=${1:-home} preset_b=${2:-home} ns
    valid_preset "$preset_a" && valid_preset "$preset_b" || die "presets: ${P2P_PRESETS[*]}"
    if p2p_is_up && [ -f "$P2P_MARKER" ]; then
        say "already up; setting presets $preset_a/$preset_b"
        load_preset "$P2P_NS_RA" "$preset_a" && load_preset "$P2P_NS_RB" "$preset_b" || die "loading presets failed"
        return 0
    fi
    for ns in "${P2P_NAMESPACES[@]}"; do
        if p2p_ns_exists "$ns"; then
            [ -f "$P2P_MARKER" ] || die "namespace $ns exists but is not ours (no $P2P_MARKER); set P2P_PREFIX"
            say "half-up bed found; taking it down first"
            cmd_down; break
        fi
    done
    if [ -e "$P2P_STATE" ]; then
        [ -f "$P2P_MARKER" ] || die "$P2P_STATE exists without our marker; not touching it (set P2P_STATE)"
        rm -rf --one-file-system "$P2P_STATE"
    fi
    mkdir -p "$P2P_STATE" && echo "gdnat p2p bed $P2P_BASE" > "$P2P_MARKER" && : > "$P2P_PIDS" || die "cannot create $P2P_STATE"

    local t0 t_topo t_ready
    t0=$(p2p_now_ms)
    trap 'echo "p2p-bed: up failed, cleaning up" >&2; cmd_down >&2' EXIT
    build_topology || die "building the namespaces failed"
    load_preset "$P2P_NS_RA" "$preset_a" && load_preset "$P2P_NS_RB" "$preset_b" || die "loading the NAT presets failed"
    t_topo=$(p2p_now_ms)
    start_coturn
    start_opentracker || die "preparing opentracker failed"
    wait_until 5000 coturn_listening || die "coturn does not listen on both addresses and ports (see $P2P_STATE/turnserver.log)"
    wait_until 5000 tracker_listening || die "opentracker does not listen on udp $P2P_STUN_IP:$P2P_TRACKER_PORT (see $P2P_STATE/opentracker.log)"
    t_ready=$(p2p_now_ms)
    local name pid
    while read -r name pid; do p2p_pid_alive "$pid" || die "$name ($pid) exited"; done < "$P2P_PIDS"
    trap - EXIT
    say "up in $(( t_ready - t0 )) ms (namespaces+nft $(( t_topo - t0 )) ms, daemons $(( t_ready - t_topo )) ms); presets A=$preset_a B=$preset_b"
    say "STUN $P2P_STUN_IP:$P2P_STUN_PORT (alt $P2P_STUN_IP2:$P2P_STUN_ALT_PORT), tracker udp://$P2P_STUN_IP:$P2P_TRACKER_PORT, room '$P2P_ROOM' = $(p2p_room_hash)"
}

# stop_pid <name> <pid>: TERM, up to 3 s, then KILL.
stop_pid() {
    local name=$1 pid=$2 i
    p2p_pid_alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 60; i++)); do p2p_pid_alive "$pid" || { say "stopped $name ($pid)"; return 0; }; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null
    say "killed $name ($pid)"
}

cmd_down() {
    need_root
    local name pid ns leftover
    if [ -f "$P2P_PIDS" ]; then
        while read -r name pid; do
            [ -n "$pid" ] && p2p_pid_alive "$pid" || continue
            if p2p_pid_in_our_ns "$pid"; then stop_pid "$name" "$pid"
            else say "recorded $name PID $pid is not in our namespaces any more; left alone"; fi
        done < "$P2P_PIDS"
        : > "$P2P_PIDS"
    fi
    for ns in "${P2P_NAMESPACES[@]}"; do
        p2p_ns_exists "$ns" || continue
        for leftover in $(ip netns pids "$ns" 2>/dev/null); do
            p2p_pid_alive "$leftover" || continue
            stop_pid "leftover $(cat "/proc/$leftover/comm" 2>/dev/null) in $ns" "$leftover"
        done
        ip netns del "$ns" && say "deleted namespace $ns"
    done
    return 0
}

cmd_preset() {
    need_root
    [ $# = 2 ] || die "usage: $0 preset <a|b> <${P2P_PRESETS[*]// /|}>"
    local ns; ns=$(router_ns "$1") || die "router must be a or b"
    p2p_ns_exists "$ns" || die "bed is not up"
    load_preset "$ns" "$2" || die "loading preset $2 into $ns failed"
    say "router $1 ($ns): preset $2"
}

cmd_status() {
    local ns name pid any=no
    for ns in "${P2P_NAMESPACES[@]}"; do
        if p2p_ns_exists "$ns"; then any=yes; echo "namespace $ns up $(cat "$P2P_STATE/preset-$ns" 2>/dev/null)"
        else echo "namespace $ns absent"; fi
    done
    [ "$any" = yes ] || { echo "status down"; return 1; }
    if [ -f "$P2P_PIDS" ]; then
        while read -r name pid; do
            p2p_pid_alive "$pid" && echo "process $name pid=$pid running" || echo "process $name pid=$pid dead"
        done < "$P2P_PIDS"
    fi
    p2p_is_up && echo "status up" || echo "status partial"
}

cmd_exec() {
    need_root
    [ $# -ge 2 ] || die "usage: $0 exec <inet|ra|la|rb|lb> <cmd...>"
    local ns; ns=$(p2p_ns "$1"); shift
    case " ${P2P_NAMESPACES[*]} " in *" $ns "*) ;; *) die "not one of our namespaces: $ns" ;; esac
    p2p_ns_exists "$ns" || die "namespace $ns is not up ($0 up)"
    exec ip netns exec "$ns" "$@"
}

case "${1:-}" in
    up) shift; cmd_up "$@" ;;
    down) cmd_down ;;
    preset) shift; cmd_preset "$@" ;;
    status) cmd_status ;;
    verify) shift; exec bash "$HERE/verify.sh" "$@" ;;
    exec) shift; cmd_exec "$@" ;;
    *) sed -n '2,28p' "$0" >&2; exit 2 ;;
esac
