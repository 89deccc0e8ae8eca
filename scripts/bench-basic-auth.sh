#!/usr/bin/env bash
# Load benchmark: what Basic-auth clients cost everyone else. Measures the latency of token
# requests (GET /v1/duogate/tenants with X-Vault-Token, 2 connections) alone, then while
# BASIC_CONNECTIONS clients (default 6) hammer the same route with Basic auth: first with the
# right password (the verification cache answers), then with a wrong one (the failure throttle
# answers after 5 failures). On loopback, with wrk (Debian package `wrk`, installed with
# apt-get when missing and running as root). Bounded: each run lasts DURATION seconds (default
# 5, at most 10), three runs.
# Usage: scripts/bench-basic-auth.sh   (DUOGATE_BIN=path/to/duogate, default
#        target/release/duogate: `cargo build --release -p duogate`)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-5}"
(( DURATION >= 1 && DURATION <= 10 )) || { echo "bench: DURATION must be 1..10 seconds" >&2; exit 2; }
BASIC_CONNECTIONS="${BASIC_CONNECTIONS:-6}"
BIN="${DUOGATE_BIN:-target/release/duogate}"
if ! command -v wrk >/dev/null; then
  if [[ $(id -u) == 0 ]]; then apt-get install -y wrk >/dev/null; else
    echo "bench: wrk is required (apt-get install -y wrk)" >&2; exit 1; fi
fi
[[ -x "$BIN" ]] || { echo "bench: build $BIN first (cargo build --release -p duogate)" >&2; exit 1; }

work="$(mktemp -d)"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$BIN" serve --dev --listen 127.0.0.1:0 --data-dir "$work/dg" >"$work/dg.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do [[ -s "$work/dg.out" ]] && break; sleep 0.2; done
field() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())[sys.argv[2]])' "$work/dg.out" "$1"; }
url="http://$(field listen)"
token="$(field root_token)"
right="Basic $(printf '%s:%s' "$(field admin_user)" "$(field admin_password)" | base64 -w0)"
wrong="Basic $(printf '%s:%s' "$(field admin_user)" 'not the password' | base64 -w0)"
route="$url/v1/duogate/tenants"

tokens() { # label
  echo "== token requests, ${DURATION}s, 2 connections: $1"
  wrk -t1 -c2 -d"${DURATION}s" --latency -H "X-Vault-Token: $token" "$route" \
    | grep -E "Requests/sec|^ +(50|99)%|Non-2xx"
}
with_basic_load() { # label authorization
  wrk -t1 -c"$BASIC_CONNECTIONS" -d"$((DURATION + 1))s" --latency -H "Authorization: $2" "$route" \
    >"$work/basic.txt" &
  local load=$!
  sleep 0.5
  tokens "$1"
  wait "$load"
  echo "   the Basic-auth clients meanwhile:"
  grep -E "Requests/sec|^ +50%|Non-2xx" "$work/basic.txt" | sed 's/^/   /'
}
tokens "alone"
with_basic_load "with $BASIC_CONNECTIONS Basic-auth clients (right password)" "$right"
with_basic_load "with $BASIC_CONNECTIONS Basic-auth clients (wrong password)" "$wrong"
