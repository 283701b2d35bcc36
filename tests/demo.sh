#!/usr/bin/env bash
# The gdnat demo, headless, on the real-router test bed: sets the machine up, builds the
# addon, then discovers the router (miniupnpd in a network namespace), maps a port, proves
# the port is reachable from the WAN side, unmaps it and cleans up.
#
#   sudo bash tests/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) != 0 ]]; then
    echo "tests/demo.sh needs root (it creates network namespaces); run it with sudo" >&2
    exit 2
fi
# The demo needs no cross-build tools (mingw, zig, Wine): those are for the test command only.
bash tests/setup.sh --no-cross
bash tests/build.sh
exec bash tests/demo/run-demo.sh "$@"
