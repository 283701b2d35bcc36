# Names, addresses and helpers of the two-site bed. Sourced by bed.sh and verify.sh (bash; does
# not change the caller's shell options).

# Namespaces: <prefix>-p2p-{inet,ra,la,rb,lb}; prefix from P2P_PREFIX, else IGD_PREFIX, else igd.
P2P_BASE="${P2P_PREFIX:-${IGD_PREFIX:-igd}}-p2p"
P2P_NS_INET="$P2P_BASE-inet"   # the "internet": coturn (STUN, RFC 5780) and opentracker
P2P_NS_RA="$P2P_BASE-ra"       # site A's NAT router
P2P_NS_LA="$P2P_BASE-la"       # site A's LAN host (player A)
P2P_NS_RB="$P2P_BASE-rb"       # site B's NAT router
P2P_NS_LB="$P2P_BASE-lb"       # site B's LAN host (player B)
P2P_NAMESPACES=("$P2P_NS_INET" "$P2P_NS_RA" "$P2P_NS_LA" "$P2P_NS_RB" "$P2P_NS_LB")

# State folder; only ever removed when it holds our marker file.
P2P_STATE="${P2P_STATE:-/tmp/gdnat-testbed-$P2P_BASE}"
P2P_MARKER="$P2P_STATE/.gdnat-p2p-bed"
P2P_PIDS="$P2P_STATE/pids"

# Addresses: 198.18.0.0/24 (RFC 2544 benchmarking range, never routed on the internet) is the
# "internet"; each site has a private /24.
P2P_STUN_IP=198.18.0.10        # coturn primary address, opentracker
P2P_STUN_IP2=198.18.0.11       # coturn alternate address (RFC 5780 OTHER-ADDRESS)
P2P_STUN_PORT=3478
P2P_STUN_ALT_PORT=3479
P2P_TRACKER_PORT=6969
P2P_WAN_A=198.18.0.1           # router A's public address
P2P_WAN_B=198.18.0.2           # router B's public address
P2P_LAN_RA=10.81.0.1
P2P_LAN_A=10.81.0.2            # player A
P2P_LAN_RB=10.82.0.1
P2P_LAN_B=10.82.0.2            # player B

# The test room: its info_hash is SHA-1("gdnat-room:" + name) (gdnat_rendezvous::room_hash) and
# is the only hash on opentracker's whitelist.
P2P_ROOM="${P2P_ROOM:-gdnat-test-room}"
p2p_room_hash() { printf 'gdnat-room:%s' "${1:-$P2P_ROOM}" | sha1sum | cut -c1-40; }

# NAT presets (nat-<name>.nft): home = endpoint-independent mapping, address-and-port-dependent
# filtering; fullcone = endpoint-independent mapping and filtering; symmetric = masquerade random.
P2P_PRESETS=(home fullcone symmetric)

# Maps a short name (inet|ra|la|rb|lb) or a full namespace name to the full name.
p2p_ns() {
    case "$1" in
        inet) echo "$P2P_NS_INET" ;; ra) echo "$P2P_NS_RA" ;; la) echo "$P2P_NS_LA" ;;
        rb) echo "$P2P_NS_RB" ;; lb) echo "$P2P_NS_LB" ;; *) echo "$1" ;;
    esac
}
p2p_ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }
p2p_is_up() { local ns; for ns in "${P2P_NAMESPACES[@]}"; do p2p_ns_exists "$ns" || return 1; done; }
# True when PID $1 is alive (zombies count as dead).
p2p_pid_alive() {
    local state
    [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}
p2p_pid_in_our_ns() {
    local ns
    for ns in "${P2P_NAMESPACES[@]}"; do
        p2p_ns_exists "$ns" && ip netns pids "$ns" 2>/dev/null | grep -qx "$1" && return 0
    done
    return 1
}
p2p_now_ms() { date +%s%3N; }
