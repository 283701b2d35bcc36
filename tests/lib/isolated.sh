#!/usr/bin/env bash
# Run a command in a fresh, throwaway network namespace (as root):
#
#   tests/lib/isolated.sh <cmd...>     the command's exit code is returned
#   tests/lib/isolated.sh --self-test  prove that multicast works on lo inside, and nothing else
#
# The namespace comes from `unshare --net`: it is anonymous and disappears when the command
# exits. Inside, only `lo` exists; it is brought up with the multicast flag and a route
# 239.0.0.0/8 dev lo src 127.0.0.1 (so unicast answers can come back to the sender), so SSDP (239.255.255.250:1900) sent by the command is looped back to
# listeners on 127.0.0.1 and can never leave the machine. There is no other interface and no
# default route: any other destination is unreachable.
#
# GDNAT_ROOT_NETNS is exported (the namespace we were started from) for tests/lib/netns-guard.sh.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { echo "isolated: ERROR: $*" >&2; exit 1; }

[ $# -ge 1 ] || { sed -n '2,14p' "$0" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "must run as root (unshare --net)"
command -v unshare >/dev/null && command -v ip >/dev/null || die "needs unshare (util-linux) and ip (iproute2)"

if [ -z "${GDNAT_ISOLATED_INSIDE:-}" ]; then
    GDNAT_ROOT_NETNS="${GDNAT_ROOT_NETNS:-$(readlink /proc/self/ns/net)}"
    export GDNAT_ROOT_NETNS
    GDNAT_ISOLATED_INSIDE=1 exec unshare --net -- bash "$0" "$@"
fi

# ---- from here on we are inside the fresh namespace ----------------------------------------------
unset GDNAT_ISOLATED_INSIDE
[ "$(readlink /proc/self/ns/net)" != "$GDNAT_ROOT_NETNS" ] || die "unshare did not give a new namespace"
ip link set lo up
ip link set lo multicast on
ip route add 239.0.0.0/8 dev lo src 127.0.0.1

self_test() {
    local passed=0 failed=0
    result() { if [ "$1" = 0 ]; then passed=$((passed + 1)); echo "PASS $2"; else failed=$((failed + 1)); echo "FAIL $2"; fi; }

    source "$HERE/netns-guard.sh"
    gdnat_require_netns 2>/dev/null; result $? "netns-guard says this is not the root namespace"

    [ "$(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')" = "lo " ]
    result $? "only lo exists"

    ip route get 239.255.255.250 2>/dev/null | grep -q 'dev lo'
    result $? "239.255.255.250 routes via lo"

    ! ip route get 198.51.100.1 >/dev/null 2>&1
    result $? "no route to anything else (198.51.100.1 unreachable)"

    # A receiver joined to the SSDP group on 127.0.0.1, and two senders: one that relies on the
    # route only (like an SSDP client with default options) and one with IP_MULTICAST_IF set.
    local out
    out=$(timeout 10 python3 - 2>&1 <<'PY'
import socket, struct, sys, time
GROUP, PORT = "239.255.255.250", 1900
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
rx.bind(("0.0.0.0", PORT))
rx.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
              struct.pack("4s4s", socket.inet_aton(GROUP), socket.inet_aton("127.0.0.1")))
rx.settimeout(2.0)
ok = True
for name, set_if in (("route-only sender", False), ("IP_MULTICAST_IF=127.0.0.1 sender", True)):
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if set_if:
        tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    token = ("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nX-TOKEN: %f\r\n\r\n" % time.time()).encode()
    tx.sendto(token, (GROUP, PORT))
    got = None
    try:
        while True:
            data, peer = rx.recvfrom(2048)
            if data == token:
                got = peer
                break
    except socket.timeout:
        pass
    if got and got[0] != "127.0.0.1":
        print("FAIL multicast on lo: %s used source %s, not 127.0.0.1" % (name, got[0]))
        got = None
    print(("PASS" if got else "FAIL") + " multicast on lo: %s -> %s:%d received%s"
          % (name, GROUP, PORT, " from %s:%d" % got if got else " nothing"))
    ok = ok and bool(got)
    tx.close()
sys.exit(0 if ok else 1)
PY
    )
    local rc=$?
    echo "$out"
    passed=$((passed + $(grep -c '^PASS' <<<"$out")))
    failed=$((failed + $(grep -c '^FAIL' <<<"$out")))
    [ $rc = 0 ] || [ "$(grep -c '^FAIL' <<<"$out")" -gt 0 ] || { failed=$((failed + 1)); echo "FAIL multicast receiver/sender exited $rc"; }
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
}

if [ "$1" = --self-test ]; then
    set +e
    self_test
    exit $?
fi
exec "$@"
