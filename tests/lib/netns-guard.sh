#!/usr/bin/env bash
# Guard for scripts that must never run in the machine's own (root) network namespace, e.g.
# anything that may send SSDP, NAT-PMP or PCP.
#
# Source it and call the function first thing:
#   source tests/lib/netns-guard.sh
#   gdnat_require_netns || exit 1
# or run it directly: `tests/lib/netns-guard.sh` exits 0 inside a separate namespace, 1 otherwise.
#
# How "root namespace" is told (fails closed: when isolation cannot be shown, it is refused):
#  1. /proc/self/ns/net equals /proc/1/ns/net (PID 1's namespace), when that link is readable;
#  2. /proc/self/ns/net equals $GDNAT_ROOT_NETNS, which tests/lib/isolated.sh and the test bed
#     set to the namespace they were started from;
#  3. /proc/self/ns/net is the kernel's initial namespace (fixed inode 4026531833 since Linux 6.x);
#  4. when PID 1's link is unreadable (some container runtimes deny it even to root), the
#     namespace must look like ours: every interface other than lo may carry only test addresses
#     (127/8, 10.77.0.0/24, 10.88.0.0/24, 198.51.100.0/24).

GDNAT_INIT_NETNS="net:[4026531833]"

# True (0) when every non-loopback IPv4 address of this namespace is a test address.
gdnat_netns_only_test_addresses() {
    local dev addr
    command -v ip >/dev/null || return 1
    while read -r _ dev _ addr _; do
        [ "$dev" = lo ] && continue
        case "$addr" in
            127.*|10.77.0.*|10.88.0.*|198.51.100.*) ;;
            *) return 1 ;;
        esac
    done < <(ip -o -4 addr show 2>/dev/null)
    return 0
}

# True (0) when this process is (or may be) in the machine's root network namespace.
gdnat_in_root_netns() {
    local self root
    self=$(readlink /proc/self/ns/net 2>/dev/null) || return 0
    [ -n "$self" ] || return 0
    [ "$self" = "$GDNAT_INIT_NETNS" ] && return 0
    [ -n "${GDNAT_ROOT_NETNS:-}" ] && [ "$self" = "$GDNAT_ROOT_NETNS" ] && return 0
    if root=$(readlink /proc/1/ns/net 2>/dev/null) && [ -n "$root" ]; then
        [ "$self" = "$root" ]
        return
    fi
    ! gdnat_netns_only_test_addresses
}

# Returns 1 with a message on stderr when running in the root network namespace; 0 otherwise.
gdnat_require_netns() {
    if gdnat_in_root_netns; then
        echo "netns-guard: refusing to run in the machine's own network namespace" \
             "($(readlink /proc/self/ns/net 2>/dev/null || echo unreadable));" \
             "use 'ip netns exec <test-bed ns>' or tests/lib/isolated.sh" >&2
        return 1
    fi
    return 0
}
export GDNAT_INIT_NETNS
export -f gdnat_netns_only_test_addresses gdnat_in_root_netns gdnat_require_netns

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    if gdnat_require_netns; then
        echo "netns-guard: isolated ($(readlink /proc/self/ns/net))"
        exit 0
    fi
    exit 1
fi
