#!/usr/bin/env bash
# Side by side, in one run: Tollgate on PostgreSQL against the reference
# Django + SimpleJWT peer on the same PostgreSQL, driven by the same wrk
# script (bench/auth.lua) on loopback, for token obtain (both users hold a
# pbkdf2_sha256 hash with Django's 260000 iterations), refresh with
# rotation, verify, and an authenticated GET. Prints one RESULT line per
# server and mode, then the ratios.
#
#   apt-get install -y wrk python3-django python3-djangorestframework \
#       python3-djangorestframework-simplejwt python3-jwt gunicorn python3-psycopg2
#   bench/compare.sh
#
# Environment (optional): PG=postgres://postgres@127.0.0.1:5432/test?sslmode=disable
#   DURATION=10s WARMUP=2s CONNS=32 THREADS=2 MODES="me verify refresh obtain"
#   TG_REFRESH_TOKENS=120000 DJ_REFRESH_TOKENS=20000 TG_PORT=8101 DJ_PORT=8102 RESULTS=/tmp/tollgate-bench
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
PEER="${PEER:-$ROOT/../shared/peers/django-simplejwt}"
PG="${PG:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
DURATION="${DURATION:-10s}" WARMUP="${WARMUP:-2s}" CONNS="${CONNS:-32}" THREADS="${THREADS:-2}"
MODES="${MODES:-me verify refresh obtain}"
# Each refresh request spends one token; a server that runs out answers 401s
# and its figure is void (the ratio step refuses it). Tollgate needs more.
TG_REFRESH_TOKENS="${TG_REFRESH_TOKENS:-120000}" DJ_REFRESH_TOKENS="${DJ_REFRESH_TOKENS:-20000}"
TG_PORT="${TG_PORT:-8101}" DJ_PORT="${DJ_PORT:-8102}" RESULTS="${RESULTS:-/tmp/tollgate-bench}"
USER_NAME=alice PASSWORD=alice-password-123
mkdir -p "$RESULTS"; : > "$RESULTS/results.txt"
command -v wrk >/dev/null || { echo "compare.sh: install wrk (apt-get install -y wrk)" >&2; exit 1; }

# Tollgate: its own schema in the shared database, a fresh HS256 key.
SCHEMA=tollgate_bench
psql "$PG" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE; CREATE SCHEMA $SCHEMA"
TG_DB="$PG&search_path=$SCHEMA"
KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
(cd "$ROOT" && go build -o "$RESULTS/tollgate" ./cmd/tollgate && go build -o "$RESULTS/mint" ./bench/mint)
"$RESULTS/mint" -url "$TG_DB" -key "$KEY" -user "$USER_NAME" -password "$PASSWORD"
TOLLGATE_DATABASE_URL="$TG_DB" TOLLGATE_SIGNING_KEY="$KEY" TOLLGATE_ADDR="127.0.0.1:$TG_PORT" \
TOLLGATE_LOGIN_RATE=1000000/s TOLLGATE_REFRESH_RATE=1000000/s TOLLGATE_LOGIN_FAILURE_LIMIT=0 TOLLGATE_KEEP_PASSWORD_HASHES=true \
TOLLGATE_FLUSH_INTERVAL=0 TOLLGATE_LOG_LEVEL=error \
    "$RESULTS/tollgate" serve 2> "$RESULTS/tollgate.log" &
TG_PID=$!
# Django: the peer's own launcher, PostgreSQL database "djpeer" on the same server.
(cd "$PEER" && DB=postgres PORT="$DJ_PORT" CONN_MAX_AGE=60 ./run.sh) > "$RESULTS/django.log" 2>&1 &
DJ_PID=$!
trap 'kill $TG_PID $DJ_PID 2>/dev/null || true' EXIT
for url in "http://127.0.0.1:$TG_PORT/healthz" "http://127.0.0.1:$DJ_PORT/api/me/"; do
    for _ in $(seq 1 120); do curl -s -o /dev/null "$url" && break; sleep 0.5; done
done

login() {  # base path -> access token
    curl -sf -X POST "$1$2" -H 'Content-Type: application/json' \
        -d "{\"username\":\"$USER_NAME\",\"password\":\"$PASSWORD\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access"])'
}
wrk_run() {  # label base mepath access tokens mode duration
    MODE="$6" TOKEN="$4" ACCESS="$4" TOKENS_FILE="$5" ME_PATH="$3" BENCH_USER="$USER_NAME" BENCH_PASSWORD="$PASSWORD" \
        wrk -t "$THREADS" -c "$CONNS" -d "$7" --timeout 30s --latency -s "$HERE/auth.lua" "$2" -- "$THREADS" \
        > "$RESULTS/$1-$6.txt" 2>&1
    grep '^RESULT' "$RESULTS/$1-$6.txt" | sed "s/^RESULT/RESULT server=$1/"
}
for mode in $MODES; do
    for server in tollgate django; do
        if [ $server = tollgate ]; then
            base="http://127.0.0.1:$TG_PORT"; pfx=/api/auth/; me=/api/auth/user/
            mint() { "$RESULTS/mint" -url "$TG_DB" -key "$KEY" -user "$USER_NAME" -password "$PASSWORD" -n "$1"; }
            ntokens=$TG_REFRESH_TOKENS
        else
            base="http://127.0.0.1:$DJ_PORT"; pfx=/api/auth/; me=/api/me/
            mint() { (cd "$PEER" && DB=postgres /usr/bin/python3 manage.py mint_refresh_tokens "$USER_NAME" "$1"); }
            ntokens=$DJ_REFRESH_TOKENS
        fi
        access="$(login "$base" "${pfx}token/")"
        tokens=/dev/null
        if [ "$mode" = refresh ]; then mint "$ntokens" > "$RESULTS/$server-tokens.txt"; tokens="$RESULTS/$server-tokens.txt"; fi
        wrk_run "$server" "$base" "$me" "$access" "$tokens" "$mode" "$WARMUP" > /dev/null
        if [ "$mode" = refresh ]; then mint "$ntokens" > "$RESULTS/$server-tokens.txt"; fi
        wrk_run "$server" "$base" "$me" "$access" "$tokens" "$mode" "$DURATION" | tee -a "$RESULTS/results.txt"
        sleep 3
    done
done
# Ratios Tollgate / Django per mode: rps (higher is better), p50 and p99 (lower is better).
python3 - "$RESULTS/results.txt" <<'PY'
import re, sys
r = {}
for line in open(sys.argv[1]):
    f = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
    r[(f["server"], f["mode"])] = f
for mode in sorted({m for _, m in r}):
    t, d = r.get(("tollgate", mode)), r.get(("django", mode))
    void = [s for s, f in (("tollgate", t), ("django", d)) if f and int(f.get("status_ge400", "0")) > 0]
    if void:
        print(f"RATIO mode={mode} VOID: {', '.join(void)} answered errors (ran out of refresh tokens?)")
    elif t and d:
        print(f"RATIO mode={mode} rps_x={float(t['rps'])/float(d['rps']):.1f} "
              f"p50 {t['p50_ms']}ms vs {d['p50_ms']}ms  p99 {t['p99_ms']}ms vs {d['p99_ms']}ms")
PY
