#!/usr/bin/env bash
# Authenticated GET through the middleware against the same handler without
# it, over loopback with wrk, side by side in one run (SPEC: at least 90% of
# the requests/s). The same token is sent on every request, as a client does
# for its access token's lifetime; CACHE=-1 turns the verified-token cache
# off to measure first-sight verification on every request instead.
#
#   apt-get install -y wrk
#   bench/authget.sh            # DURATION=10s CONNS=64 THREADS=1 ROUNDS=3 CACHE=0
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DURATION="${DURATION:-10s}" CONNS="${CONNS:-64}" THREADS="${THREADS:-1}" ROUNDS="${ROUNDS:-3}" CACHE="${CACHE:-0}"
ADDR=127.0.0.1:8301
OUT="$(mktemp -d)"
(cd "$HERE/.." && go build -o "$OUT/authget" ./bench/authget)
"$OUT/authget" -addr "$ADDR" -cache "$CACHE" > "$OUT/token" &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$OUT"' EXIT
for _ in $(seq 1 50); do [ -s "$OUT/token" ] && curl -s -o /dev/null "http://$ADDR/plain" && break; sleep 0.1; done
TOKEN="$(cat "$OUT/token")"
rps() { wrk -t "$THREADS" -c "$CONNS" -d "$DURATION" "$@" | awk '/Requests\/sec/ {print $2}'; }
# Interleave the runs so drift on a shared machine hits all alike. plain is
# the bare handler with no token; plain_hdr the bare handler sent the same
# request bytes as auth (the token in the header), which separates what the
# middleware costs from what carrying a 300-byte header costs.
for round in $(seq 1 "$ROUNDS"); do
    plain=$(rps "http://$ADDR/plain")
    plain_hdr=$(rps -H "Authorization: Bearer $TOKEN" "http://$ADDR/plain")
    auth=$(rps -H "Authorization: Bearer $TOKEN" "http://$ADDR/auth")
    echo "RESULT round=$round plain_rps=$plain plain_hdr_rps=$plain_hdr auth_rps=$auth" \
        "ratio=$(python3 -c "print(f'{$auth/$plain:.3f}')") ratio_same_request=$(python3 -c "print(f'{$auth/$plain_hdr:.3f}')")"
done
