# Reads the test-bed router's own state for "nothing left on the router" checks, and fails when
# the tool that reads it fails: an `upnpc` or `nft` that exits non-zero, prints nothing, or stops
# before the end of the listing is an error, never "nothing left". Sourced by
# tests/testbed/verify.sh, tests/e2e/core-e2e.sh, tests/godot/run-conformance.sh, tests/bench/run.sh,
# tests/demo/run-demo.sh, and called by tests/godot/conformance/testbed.gd (through bash).
# Self-test (fake tools, no router): tests/lib/router-table-selftest.sh. (bash; no options changed)
# Run as a command (for callers that are not bash, such as GDScript's OS.execute):
#   bash tests/lib/router-table.sh upnpc-table NS DESC_URL | nft-dnat-rules NS

# gdnat_upnpc_table NS DESC_URL: prints the router's port mappings as `upnpc -l` lists them,
# one line each (` 0 TCP  7777->10.77.0.2:7777 'desc' '' 0`), nothing when the table is empty.
# NS is the namespace to run upnpc in ("" or "-" = this one). Returns 1 with a `router-table:` line on
# stderr when upnpc fails, times out, or did not walk the table to its end (miniupnpc prints the
# `i protocol exPort->...` header, then GetGenericPortMappingEntry until the router answers an
# error, usually 713 SpecifiedArrayIndexInvalid).
gdnat_upnpc_table() {
    local ns=$1 url=$2 out rc
    if [ -n "$ns" ] && [ "$ns" != - ]; then
        out=$(ip netns exec "$ns" timeout 20 upnpc -i -u "$url" -l 2>&1); rc=$?
    else
        out=$(timeout 20 upnpc -i -u "$url" -l 2>&1); rc=$?
    fi
    if [ "$rc" != 0 ]; then
        echo "router-table: upnpc -l failed (exit $rc): $(tail -3 <<<"$out" | tr '\n' ' ' | cut -c1-300)" >&2
        return 1
    fi
    if ! grep -q '^ *i protocol exPort->inAddr:inPort' <<<"$out" \
            || ! grep -q 'GetGenericPortMappingEntry() returned' <<<"$out"; then
        echo "router-table: upnpc -l did not list the router's table to its end:" \
             "$(tail -3 <<<"$out" | tr '\n' ' ' | cut -c1-300)" >&2
        return 1
    fi
    grep -E '^ *[0-9]+ +(TCP|UDP) +[0-9]+->' <<<"$out"
    return 0
}

# gdnat_nft_dnat_rules NS: prints the dnat rules in miniupnpd's chain (inet filter
# prerouting_miniupnpd) of namespace NS, nothing when there are none. Returns 1 with a
# `router-table:` line on stderr when nft fails or does not print that chain.
gdnat_nft_dnat_rules() {
    local ns=$1 out rc
    out=$(ip netns exec "$ns" timeout 10 nft list chain inet filter prerouting_miniupnpd 2>&1); rc=$?
    if [ "$rc" != 0 ]; then
        echo "router-table: nft list chain inet filter prerouting_miniupnpd failed (exit $rc): $(tr '\n' ' ' <<<"$out" | cut -c1-300)" >&2
        return 1
    fi
    if ! grep -q 'chain prerouting_miniupnpd {' <<<"$out"; then
        echo "router-table: nft did not print the chain prerouting_miniupnpd: $(tr '\n' ' ' <<<"$out" | cut -c1-300)" >&2
        return 1
    fi
    grep -E '\bdnat\b' <<<"$out"
    return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case "${1:-}" in
        upnpc-table) gdnat_upnpc_table "${2:-}" "${3:-}" ;;
        nft-dnat-rules) gdnat_nft_dnat_rules "${2:-}" ;;
        *) echo "usage: router-table.sh upnpc-table NS DESC_URL | nft-dnat-rules NS" >&2; exit 2 ;;
    esac
fi
