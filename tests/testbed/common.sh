# Shared names, addresses and small helpers of the test bed. Sourced by testbed.sh and probe.sh.
# (bash; does not change shell options of the caller)

# Namespace names: <prefix>-wan, <prefix>-router, <prefix>-lan (IGD_PREFIX, default "igd").
TB_PREFIX="${IGD_PREFIX:-igd}"
TB_NS_WAN="$TB_PREFIX-wan"
TB_NS_ROUTER="$TB_PREFIX-router"
TB_NS_LAN="$TB_PREFIX-lan"
TB_NAMESPACES=("$TB_NS_WAN" "$TB_NS_ROUTER" "$TB_NS_LAN")

# State folder (logs, configs, recorded PIDs). Only ever removed when it holds our marker file.
if [ "$TB_PREFIX" = igd ]; then
    TB_STATE="${IGD_STATE:-/tmp/gdnat-testbed}"
else
    TB_STATE="${IGD_STATE:-/tmp/gdnat-testbed-$TB_PREFIX}"
fi
TB_MARKER="$TB_STATE/.gdnat-testbed"
TB_PIDS="$TB_STATE/pids"

# Addresses (TEST-NET-2 on the WAN side, a private /24 on the LAN side).
TB_WAN_ROUTER_IP=198.51.100.1   # the router's external address (what STUN reports)
TB_WAN_PEER_IP=198.51.100.2     # the "internet" peer and STUN server
TB_WAN_PEER_IP2=198.51.100.3    # second STUN address (RFC 5780 CHANGE-REQUEST)
TB_LAN_ROUTER_IP=10.77.0.1
TB_LAN_HOST_IP=10.77.0.2        # the "game host"
TB_LAN_HOST2_IP=10.77.0.3       # a second host address on the same namespace
TB_LAN_ROUTER_IP6=fd77::1       # with IGD_IPV6=yes (a ULA on lan0; link-local addresses too)
TB_LAN_HOST_IP6=fd77::2
TB_HTTP_PORT=5000
TB_DESC_URL="http://$TB_LAN_ROUTER_IP:$TB_HTTP_PORT/rootDesc.xml"

# Maps a short name (wan|router|lan) or a full namespace name to the full name.
tb_ns() {
    case "$1" in
        wan) echo "$TB_NS_WAN" ;;
        router) echo "$TB_NS_ROUTER" ;;
        lan) echo "$TB_NS_LAN" ;;
        *) echo "$1" ;;
    esac
}

# True when namespace $1 exists.
tb_ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }

# True when all three namespaces exist.
tb_is_up() {
    local ns
    for ns in "${TB_NAMESPACES[@]}"; do tb_ns_exists "$ns" || return 1; done
    return 0
}

# True when PID $1 is alive (zombies count as dead: orphans may be reaped late).
tb_pid_alive() {
    local state
    [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# True when PID $1 runs in one of our namespaces.
tb_pid_in_our_ns() {
    local ns
    for ns in "${TB_NAMESPACES[@]}"; do
        tb_ns_exists "$ns" && ip netns pids "$ns" 2>/dev/null | grep -qx "$1" && return 0
    done
    return 1
}

# Milliseconds since the epoch.
tb_now_ms() { date +%s%3N; }
