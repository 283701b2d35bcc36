#!/usr/bin/env bash
# Speed of gdnat's peer-to-peer core on the two-site bed, in the same run as a reference:
# for STUN the bare round trip (one Binding request and its answer, timed inside a python3
# process: what any client needs at least), for NAT behaviour coturn's own
# turnutils_natdiscovery (issue 10's goals: STUN endpoint <= 10 ms, NAT behaviour <= 1 s).
#
#   sudo bash tests/bench/p2p.sh [--gdnat BIN] [N]     N samples per measure (default 10)
#
# Prints one line per measure: median (min-max, n) for coturn's tool and for ours, the ratio
# of the medians, and the goal. Brings the bed up (and down at exit) if it is not up.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BED="$ROOT/tests/testbed-p2p/bed.sh"
# shellcheck source=../testbed-p2p/common.sh
source "$ROOT/tests/testbed-p2p/common.sh"
GDNAT_BIN="$ROOT/target/debug/gdnat"
[ "${1:-}" = --gdnat ] && { GDNAT_BIN=$(realpath "$2"); shift 2; }
N=${1:-10}
[ -x "$GDNAT_BIN" ] || { echo "bench-p2p: $GDNAT_BIN missing (cargo build -p gdnat-cli)" >&2; exit 2; }
if ! p2p_is_up; then trap 'bash "$BED" down >/dev/null' EXIT; bash "$BED" up >/dev/null || exit 1; fi
SERVER="$P2P_STUN_IP:$P2P_STUN_PORT"
la() { ip netns exec "$P2P_NS_LA" "$@"; }
wall() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1 || return 1; t1=$(date +%s%N); echo "scale=3; ($t1 - $t0) / 1000000" | bc; }
stats() { sort -n | awk '{a[NR]=$1} END {if (NR==0) {print "- - 0"; exit} m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f %.2f %.2f %d\n", m, a[1], a[NR], NR}'; }
row() {   # <measure> <reference stats> <ours stats> <goal>
    read -r rm rmin rmax rn <<<"$2"; read -r om omin omax on <<<"$3"
    local ratio=-; [ "$rn" -gt 0 ] && [ "$on" -gt 0 ] && ratio=$(awk -v o="$om" -v r="$rm" 'BEGIN {printf "%.3f", o / r}')
    printf '| %s | %s (%s–%s, n=%s) | %s (%s–%s, n=%s) | %s× | %s |\n' "$1" "$rm" "$rmin" "$rmax" "$rn" "$om" "$omin" "$omax" "$on" "$ratio" "$4"
}
echo "date $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg), coturn $(dpkg-query -W -f='${Version}' coturn), gdnat $(git -C "$ROOT" rev-parse --short HEAD)"
echo "| measure | reference: median (min–max, n) | gdnat: median (min–max, n) | ours/reference | goal |"
echo "|---|---:|---:|---:|---|"
bash "$BED" preset a home >/dev/null
# The bare round trip: one Binding request, the answer, nothing parsed.
rtt() { la timeout 5 python3 -c '
import os, socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
request = bytes.fromhex("000100002112a442") + os.urandom(12)
t0 = time.perf_counter(); s.sendto(request, ("'"$P2P_STUN_IP"'", '"$P2P_STUN_PORT"')); s.recvfrom(2048)
print("%.3f" % ((time.perf_counter() - t0) * 1000))'; }
ref=$(for _ in $(seq "$N"); do rtt; done | stats)
inproc=$(for _ in $(seq "$N"); do la "$GDNAT_BIN" stun --server "$SERVER" | sed -n 's/^elapsed_ms //p'; done | stats)
row "STUN public endpoint (ms): bare round trip vs gdnat query() (bind, send, answer parsed), home preset" "$ref" "$inproc" "≤ 10 ms"
for preset in home fullcone symmetric; do
    bash "$BED" preset a "$preset" >/dev/null
    n=$(( N < 3 ? N : 3 ))
    ref=$(for _ in $(seq "$n"); do wall la turnutils_natdiscovery -m -f "$P2P_STUN_IP"; done | stats)
    ours=$(for _ in $(seq "$N"); do la "$GDNAT_BIN" nat-type --server "$SERVER" | sed -n 's/^elapsed_ms //p'; done | stats)
    row "NAT behaviour, $preset preset (ms): turnutils_natdiscovery -m -f wall vs gdnat discover()" "$ref" "$ours" "≤ 1000 ms"
done
bash "$BED" preset a home >/dev/null
