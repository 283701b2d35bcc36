#!/usr/bin/env bash
# gdnat's real-router test bed: Debian's miniupnpd as a NAT router between two network
# namespaces, all on this machine (as root).
#
#   tests/testbed/testbed.sh install          apt packages (via tests/setup.sh --no-godot)
#   tests/testbed/testbed.sh up               namespaces, nftables, coturn (STUN), miniupnpd
#   tests/testbed/testbed.sh down             stop our recorded PIDs, delete our namespaces
#   tests/testbed/testbed.sh status           what is running
#   tests/testbed/testbed.sh restart-router [--protocols=all|upnp|pmp] [--min-lifetime=S]
#                                             stop miniupnpd, drop its lease file, start it again
#                                             (a router reboot: new epoch, empty table); the
#                                             options switch the router's set-up on the way
#                                             (kept for later restarts)
#   tests/testbed/testbed.sh wan-address ADDR|restore
#                                             change the router's WAN address (wan0) to ADDR in
#                                             198.51.100.0/24 (restore: back to 198.51.100.1), as
#                                             an ISP giving a new address; miniupnpd notices
#                                             by itself (interface watcher) and reports it
#   tests/testbed/testbed.sh verify           checks with upnpc/natpmpc/socat; exit 1 on a FAIL
#   tests/testbed/testbed.sh exec <ns> <cmd>  run a command in wan|router|lan (or a full name)
#
#  <prefix>-wan    eth0 198.51.100.2/24 + .3/24   the "internet" peer, coturn STUN (RFC 5780)
#     | veth
#  <prefix>-router wan0 198.51.100.1/24  lan0 10.77.0.1/24  nftables NAT + miniupnpd
#     | veth
#  <prefix>-lan    eth0 10.77.0.2/24 + 10.77.0.3/24  the game host; default via 10.77.0.1
#
# Env: IGD_PREFIX (namespace prefix, default igd), IGD_STATE (state folder, default
#      /tmp/gdnat-testbed), IGD_STUN=no (router that refuses to forward: reserved WAN address,
#      no STUN), IGD_FORCE_V1=yes (IGD:1 device description), IGD_IPV6=yes (IPv6 on the LAN:
#      router and LAN host keep their link-local addresses on lan0/eth0 and get fd77::1/64 and
#      fd77::2/64 (a ULA: miniupnpd enables IPv6 only with one), miniupnpd runs with
#      ipv6_disable=no (LOCATION http://[fd77::1]:5000/...) and secure_mode=no; the WAN side
#      stays IPv4-only), IGD_PROTOCOLS=all|upnp|pmp (miniupnpd's set-up: all three (default),
#      UPnP only (enable_natpmp=no), NAT-PMP and PCP only (enable_upnp=no)),
#      IGD_PCP_MIN_LIFETIME=S (miniupnpd's min_lifetime: the shortest PCP lease it grants,
#      default 120 as miniupnpd's own default; the node's renewal tests set it low).
#      The set-up in use is kept in $IGD_STATE/router.env; restart-router reuses it.
#
# Safety: veth pairs are created directly inside the namespaces, so no interface, route, rule
# or sysctl is ever touched in the machine's own namespace; every networked command runs under
# `ip netns exec`; every wait is bounded; `down` stops only PIDs recorded here (checked to be in
# our namespaces) and then any leftover inside our namespaces, one PID at a time.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$HERE/common.sh"

IGD_STUN="${IGD_STUN:-yes}"
IGD_FORCE_V1="${IGD_FORCE_V1:-no}"
IGD_IPV6="${IGD_IPV6:-no}"
IGD_PROTOCOLS="${IGD_PROTOCOLS:-all}"
IGD_PCP_MIN_LIFETIME="${IGD_PCP_MIN_LIFETIME:-120}"
UP_DEADLINE_MS=10000

say() { echo "testbed: $*"; }
die() { echo "testbed: ERROR: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "must run as root (network namespaces)"; }

# Runs a command in one of our namespaces.
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

record_pid() { echo "$1 $2" >> "$TB_PIDS"; }   # <name> <pid>

cmd_install() {
    need_root
    bash "$HERE/../setup.sh" --no-godot
}

check_tools() {
    local t
    for t in ip nft miniupnpd turnserver socat ss; do
        command -v "$t" >/dev/null || die "'$t' is missing: run tests/setup.sh (or $0 install)"
    done
}

# Waits (bounded) until <cmd...> succeeds; returns 1 on timeout. $1 = deadline in ms.
wait_until() {
    local deadline=$(( $(tb_now_ms) + $1 )); shift
    while [ "$(tb_now_ms)" -lt "$deadline" ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.02
    done
    return 1
}

http_answers() {
    nsx "$TB_NS_LAN" timeout 2 bash -c "exec 3<>/dev/tcp/$TB_LAN_ROUTER_IP/$TB_HTTP_PORT \
        && printf 'GET /rootDesc.xml HTTP/1.0\r\nHost: $TB_LAN_ROUTER_IP:$TB_HTTP_PORT\r\n\r\n' >&3 \
        && head -c 12 <&3 | grep -q '^HTTP/1.[01] 200'"
}
# Ready: the log line of each enabled service (UPnP's HTTP server, the NAT-PMP/PCP socket).
miniupnpd_ready() {
    case $IGD_PROTOCOLS in
        upnp) grep -q 'HTTP listening on port' "$TB_STATE/miniupnpd.log" ;;
        pmp) grep -q 'Listening for NAT-PMP/PCP traffic' "$TB_STATE/miniupnpd.log" ;;
        *) grep -q 'HTTP listening on port' "$TB_STATE/miniupnpd.log" &&
           grep -q 'Listening for NAT-PMP/PCP traffic' "$TB_STATE/miniupnpd.log" ;;
    esac
}
# coturn answers RFC 5780 CHANGE-REQUESTs only when it listens on both IPs and both ports.
turn_listening() {
    local socks; socks=$(nsx "$TB_NS_WAN" ss -Hlun)
    local a p
    for a in "$TB_WAN_PEER_IP" "$TB_WAN_PEER_IP2"; do
        for p in 3478 3479; do grep -q "$a:$p " <<<"$socks" || return 1; done
    done
}

build_topology() {
    local ns
    for ns in "${TB_NAMESPACES[@]}"; do
        ip netns add "$ns" || return 1
        if [ "$IGD_IPV6" = yes ] && [ "$ns" != "$TB_NS_WAN" ]; then
            # Link-local addresses usable at once (no duplicate address detection wait).
            nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 \
                net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 || return 1
        else
            nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 || return 1
        fi
        ip -n "$ns" link set lo up || return 1
    done
    # veth pairs born inside the namespaces: nothing ever appears in the root namespace.
    ip -n "$TB_NS_ROUTER" link add wan0 type veth peer name eth0 netns "$TB_NS_WAN" || return 1
    ip -n "$TB_NS_ROUTER" link add lan0 type veth peer name eth0 netns "$TB_NS_LAN" || return 1
    ip -n "$TB_NS_WAN" addr add "$TB_WAN_PEER_IP/24" dev eth0 &&
    ip -n "$TB_NS_WAN" addr add "$TB_WAN_PEER_IP2/24" dev eth0 &&
    ip -n "$TB_NS_ROUTER" addr add "$TB_WAN_ROUTER_IP/24" dev wan0 &&
    ip -n "$TB_NS_ROUTER" addr add "$TB_LAN_ROUTER_IP/24" dev lan0 &&
    ip -n "$TB_NS_LAN" addr add "$TB_LAN_HOST_IP/24" dev eth0 &&
    ip -n "$TB_NS_LAN" addr add "$TB_LAN_HOST2_IP/24" dev eth0 || return 1
    if [ "$IGD_IPV6" = yes ]; then
        # miniupnpd enables IPv6 only with a non-link-local address on its LAN interface.
        ip -n "$TB_NS_ROUTER" addr add "$TB_LAN_ROUTER_IP6/64" dev lan0 &&
        ip -n "$TB_NS_LAN" addr add "$TB_LAN_HOST_IP6/64" dev eth0 || return 1
    fi
    ip -n "$TB_NS_ROUTER" link set lan0 multicast on &&
    ip -n "$TB_NS_LAN" link set eth0 multicast on || return 1
    for ns in "${TB_NAMESPACES[@]}"; do
        for dev in $(ip -n "$ns" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -v '^lo$'); do
            ip -n "$ns" link set "$dev" up || return 1
        done
    done
    nsx "$TB_NS_ROUTER" sysctl -qw net.ipv4.ip_forward=1 || return 1
    ip -n "$TB_NS_ROUTER" route add default via "$TB_WAN_PEER_IP" || return 1
    ip -n "$TB_NS_LAN" route add default via "$TB_LAN_ROUTER_IP" || return 1
    ip -n "$TB_NS_LAN" route add 239.0.0.0/8 dev eth0 || return 1
    nsx "$TB_NS_ROUTER" nft -f "$HERE/router.nft" || return 1
}

check_setup() {
    case $IGD_PROTOCOLS in all|upnp|pmp) ;; *) die "IGD_PROTOCOLS must be all, upnp or pmp (not '$IGD_PROTOCOLS')" ;; esac
    [[ $IGD_PCP_MIN_LIFETIME =~ ^[0-9]+$ ]] && ((IGD_PCP_MIN_LIFETIME >= 1 && IGD_PCP_MIN_LIFETIME <= 86400)) \
        || die "IGD_PCP_MIN_LIFETIME must be 1-86400 (not '$IGD_PCP_MIN_LIFETIME')"
}

# miniupnpd.conf from the template and the set-up variables, which are kept in router.env
# (restart-router reads them back, so a restart keeps the set-up unless told otherwise).
write_miniupnpd_conf() {
    check_setup
    local ipv6_disable=yes secure_mode=yes enable_upnp=yes enable_natpmp=yes
    # With IPv6, secure mode is off: it compares NewInternalClient with the requester's address,
    # and a host that talks to the router over IPv6 can then map no IPv4 port at all.
    [ "$IGD_IPV6" = yes ] && ipv6_disable=no secure_mode=no
    case $IGD_PROTOCOLS in
        upnp) enable_natpmp=no ;;
        pmp) enable_upnp=no ;;
    esac
    sed -e "s#@STATE@#$TB_STATE#g" -e "s#@STUN@#$IGD_STUN#g" -e "s#@FORCE_V1@#$IGD_FORCE_V1#g" \
        -e "s#@IPV6_DISABLE@#$ipv6_disable#g" -e "s#@SECURE_MODE@#$secure_mode#g" \
        -e "s#@ENABLE_UPNP@#$enable_upnp#g" -e "s#@ENABLE_NATPMP@#$enable_natpmp#g" \
        -e "s#@MIN_LIFETIME@#$IGD_PCP_MIN_LIFETIME#g" \
        "$HERE/miniupnpd.conf.in" > "$TB_STATE/miniupnpd.conf" || return 1
    printf 'IGD_STUN=%s\nIGD_FORCE_V1=%s\nIGD_IPV6=%s\nIGD_PROTOCOLS=%s\nIGD_PCP_MIN_LIFETIME=%s\n' \
        "$IGD_STUN" "$IGD_FORCE_V1" "$IGD_IPV6" "$IGD_PROTOCOLS" "$IGD_PCP_MIN_LIFETIME" > "$TB_STATE/router.env"
}

# Reads the set-up the bed runs with back from router.env (only these five names).
load_setup() {
    [ -f "$TB_STATE/router.env" ] || return 0
    local key value
    while IFS='=' read -r key value; do
        case $key in
            IGD_STUN|IGD_FORCE_V1|IGD_IPV6|IGD_PROTOCOLS|IGD_PCP_MIN_LIFETIME) printf -v "$key" '%s' "$value" ;;
        esac
    done < "$TB_STATE/router.env"
}

write_configs() {
    write_miniupnpd_conf || return 1
    cp "$HERE/turnserver.conf" "$TB_STATE/turnserver.conf"
}

start_coturn() {
    # A plain `ip netns exec` (not a shell function) so that $! is the daemon itself.
    ip netns exec "$TB_NS_WAN" turnserver -c "$TB_STATE/turnserver.conf" -l "$TB_STATE/turnserver.log" \
        --pidfile "$TB_STATE/turnserver.pid" </dev/null >"$TB_STATE/turnserver.out" 2>&1 &
    record_pid turnserver $!
}

start_miniupnpd() {
    # /dev/console -> /dev/null in this private mount namespace only: miniupnpd's syslog falls
    # back to the console (no /dev/log) and would be slowed down to ~1 ms per log line.
    ip netns exec "$TB_NS_ROUTER" sh -c 'if [ -e /dev/console ]; then mount --bind /dev/null /dev/console || exit 97; fi
        exec miniupnpd -f "$1/miniupnpd.conf" -d -P "$1/miniupnpd.pidfile"' sh "$TB_STATE" \
        </dev/null >"$TB_STATE/miniupnpd.out" 2>"$TB_STATE/miniupnpd.log" &
    record_pid miniupnpd $!
}

cmd_up() {
    need_root; check_tools; check_setup
    if tb_is_up && [ -f "$TB_MARKER" ]; then
        say "already up (namespaces ${TB_NAMESPACES[*]}, state $TB_STATE)"
        return 0
    fi
    local ns
    for ns in "${TB_NAMESPACES[@]}"; do
        if tb_ns_exists "$ns"; then
            [ -f "$TB_MARKER" ] || die "namespace $ns exists but is not ours (no $TB_MARKER); set IGD_PREFIX"
            say "half-up test bed found; taking it down first"
            cmd_down; break
        fi
    done
    if [ -e "$TB_STATE" ]; then
        [ -f "$TB_MARKER" ] || die "$TB_STATE exists but has no marker file; not touching it (set IGD_STATE)"
        rm -rf --one-file-system "$TB_STATE"
    fi
    mkdir -p "$TB_STATE" && echo "gdnat test bed prefix=$TB_PREFIX" > "$TB_MARKER" && : > "$TB_PIDS" \
        || die "cannot create $TB_STATE"

    local t0 t_topo t_stun t_ready
    t0=$(tb_now_ms)
    trap 'echo "testbed: up failed, cleaning up" >&2; cmd_down >&2' EXIT
    build_topology || die "building the namespaces failed"
    write_configs || die "cannot write the configuration files in $TB_STATE"
    t_topo=$(tb_now_ms)

    start_coturn
    wait_until 5000 turn_listening || die "coturn did not listen on 3478 (see $TB_STATE/turnserver.log)"
    t_stun=$(tb_now_ms)

    start_miniupnpd
    wait_until "$UP_DEADLINE_MS" miniupnpd_ready || { tail -5 "$TB_STATE/miniupnpd.log" >&2; die "miniupnpd did not start in time"; }
    if [ "$IGD_PROTOCOLS" != pmp ]; then
        wait_until 3000 http_answers || die "miniupnpd's HTTP port $TB_HTTP_PORT does not answer"
    fi
    t_ready=$(tb_now_ms)
    local pid; pid=$(awk '$1=="miniupnpd"{print $2}' "$TB_PIDS")
    tb_pid_alive "$pid" || die "miniupnpd exited (see $TB_STATE/miniupnpd.log)"
    trap - EXIT

    if grep -q 'Port forwarding is now enabled' "$TB_STATE/miniupnpd.log"; then
        say "port forwarding enabled (STUN reported $(sed -n 's/.*with public IP address \([0-9.]*\).*/\1/p' "$TB_STATE/miniupnpd.log" | head -1))"
    else
        say "port forwarding NOT enabled: $(grep -m1 -oE 'Reserved / private IP address.*|restrictive.*NAT.*' "$TB_STATE/miniupnpd.log" || echo 'see log')"
    fi
    say "up in $(( t_ready - t0 )) ms (namespaces+nft $(( t_topo - t0 )) ms, coturn $(( t_stun - t_topo )) ms, miniupnpd+STUN+HTTP $(( t_ready - t_stun )) ms)"
    say "router: $TB_DESC_URL  (IGD_STUN=$IGD_STUN IGD_FORCE_V1=$IGD_FORCE_V1 IGD_IPV6=$IGD_IPV6 IGD_PROTOCOLS=$IGD_PROTOCOLS IGD_PCP_MIN_LIFETIME=$IGD_PCP_MIN_LIFETIME)  state: $TB_STATE"
    say "run a client:  ip netns exec $TB_NS_LAN <cmd>   or   $0 exec lan <cmd>"
}

# Sends TERM to PID $2 (named $1), waits up to 3 s, then KILL.
stop_pid() {
    local name=$1 pid=$2 i
    tb_pid_alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 60; i++)); do tb_pid_alive "$pid" || { say "stopped $name ($pid)"; return 0; }; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null
    say "killed $name ($pid)"
}

cmd_down() {
    need_root
    local name pid ns leftover
    if [ -f "$TB_PIDS" ]; then
        while read -r name pid; do
            [ -n "$pid" ] || continue
            tb_pid_alive "$pid" || continue
            if tb_pid_in_our_ns "$pid"; then
                stop_pid "$name" "$pid"
            else
                say "recorded $name PID $pid is not in our namespaces any more; left alone"
            fi
        done < "$TB_PIDS"
        : > "$TB_PIDS"
    fi
    for ns in "${TB_NAMESPACES[@]}"; do
        tb_ns_exists "$ns" || continue
        for leftover in $(ip netns pids "$ns" 2>/dev/null); do
            tb_pid_alive "$leftover" || continue
            stop_pid "leftover $(cat "/proc/$leftover/comm" 2>/dev/null) in $ns" "$leftover"
        done
        ip netns del "$ns" && say "deleted namespace $ns"
    done
    return 0
}

# A router reboot: miniupnpd stops, its lease file and its nftables chains are emptied (a reboot
# clears the kernel's tables; miniupnpd 2.3.1 leaves its rules in place on SIGTERM, and the new
# daemon would keep forwarding through them), and a new miniupnpd starts with a new epoch.
cmd_restart_router() {
    need_root
    tb_is_up && [ -f "$TB_MARKER" ] || die "the test bed is not up ($0 up)"
    load_setup
    local arg
    for arg in "$@"; do
        case $arg in
            --protocols=*) IGD_PROTOCOLS=${arg#*=} ;;
            --min-lifetime=*) IGD_PCP_MIN_LIFETIME=${arg#*=} ;;
            *) die "restart-router: unknown option $arg (--protocols=all|upnp|pmp, --min-lifetime=S)" ;;
        esac
    done
    check_setup
    local pid; pid=$(awk '$1=="miniupnpd"{p=$2} END{print p}' "$TB_PIDS")
    if tb_pid_alive "$pid" && tb_pid_in_our_ns "$pid"; then stop_pid miniupnpd "$pid"; fi
    rm -f "$TB_STATE/miniupnpd.leases"
    local chain
    for chain in prerouting_miniupnpd postrouting_miniupnpd miniupnpd; do
        nsx "$TB_NS_ROUTER" nft flush chain inet filter "$chain" || die "cannot flush chain $chain"
    done
    write_miniupnpd_conf || die "cannot write $TB_STATE/miniupnpd.conf"
    start_miniupnpd
    wait_until "$UP_DEADLINE_MS" miniupnpd_ready || die "miniupnpd did not start again in time"
    if [ "$IGD_PROTOCOLS" != pmp ]; then
        wait_until 3000 http_answers || die "miniupnpd's HTTP port $TB_HTTP_PORT does not answer after the restart"
    fi
    pid=$(awk '$1=="miniupnpd"{p=$2} END{print p}' "$TB_PIDS")
    tb_pid_alive "$pid" || die "miniupnpd exited after the restart (see $TB_STATE/miniupnpd.log)"
    say "router restarted (miniupnpd pid $pid, protocols $IGD_PROTOCOLS, min_lifetime $IGD_PCP_MIN_LIFETIME)"
}

# The ISP gives the router another WAN address: wan0's address becomes $1 (same /24, so the WAN
# peer reaches it directly) and the default route is set again (it goes with the old address).
# miniupnpd is not told: it reads ext_ifname's address on every request, and its interface
# watcher (netlink RTM_DELADDR/RTM_NEWADDR) sees the change by itself, runs STUN again and
# resets its NAT-PMP/PCP epoch ("should send external iface address change notification(s)" in
# its log). Its DNAT rules name no address, so existing mappings forward from the new one.
cmd_wan_address() {
    need_root
    tb_is_up && [ -f "$TB_MARKER" ] || die "the test bed is not up ($0 up)"
    local want=${1:-}
    [ "$want" = restore ] && want=$TB_WAN_ROUTER_IP
    [[ $want =~ ^198\.51\.100\.([0-9]{1,3})$ ]] && ((BASH_REMATCH[1] >= 1 && BASH_REMATCH[1] <= 254)) \
        && [ "$want" != "$TB_WAN_PEER_IP" ] && [ "$want" != "$TB_WAN_PEER_IP2" ] \
        || die "wan-address: give an address in 198.51.100.0/24 other than the peer's ($TB_WAN_PEER_IP, $TB_WAN_PEER_IP2), or restore"
    local old
    old=$(ip -n "$TB_NS_ROUTER" -4 -o addr show dev wan0 | awk '{print $4}' | cut -d/ -f1)
    [ -n "$old" ] || die "wan-address: wan0 has no IPv4 address"
    if [ "$old" != "$want" ]; then
        local a
        for a in $old; do ip -n "$TB_NS_ROUTER" addr del "$a/24" dev wan0 || die "cannot remove $a from wan0"; done
        ip -n "$TB_NS_ROUTER" addr add "$want/24" dev wan0 || die "cannot add $want to wan0"
        ip -n "$TB_NS_ROUTER" route replace default via "$TB_WAN_PEER_IP" || die "cannot set the default route again"
        # The old address's conntrack entries would keep translating to it.
        nsx "$TB_NS_ROUTER" conntrack -F >/dev/null 2>&1 || true
    fi
    say "WAN address $(echo $old) -> $want"
}

cmd_status() {
    local ns name pid any=no
    for ns in "${TB_NAMESPACES[@]}"; do
        tb_ns_exists "$ns" && { echo "namespace $ns up"; any=yes; } || echo "namespace $ns absent"
    done
    [ "$any" = yes ] || { echo "status down"; return 1; }
    if [ -f "$TB_PIDS" ]; then
        while read -r name pid; do
            tb_pid_alive "$pid" && echo "process $name pid=$pid running" || echo "process $name pid=$pid dead"
        done < "$TB_PIDS"
    fi
    if [ -f "$TB_STATE/miniupnpd.log" ]; then
        grep -q 'Port forwarding is now enabled' "$TB_STATE/miniupnpd.log" \
            && echo "forwarding enabled" || echo "forwarding disabled"
    fi
    tb_ns_exists "$TB_NS_ROUTER" && nsx "$TB_NS_ROUTER" nft list chain inet filter prerouting_miniupnpd 2>/dev/null \
        | grep dnat | sed 's/^[[:space:]]*/rule /'
    echo "url $TB_DESC_URL"
    tb_is_up && echo "status up" || echo "status partial"
}

cmd_exec() {
    need_root
    [ $# -ge 2 ] || die "usage: $0 exec <wan|router|lan|namespace> <cmd...>"
    local ns; ns=$(tb_ns "$1"); shift
    case " ${TB_NAMESPACES[*]} " in *" $ns "*) ;; *) die "not one of our namespaces: $ns" ;; esac
    tb_ns_exists "$ns" || die "namespace $ns is not up ($0 up)"
    GDNAT_ROOT_NETNS="${GDNAT_ROOT_NETNS:-$(readlink /proc/self/ns/net)}"; export GDNAT_ROOT_NETNS
    exec ip netns exec "$ns" "$@"
}

case "${1:-}" in
    install) cmd_install ;;
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    restart-router) shift; cmd_restart_router "$@" ;;
    wan-address) shift; cmd_wan_address "$@" ;;
    verify) shift; exec bash "$HERE/verify.sh" "$@" ;;
    exec) shift; cmd_exec "$@" ;;
    *) sed -n '2,42p' "$0" >&2; exit 2 ;;
esac
