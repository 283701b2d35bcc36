#!/usr/bin/env bash
# Reachability probes through the test-bed router: does a packet sent from the WAN side to the
# router's external address reach a host on the LAN side? (the proof that a port mapping works)
#
# Executable:
#   tests/testbed/probe.sh tcp|udp <port> [token]       listener in the LAN + sender in the WAN
#   tests/testbed/probe.sh send tcp|udp <port> [token]  sender only (the LAN service is yours,
#                                                       e.g. a game that echoes the line it gets)
# Sourceable (bash): `source tests/testbed/probe.sh` defines probe, probe_send, probe_token.
#
# probe: starts a bounded one-shot socat listener in <prefix>-lan on $PROBE_LAN_IP:<port>, sends
# "<token>\n" from <prefix>-wan to 198.51.100.1:<port> from a source port never used before by
# these probes (conntrack entries outlive mappings, so a reused 5-tuple could lie), and exits 0
# only if the LAN side received the token. Prints one line:
#   reached <proto> <port> token=<t> peer=<ip:port> reply=<yes|no>
#   unreachable <proto> <port> token=<t>
# probe_send prints `reply <text>` (or `noreply <proto> <port>`) and exits 0 if the reply holds
# the token. Exit 2 means the probe itself could not run (bad usage, bed not up, port busy).
#
# Env: IGD_PREFIX (namespaces), PROBE_LAN_IP (default 10.77.0.2), PROBE_DST (198.51.100.1),
#      PROBE_SRC (198.51.100.2), PROBE_TIMEOUT (seconds a listener/sender may live, default 5).

_PROBE_HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$_PROBE_HERE/common.sh"

# Prints a random token (16 hex digits, prefixed).
probe_token() { printf 'tok-%s\n' "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"; }

# Prints the next never-used WAN source port (30000-60999, kept in the state folder).
probe_next_sport() {
    local dir file port
    dir="$TB_STATE"; [ -d "$dir" ] || dir=/tmp
    file="$dir/probe-next-sport"
    (
        flock -w 5 9 || true
        port=$(cat "$file" 2>/dev/null || true)
        [[ "$port" =~ ^[0-9]+$ ]] || port=$(( 30000 + RANDOM % 20000 ))
        [ "$port" -ge 30000 ] && [ "$port" -le 60999 ] || port=30000
        echo $(( port + 1 )) > "$file"
        echo "$port"
    ) 9>"$file.lock"
}

# True once something listens on <proto> <port> in the LAN namespace (bounded, ~3 s).
_probe_wait_listening() {
    local proto=$1 port=$2 flag i
    [ "$proto" = tcp ] && flag=-Hltn || flag=-Hlun
    for ((i = 0; i < 60; i++)); do
        ip netns exec "$TB_NS_LAN" ss "$flag" "sport = :$port" 2>/dev/null | grep -q . && return 0
        sleep 0.05
    done
    return 1
}

# Validates "<tcp|udp> <port>"; prints the usage error and returns 2 otherwise.
_probe_check_args() {
    case "$1" in tcp|udp) ;; *) echo "probe: protocol must be tcp or udp, got '$1'" >&2; return 2 ;; esac
    [[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -ge 1 ] && [ "$2" -le 65535 ] \
        || { echo "probe: bad port '$2'" >&2; return 2; }
    tb_ns_exists "$TB_NS_LAN" && tb_ns_exists "$TB_NS_WAN" \
        || { echo "probe: the test bed is not up (tests/testbed/testbed.sh up)" >&2; return 2; }
}

# Sends "<token>\n" from the WAN namespace to $PROBE_DST:<port> from a fresh source port and
# prints the reply. Returns 0 when the reply contains the token.
probe_send() {
    local proto=${1:-} port=${2:-} token=${3:-} dst=${PROBE_DST:-$TB_WAN_ROUTER_IP}
    local src=${PROBE_SRC:-$TB_WAN_PEER_IP} t=${PROBE_TIMEOUT:-5} sport reply="" attempt errf
    _probe_check_args "$proto" "$port" || return 2
    [ -n "$token" ] || token=$(probe_token)
    errf=$(mktemp /tmp/gdnat-probe-send.XXXXXX) || return 2
    for attempt in 1 2 3; do
        sport=$(probe_next_sport)
        if [ "$proto" = tcp ]; then
            reply=$(printf '%s\n' "$token" | ip netns exec "$TB_NS_WAN" timeout "$t" \
                socat -t 0.5 -T 3 - "TCP:$dst:$port,bind=$src:$sport,connect-timeout=2" 2>"$errf")
        else
            reply=$(printf '%s\n' "$token" | ip netns exec "$TB_NS_WAN" timeout "$t" \
                socat -t 1 -T 3 - "UDP:$dst:$port,bind=$src:$sport" 2>"$errf")
        fi
        # A taken source port is the only reason to try again with another one.
        grep -q 'Address already in use' "$errf" || break
    done
    rm -f "$errf"
    PROBE_LAST_SPORT=$sport
    reply=$(printf '%s' "$reply" | head -c 300 | tr -d '\r' | head -1)
    if [ -n "$reply" ]; then
        echo "reply $reply"
    else
        echo "noreply $proto $port"
    fi
    case "$reply" in *"$token"*) return 0 ;; *) return 1 ;; esac
}

# Listener in the LAN + sender in the WAN; returns 0 only if the LAN side got the token.
probe() {
    local proto=${1:-} port=${2:-} token=${3:-} lan_ip=${PROBE_LAN_IP:-$TB_LAN_HOST_IP}
    local t=${PROBE_TIMEOUT:-5} out lpid reply_line got peer replied=no i addr
    _probe_check_args "$proto" "$port" || return 2
    [ -n "$token" ] || token=$(probe_token)
    out=$(mktemp /tmp/gdnat-probe.XXXXXX) || return 2
    if [ "$proto" = tcp ]; then
        addr="TCP-LISTEN:$port,bind=$lan_ip,reuseaddr"
    else
        addr="UDP-RECVFROM:$port,bind=$lan_ip"
    fi
    PROBE_OUT="$out" ip netns exec "$TB_NS_LAN" timeout "$t" \
        socat -T 3 "$addr" "EXEC:/bin/bash $_PROBE_HERE/echo-responder.sh" </dev/null >/dev/null 2>"$out.err" &
    lpid=$!
    if ! _probe_wait_listening "$proto" "$port" || ! tb_pid_alive "$lpid"; then
        echo "probe: could not listen on $lan_ip:$port/$proto in $TB_NS_LAN: $(head -c 300 "$out.err")" >&2
        kill "$lpid" 2>/dev/null; wait "$lpid" 2>/dev/null
        rm -f "$out" "$out.err"
        return 2
    fi
    reply_line=$(probe_send "$proto" "$port" "$token") && replied=yes
    # The responder writes the file before it answers; give a silent path a moment, bounded.
    for ((i = 0; i < 10; i++)); do [ -s "$out" ] && break; sleep 0.05; done
    kill "$lpid" 2>/dev/null; wait "$lpid" 2>/dev/null
    got=$(head -c 300 "$out" | head -1)
    rm -f "$out" "$out.err"
    if [ "${got%% *}" = "$token" ]; then
        peer=${got#* }
        echo "reached $proto $port token=$token peer=$peer reply=$replied"
        return 0
    fi
    echo "unreachable $proto $port token=$token"
    return 1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case "${1:-}" in
        send) shift; probe_send "$@"; exit $? ;;
        tcp|udp) probe "$@"; exit $? ;;
        *) sed -n '2,22p' "$0" >&2; exit 2 ;;
    esac
fi
