#!/usr/bin/env bash
# Checks of the two-site bed (run through `bed.sh verify [--gdnat BIN]`):
# - topology: nothing of the bed in the root namespace, no route off the bed;
# - daemons: coturn on both addresses and both ports, opentracker (a whitelist build) on UDP;
# - every NAT preset on router A (and router B's current one) classified by coturn's own
#   RFC 5780 client, turnutils_natdiscovery, as the preset promises;
# - with --gdnat BIN: `BIN nat-type` (our classifier) agrees with turnutils_natdiscovery on
#   every preset, and `BIN stun` reads the router's public address.
# Prints `PASS|FAIL|SKIP name detail` and `N passed, N failed, N skipped`; exit 1 on any FAIL.
# Brings the bed up (and down again on every exit path) when it was not up.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$HERE/common.sh"
[ "$(id -u)" = 0 ] || { echo "verify: must run as root" >&2; exit 1; }

GDNAT_BIN=""
while [ $# -gt 0 ]; do
    case $1 in
        --gdnat) GDNAT_BIN=$(realpath "${2:?--gdnat needs a path}"); shift 2 ;;
        *) echo "verify: unknown option $1" >&2; exit 2 ;;
    esac
done

if [ -n "$GDNAT_BIN" ] && ! { [ -f "$GDNAT_BIN" ] && [ -x "$GDNAT_BIN" ]; }; then
    echo "FAIL build no gdnat binary at $GDNAT_BIN (cargo build -p gdnat-cli)"; echo "0 passed, 1 failed, 0 skipped"; exit 1
fi

PASSED=0 FAILED=0 SKIPPED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS $1 ${2:-}"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1 ${2:-}"; }
skip() { SKIPPED=$((SKIPPED + 1)); echo "SKIP $1: ${2:-}"; }
check() { local name=$1 detail=$2; shift 2; if "$@"; then pass "$name" "$detail"; else fail "$name" "$detail"; fi; }

T0=$(p2p_now_ms)
OWN_BED=no
if ! p2p_is_up; then
    OWN_BED=yes
    trap 'bash "$HERE/bed.sh" down >/dev/null' EXIT
    bash "$HERE/bed.sh" up || { echo "FAIL up the bed did not come up"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
fi
# Presets are restored at the end when the bed was already up.
PRESET_A=$(cat "$P2P_STATE/preset-$P2P_NS_RA" 2>/dev/null || echo home)
PRESET_B=$(cat "$P2P_STATE/preset-$P2P_NS_RB" 2>/dev/null || echo home)

# ---- topology ----------------------------------------------------------------------------------
check topology.root-ns-untouched "no bed interface or address in the root namespace" \
    bash -c "! ip -o link | grep -qE ': (br0|ra0|rb0|wan0|lan0)[@:]' && ! ip -o addr | grep -qE '198\.18\.0\.|10\.8[12]\.0\.'"
no_default_route() { [ -z "$(ip -n "$1" route show default)" ]; }
check topology.routers-no-default-route "routers and inet reach only their own /24s" \
    bash -c "$(declare -f no_default_route); no_default_route $P2P_NS_RA && no_default_route $P2P_NS_RB && no_default_route $P2P_NS_INET"
check topology.lan-default-via-router "LAN hosts route only to their router" \
    bash -c "ip -n $P2P_NS_LA route show default | grep -q 'via $P2P_LAN_RA' && ip -n $P2P_NS_LB route show default | grep -q 'via $P2P_LAN_RB'"

# ---- daemons ------------------------------------------------------------------------------------
socks=$(ip netns exec "$P2P_NS_INET" ss -Hlunp 2>&1)
ok=yes
for a in "$P2P_STUN_IP" "$P2P_STUN_IP2"; do
    for p in "$P2P_STUN_PORT" "$P2P_STUN_ALT_PORT"; do grep -q "$a:$p .*turnserver" <<<"$socks" || ok=no; done
done
check daemons.coturn-rfc5780-listeners "turnserver on $P2P_STUN_IP and $P2P_STUN_IP2, ports $P2P_STUN_PORT and $P2P_STUN_ALT_PORT" [ $ok = yes ]
check daemons.opentracker-udp "opentracker on udp $P2P_STUN_IP:$P2P_TRACKER_PORT" grep -q "$P2P_STUN_IP:$P2P_TRACKER_PORT .*opentracker" <<<"$socks"
check daemons.opentracker-whitelist-build "opentracker -h lists -w (whitelist build)" \
    bash -c "opentracker -h 2>&1 | grep -q -- '-w file'"
check daemons.whitelist-holds-room "whitelist = SHA-1('gdnat-room:$P2P_ROOM') = $(p2p_room_hash)" \
    grep -qx "$(p2p_room_hash)" "$P2P_STATE/tracker/whitelist.txt"

# ---- NAT presets, judged by coturn's own RFC 5780 client ---------------------------------------
declare -A WANT_MAPPING=([home]="Endpoint Independent" [fullcone]="Endpoint Independent" [symmetric]="Address and Port Dependent")
declare -A WANT_FILTERING=([home]="Address and Port Dependent" [fullcone]="Endpoint Independent" [symmetric]="Address and Port Dependent")
# Our classifier's words for the same verdicts (gdnat nat-type prints `mapping <word>`).
declare -A OURS=([Endpoint Independent]=endpoint-independent [Address Dependent]=address-dependent [Address and Port Dependent]=address-and-port-dependent)

# natdiscovery <lan namespace> -> "mapping=<text>;filtering=<text>" (empty when it failed)
natdiscovery() {
    local out m f
    out=$(ip netns exec "$1" timeout 30 turnutils_natdiscovery -m -f "$P2P_STUN_IP" 2>&1) || return 1
    m=$(sed -n 's/^NAT with \(.*\) Mapping!$/\1/p' <<<"$out" | head -1)
    f=$(sed -n 's/^NAT with \(.*\) Filtering!$/\1/p' <<<"$out" | head -1)
    [ -n "$m" ] && [ -n "$f" ] || return 1
    echo "mapping=$m;filtering=$f"
}

# check_preset <a|b> <lan namespace> <preset>
check_preset() {
    local router=$1 lan=$2 preset=$3 got want t0
    bash "$HERE/bed.sh" preset "$router" "$preset" >/dev/null || { fail "preset.$router.$preset" "could not load"; return; }
    want="mapping=${WANT_MAPPING[$preset]};filtering=${WANT_FILTERING[$preset]}"
    t0=$(p2p_now_ms)
    got=$(natdiscovery "$lan") || got="(turnutils_natdiscovery failed or printed no verdict)"
    check "preset.$router.$preset.natdiscovery" "want '$want' got '$got' ($(( $(p2p_now_ms) - t0 )) ms)" [ "$got" = "$want" ]
    [ "$got" = "$want" ] || return
    if [ -z "$GDNAT_BIN" ]; then
        skip "preset.$router.$preset.gdnat-nat-type" "no --gdnat BIN given"
        return
    fi
    local ours want_ours
    want_ours="mapping ${OURS[${WANT_MAPPING[$preset]}]} filtering ${OURS[${WANT_FILTERING[$preset]}]}"
    t0=$(p2p_now_ms)
    local wan; [ "$router" = a ] && wan=$P2P_WAN_A || wan=$P2P_WAN_B
    ours=$(ip netns exec "$lan" timeout 20 "$GDNAT_BIN" nat-type --server "$P2P_STUN_IP:$P2P_STUN_PORT" --router-external "$wan" 2>&1)
    local line; line=$(grep -E '^mapping ' <<<"$ours" | head -1)
    check "preset.$router.$preset.gdnat-nat-type" "want '$want_ours' got '${line:-$ours}' ($(( $(p2p_now_ms) - t0 )) ms)" [ "$line" = "$want_ours" ]
    # The router reports the address STUN sees: one NAT.
    check "preset.$router.$preset.gdnat-verdict" "$(grep -E '^verdict ' <<<"$ours")" grep -q '^verdict one-nat ' <<<"$ours"
}

for preset in "${P2P_PRESETS[@]}"; do check_preset a "$P2P_NS_LA" "$preset"; done
check_preset b "$P2P_NS_LB" home

# ---- our STUN client reads the router's public address ------------------------------------------
if [ -n "$GDNAT_BIN" ]; then
    bash "$HERE/bed.sh" preset a home >/dev/null
    out=$(ip netns exec "$P2P_NS_LA" timeout 10 "$GDNAT_BIN" stun --server "$P2P_STUN_IP:$P2P_STUN_PORT" 2>&1)
    check stun.public-endpoint "want public $P2P_WAN_A:<port>, got: $(tr '\n' ' ' <<<"$out")" \
        grep -qE "^public $P2P_WAN_A:[0-9]+$" <<<"$out"
    # An unreachable server (nobody on 198.18.0.99) fails with code 2 after the 3 s bound.
    t0=$(p2p_now_ms)
    out=$(ip netns exec "$P2P_NS_LA" timeout 10 "$GDNAT_BIN" stun --server 198.18.0.99:3478 2>&1); rc=$?
    took=$(( $(p2p_now_ms) - t0 ))
    check stun.unreachable-server "exit $rc in $took ms: $out" \
        bash -c "[ $rc = 1 ] && grep -q '(code 2)' <<<'$out' && [ $took -ge 3000 ] && [ $took -lt 6000 ]"
else
    skip stun.public-endpoint "no --gdnat BIN given"
fi

# ---- the tracker: two players find each other; refusals are typed ------------------------------
if [ -n "$GDNAT_BIN" ]; then
    bash "$HERE/bed.sh" preset a home >/dev/null && bash "$HERE/bed.sh" preset b home >/dev/null
    TRACKER="$P2P_STUN_IP:$P2P_TRACKER_PORT"
    port_a=$(( 20000 + RANDOM % 20000 )); port_b=$(( port_a + 1 ))
    out_a="$P2P_STATE/announce-a.txt"; out_b="$P2P_STATE/announce-b.txt"
    announce() {   # <lan namespace> <local port> <hold ms>: STUN, announce from a second socket, wait for 1 other, stay, leave
        ip netns exec "$1" timeout 20 "$GDNAT_BIN" announce --tracker "$TRACKER" --room "$P2P_ROOM" \
            --stun "$P2P_STUN_IP:$P2P_STUN_PORT" --local-port "$2" --wait-peers 1 --hold "$3" --timeout 8000 --every 300 --leave
    }
    t0=$(p2p_now_ms)
    # A stays 1 s longer than B, so it sees B join and leave (the membership changes a game's
    # peers_changed signal reports).
    announce "$P2P_NS_LA" "$port_a" 2500 > "$out_a" 2>&1 & pid_a=$!
    sleep 0.3
    announce "$P2P_NS_LB" "$port_b" 1000 > "$out_b" 2>&1; rc_b=$?
    wait "$pid_a"; rc_a=$?
    took=$(( $(p2p_now_ms) - t0 ))
    pub_a=$(sed -n 's/^public //p' "$out_a"); pub_b=$(sed -n 's/^public //p' "$out_b")
    check tracker.a-finds-b "A (public ${pub_a:-?}) lists B ${pub_b:-?} and not itself: $(grep -E '^(peer|error)' "$out_a" | tr '\n' ' ')" \
        bash -c "[ $rc_a = 0 ] && [ -n '$pub_b' ] && grep -qx 'peer $pub_b' '$out_a' && ! grep -qx 'peer $pub_a' '$out_a'"
    check tracker.b-finds-a "B (public ${pub_b:-?}) lists A ${pub_a:-?} and not itself: $(grep -E '^(peer|error)' "$out_b" | tr '\n' ' ') ($took ms)" \
        bash -c "[ $rc_b = 0 ] && [ -n '$pub_a' ] && grep -qx 'peer $pub_a' '$out_b' && ! grep -qx 'peer $pub_b' '$out_b'"
    check tracker.peers-changed "A saw: $(grep -E '^(joined|left) ' "$out_a" | tr '\n' ' ')" \
        bash -c "grep -E '^(joined|left) ' '$out_a' | tr '\n' ' ' | grep -qx 'joined $pub_b left $pub_b '"
    check tracker.public-ports-announced "A announced ${pub_a:-?} (router A), B ${pub_b:-?} (router B)" \
        bash -c "[[ '$pub_a' == $P2P_WAN_A:* && '$pub_b' == $P2P_WAN_B:* ]]"
    out=$(ip netns exec "$P2P_NS_LA" timeout 10 "$GDNAT_BIN" announce --tracker "$TRACKER" --room not-whitelisted --port 5 2>&1); rc=$?
    check tracker.whitelist-refusal "exit $rc: $(grep error <<<"$out")" bash -c "[ $rc = 1 ] && grep -q '(code 6)' <<<'$out' && grep -q 'whitelist' <<<'$out'"
    out=$(ip netns exec "$P2P_NS_LA" timeout 10 "$GDNAT_BIN" announce --tracker "$TRACKER" --room "$P2P_ROOM" --port 5 --connection-id 12345 --no-retry 2>&1); rc=$?
    check tracker.error-reply "bogus connection id, no retry: exit $rc: $(grep error <<<"$out")" \
        bash -c "[ $rc = 1 ] && grep -q 'Connection ID missmatch. (code 5)' <<<'$out'"
    out=$(ip netns exec "$P2P_NS_LA" timeout 10 "$GDNAT_BIN" announce --tracker "$TRACKER" --room "$P2P_ROOM" --port 5 --connection-id 12345 --leave 2>&1); rc=$?
    check tracker.reconnect-after-error-reply "bogus connection id, retried after a fresh connect: exit $rc" \
        bash -c "[ $rc = 0 ] && grep -q '^announced port 5 ' <<<'$out' && grep -qx left <<<'$out'"
    out=$(ip netns exec "$P2P_NS_LA" timeout 15 "$GDNAT_BIN" announce --tracker 198.18.0.99:6969 --room "$P2P_ROOM" --port 5 2>&1); rc=$?
    check tracker.unreachable "exit $rc: $(grep error <<<"$out")" bash -c "[ $rc = 1 ] && grep -q '(code 2)' <<<'$out'"
else
    skip tracker "no --gdnat BIN given"
fi

# ---- hole punching across the presets -------------------------------------------------------------
# punch_pair <preset A> <preset B> <ok|fail>: both players run the whole flow (NAT behaviour,
# STUN, tracker, punch); ok needs both to report the other's public endpoint and router A's
# conntrack to hold the flow between the two routers' public addresses; fail needs both to
# fail with code 2 naming the NAT within the 8 s bound (+ the flow before it, + 4 s margin).
punch_pair() {
    local pa=$1 pb=$2 want=$3 port_a port_b out_a out_b rc_a rc_b pid t0 took name="punch.$1-$2"
    bash "$HERE/bed.sh" preset a "$pa" >/dev/null && bash "$HERE/bed.sh" preset b "$pb" >/dev/null || { fail "$name" "presets"; return; }
    port_a=$(( 20000 + RANDOM % 20000 )); port_b=$(( port_a + 1 ))
    out_a="$P2P_STATE/punch-a.txt"; out_b="$P2P_STATE/punch-b.txt"
    punch() { ip netns exec "$1" timeout 40 "$GDNAT_BIN" punch --tracker "$P2P_STUN_IP:$P2P_TRACKER_PORT" \
        --stun "$P2P_STUN_IP:$P2P_STUN_PORT" --room "$P2P_ROOM" --local-port "$2" --handoff-check; }
    t0=$(p2p_now_ms)
    punch "$P2P_NS_LA" "$port_a" > "$out_a" 2>&1 & pid=$!
    sleep 0.2
    punch "$P2P_NS_LB" "$port_b" > "$out_b" 2>&1; rc_b=$?
    wait "$pid"; rc_a=$?
    took=$(( $(p2p_now_ms) - t0 ))
    local line_a line_b pub_a pub_b
    line_a=$(grep -E '^(punched|error)' "$out_a" | head -1); line_b=$(grep -E '^(punched|error)' "$out_b" | head -1)
    pub_a=$(sed -n 's/^public //p' "$out_a"); pub_b=$(sed -n 's/^public //p' "$out_b")
    if [ "$want" = ok ]; then
        # The punched peer is the other router's public address (its port may differ from the
        # announced one when that side is symmetric).
        check "$name.ok" "A: $line_a | B: $line_b ($took ms)" \
            bash -c "[ $rc_a = 0 ] && [ $rc_b = 0 ] && grep -q '^punched peer $P2P_WAN_B:' '$out_a' && grep -q '^punched peer $P2P_WAN_A:' '$out_b'"
        local peer_b; peer_b=$(sed -n 's/^punched peer \([0-9.:]*\) .*/\1/p' "$out_a")
        # Router A's flow of the punched socket, in whichever direction it was created (a
        # full-cone router creates it inbound): LAN A:port <-> B's public endpoint, NATed to
        # A's public address.
        local flow; flow=$(ip netns exec "$P2P_NS_RA" conntrack -L -p udp 2>/dev/null \
            | grep -F "src=$P2P_LAN_A dst=$P2P_WAN_B sport=$port_a dport=${peer_b##*:} " | grep -F "src=$P2P_WAN_B dst=$P2P_WAN_A sport=${peer_b##*:} ")
        check "$name.direct-path" "router A conntrack: $(tr -s ' ' <<<"$flow" | head -1)" [ -n "$flow" ]
        # The hand-off: each side closed its punch socket, bound the port again on a new one
        # (no SO_REUSEADDR, as ENet) and exchanged packets with the peer through the same NATs.
        check "$name.handoff" "A: $(grep '^handoff' "$out_a") | B: $(grep '^handoff' "$out_b")" \
            bash -c "grep -q '^handoff peer $P2P_WAN_B:.* local_port $port_a ' '$out_a' && grep -q '^handoff peer $P2P_WAN_A:.* local_port $port_b ' '$out_b'"
    else
        check "$name.fails-clearly" "A: $line_a | B: $line_b ($took ms)" \
            bash -c "[ $rc_a = 1 ] && [ $rc_b = 1 ] && grep -q 'no packet from peer.*relay.*(code 2)' '$out_a' && grep -q 'no packet from peer.*relay.*(code 2)' '$out_b' && [ $took -lt 16000 ]"
    fi
}
if [ -n "$GDNAT_BIN" ]; then
    punch_pair home home ok
    punch_pair fullcone home ok
    punch_pair fullcone fullcone ok
    punch_pair symmetric fullcone ok
    punch_pair symmetric home fail
    punch_pair symmetric symmetric fail
else
    skip punch "no --gdnat BIN given"
fi

bash "$HERE/bed.sh" preset a "$PRESET_A" >/dev/null && bash "$HERE/bed.sh" preset b "$PRESET_B" >/dev/null
echo "verify took $(( $(p2p_now_ms) - T0 )) ms"
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" = 0 ]
