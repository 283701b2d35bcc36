#!/usr/bin/env bash
# Checks that the test bed is a working NAT router, with Debian's own clients (upnpc, natpmpc),
# a small PCP client of ours (tests/testbed/pcp-client.py: Debian has none) and real traffic
# (tests/testbed/probe.sh). Run through `tests/testbed/testbed.sh verify`.
#
# Prints `PASS|FAIL name detail` per check and `N passed, N failed`; exit 1 on any FAIL.
# Brings the bed up (and down again at exit) if it was not up; leaves a running bed running.
# With IGD_STUN=no it checks the refusing router instead (reserved WAN address, no STUN).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=probe.sh
source "$HERE/probe.sh"
# shellcheck source=../lib/router-table.sh
source "$HERE/../lib/router-table.sh"   # gdnat_nft_dnat_rules: a failed nft is a failure

[ "$(id -u)" = 0 ] || { echo "verify: must run as root" >&2; exit 1; }

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS $1 ${2:-}"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1 ${2:-}"; }
# check <name> <detail> <cmd...>: PASS when the command succeeds.
check() { local name=$1 detail=$2; shift 2; if "$@"; then pass "$name" "$detail"; else fail "$name" "$detail"; fi; }
info() { echo "INFO $*"; }

OWN_BED=no
if ! tb_is_up; then
    OWN_BED=yes
    trap 'bash "$HERE/testbed.sh" down >/dev/null' EXIT
    bash "$HERE/testbed.sh" up || { echo "FAIL up could not bring the test bed up"; echo "0 passed, 1 failed"; exit 1; }
fi

lan() { ip netns exec "$TB_NS_LAN" timeout 15 "$@"; }
# pcp <protocol> <internal_port> <lifetime> <nonce> [options]: one PCP MAP from the LAN host.
pcp() {
    local proto=$1 port=$2 lifetime=$3 nonce=$4; shift 4
    lan python3 "$HERE/pcp-client.py" --server "$TB_LAN_ROUTER_IP" --client "$TB_LAN_HOST_IP" \
        --protocol "$proto" --internal-port "$port" --lifetime "$lifetime" --nonce "$nonce" "$@" 2>&1
}
# PCP mapping nonces (RFC 6887 11.1: refresh and delete need the nonce of the MAP).
PCP_NONCE=000102030405060708090a0b
PCP_OTHER_NONCE=0c0d0e0f1011121314151617
upnpc_u() { lan upnpc -i -u "$TB_DESC_URL" "$@" 2>&1; }
contains() { case "$1" in *"$2"*) return 0 ;; *) return 1 ;; esac; }
# check_probe <name> <reached|unreachable> <proto> <port>: runs a probe (fresh token and WAN
# source port) and checks its verdict; a reached probe must also show the real WAN peer (no SNAT).
check_probe() {
    local name=$1 want=$2 line ok=no
    line=$(probe "$3" "$4")
    if [ "${line%% *}" = "$want" ]; then
        if [ "$want" = unreachable ] || contains "$line" "peer=$TB_WAN_PEER_IP:"; then ok=yes; fi
    fi
    if [ $ok = yes ]; then pass "$name" "$line"; else fail "$name" "want $want, got: $line"; fi
}

# ---- topology -------------------------------------------------------------------------------
mpid=$(awk '$1=="miniupnpd"{print $2}' "$TB_PIDS" 2>/dev/null | tail -1)
check topology.miniupnpd-in-router "pid ${mpid:-?} in $TB_NS_ROUTER" \
    bash -c "[ -n '$mpid' ] && ip netns pids '$TB_NS_ROUTER' | grep -qx '$mpid'"
check topology.root-ns-untouched "no wan0/lan0 and no test address in the root namespace" \
    bash -c "! ip -o link | grep -qE ': (wan0|lan0)[@:]' && ! ip -o addr | grep -qE '198\.51\.100\.|10\.77\.0\.'"
check topology.lan-isolated "no route off the machine from $TB_NS_LAN (only eth0/lo)" \
    bash -c "[ \"\$(ip -n '$TB_NS_LAN' -o link | awk -F': ' '{print \$2}' | cut -d@ -f1 | sort | tr '\n' ' ')\" = 'eth0 lo ' ]"

# ---- SSDP discovery + external address --------------------------------------------------------
t0=$(tb_now_ms)
out=$(lan upnpc -i -l 2>&1)
t1=$(tb_now_ms)
info "upnpc -i -l (SSDP) took $((t1 - t0)) ms"
check upnp.ssdp-discovery "upnpc -i -l finds $TB_DESC_URL" contains "$out" "desc: $TB_DESC_URL"

if [ "${IGD_STUN:-yes}" = no ]; then
    # ---- the refusing router: reserved WAN address and no STUN ---------------------------------
    check refuse.log "miniupnpd says forwarding is impossible" \
        grep -q 'Port forwarding is impossible' "$TB_STATE/miniupnpd.log"
    out=$(upnpc_u -s)
    check refuse.external-ip-empty "GetExternalIPAddress answers an empty address" \
        contains "$out" "GetExternalIPAddress failed. (empty string)"
    out=$(upnpc_u -a "$TB_LAN_HOST_IP" 7777 7777 TCP)
    check refuse.add-501 "AddPortMapping fails with 501" contains "$out" "501"
    check_probe refuse.probe unreachable tcp 7777
    out=$(lan natpmpc -g "$TB_LAN_ROUTER_IP" 2>&1)
    check refuse.natpmp "NAT-PMP public address: network failure" contains "$out" "network failure"
    out=$(pcp tcp 7779 600 "$PCP_NONCE")
    check refuse.pcp "PCP MAP answers result 8 NO_RESOURCES: $out" contains "$out" "result=8 name=NO_RESOURCES "
else
    check upnp.external-ip "ExternalIPAddress = $TB_WAN_ROUTER_IP (via SSDP)" contains "$out" "ExternalIPAddress = $TB_WAN_ROUTER_IP"
    out=$(upnpc_u -s)
    check upnp.external-ip-direct "ExternalIPAddress = $TB_WAN_ROUTER_IP (-u, no SSDP)" contains "$out" "ExternalIPAddress = $TB_WAN_ROUTER_IP"

    # ---- UPnP mappings and real traffic -----------------------------------------------------
    for proto in TCP UDP; do
        p=${proto,,}
        out=$(upnpc_u -e gdnat-verify -a "$TB_LAN_HOST_IP" 7777 7777 "$proto")
        check "upnp.add-$p" "AddPortMapping 7777 $proto" contains "$out" "external $TB_WAN_ROUTER_IP:7777 $proto is redirected"
        check_probe "upnp.forward-$p" reached "$p" 7777
    done
    out=$(upnpc_u -l)
    check upnp.list "GetGenericPortMappingEntry lists TCP and UDP 7777" \
        bash -c "grep -q 'TCP  7777->$TB_LAN_HOST_IP:7777' <<<\"\$1\" && grep -q 'UDP  7777->$TB_LAN_HOST_IP:7777' <<<\"\$1\"" _ "$out"
    for proto in TCP UDP; do
        p=${proto,,}
        out=$(upnpc_u -d 7777 "$proto")
        check "upnp.delete-$p" "DeletePortMapping 7777 $proto" contains "$out" "UPNP_DeletePortMapping() returned : 0"
        check_probe "upnp.deleted-unreachable-$p" unreachable "$p" 7777
    done

    out=$(upnpc_u -e gdnat-lease -a "$TB_LAN_HOST_IP" 7780 7780 TCP 3600)
    lease=$(upnpc_u -l | awk '$2=="TCP" && $3 ~ /^7780->/ {print $NF}')
    check upnp.lease "lease 3600 listed as ${lease:-?} (3500..3600)" \
        bash -c "[[ '$lease' =~ ^[0-9]+$ ]] && [ '$lease' -ge 3500 ] && [ '$lease' -le 3600 ]"
    check_probe upnp.lease-forward reached tcp 7780
    upnpc_u -d 7780 TCP >/dev/null

    out=$(upnpc_u -a "$TB_LAN_HOST2_IP" 7781 7781 TCP)
    check upnp.718-other-client "secure_mode: mapping for $TB_LAN_HOST2_IP from $TB_LAN_HOST_IP gets 718" \
        contains "$out" "failed with code 718"

    # ---- NAT-PMP ------------------------------------------------------------------------------
    out=$(lan natpmpc -g "$TB_LAN_ROUTER_IP" 2>&1)
    check natpmp.public-address "natpmpc: Public IP address : $TB_WAN_ROUTER_IP" contains "$out" "Public IP address : $TB_WAN_ROUTER_IP"
    out=$(lan natpmpc -g "$TB_LAN_ROUTER_IP" -a 7778 7778 tcp 60 2>&1)
    check natpmp.map "natpmpc maps TCP 7778 for 60 s" contains "$out" "Mapped public port 7778 protocol TCP to local port 7778"
    check_probe natpmp.forward reached tcp 7778
    lan natpmpc -g "$TB_LAN_ROUTER_IP" -a 7778 7778 tcp 0 >/dev/null 2>&1
    check_probe natpmp.unmap unreachable tcp 7778

    # ---- PCP (RFC 6887 MAP, the exchange of tests/data/miniupnpd/pcp/) --------------------------
    # pcp_check <name> <want: result=... prefix> <pcp output>: the answer line must start with the
    # wanted fields and carry our nonce back.
    pcp_check() {
        local name=$1 want=$2 out=$3
        if [ "${out#"$want"}" != "$out" ] && contains "$out" " nonce_ok=True "; then pass "$name" "$out"; else fail "$name" "want '$want...', got: $out"; fi
    }
    want_map="result=0 name=SUCCESS lifetime=600 "
    out=$(pcp tcp 7779 600 "$PCP_NONCE")
    pcp_check pcp.map "$want_map" "$out"
    check pcp.map-external "assigned external $TB_WAN_ROUTER_IP:7779" \
        contains "$out" " protocol=6 internal_port=7779 external=$TB_WAN_ROUTER_IP:7779 "
    check_probe pcp.forward reached tcp 7779
    out=$(pcp tcp 7779 0 "$PCP_OTHER_NONCE")
    pcp_check pcp.delete-other-nonce "result=2 name=NOT_AUTHORIZED lifetime=0 " "$out"
    check_probe pcp.other-nonce-kept reached tcp 7779
    out=$(pcp tcp 7779 0 "$PCP_NONCE")
    pcp_check pcp.delete "result=0 name=SUCCESS lifetime=0 " "$out"
    check_probe pcp.deleted-unreachable unreachable tcp 7779
    # Port 80 is outside the allow rule (1024-65535): miniupnpd tries every external port
    # first, about 1 s (tests/data/miniupnpd/pcp/map-tcp-80-denied.txt).
    out=$(pcp tcp 80 600 "$PCP_OTHER_NONCE" --timeout 10)
    pcp_check pcp.port-80-denied "result=2 name=NOT_AUTHORIZED lifetime=0 " "$out"
fi

# ---- router health -----------------------------------------------------------------------------
check router.alive "miniupnpd still running" tb_pid_alive "$mpid"
if rules=$(gdnat_nft_dnat_rules "$TB_NS_ROUTER" 2>&1); then
    check router.no-leftover-rules "no dnat rule left (${rules:-none})" [ -z "$rules" ]
else
    fail router.no-leftover-rules "could not read the router's rules: $rules"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
