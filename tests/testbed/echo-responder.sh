#!/usr/bin/env bash
# One-shot echo responder run by socat (EXEC:) for a reachability probe in the LAN namespace.
# Reads one line (the token), records "<token> <peer ip>:<peer port>" in $PROBE_OUT and answers
# "ECHO <token> <peer ip>:<peer port>" to the sender. socat sets SOCAT_PEERADDR/SOCAT_PEERPORT.
# (A script file because socat's SYSTEM: mangles quotes; see the test-bed recipe.)
line=""
IFS= read -r -t 4 line || [ -n "$line" ] || exit 1
line=${line%$'\r'}
line=${line:0:200}
peer="${SOCAT_PEERADDR:-?}:${SOCAT_PEERPORT:-?}"
[ -n "${PROBE_OUT:-}" ] && printf '%s %s\n' "$line" "$peer" > "$PROBE_OUT"
printf 'ECHO %s %s\n' "$line" "$peer"
