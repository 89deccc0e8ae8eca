#!/usr/bin/env bash
# Load benchmark: reading one Duo login-MFA method (GET /v1/identity/mfa/method/duo/{id}) from
# duogate's Vault dialect and from OpenBao 2.7.2 (`bao server -dev`), in the same run, on
# loopback, with wrk (Debian package `wrk`). Bounded: DURATION seconds per server (default 10),
# CONNECTIONS connections (default 16) on 2 threads. Prints requests/s, latency percentiles and
# each server's resident memory after the run.
# Usage: scripts/bench-vault-read.sh   (needs `cargo build --release -p duogate` and
#        scripts/setup-interop.sh for the bao binary)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-16}"
BIN="${DUOGATE_BIN:-target/release/duogate}"
command -v wrk >/dev/null || { echo "bench: wrk is required (apt-get install wrk)" >&2; exit 1; }
[[ -x "$BIN" ]] || { echo "bench: build $BIN first (cargo build --release -p duogate)" >&2; exit 1; }
[[ -x .venv/bin/bao ]] || { echo "bench: run scripts/setup-interop.sh first" >&2; exit 1; }

work="$(mktemp -d)"
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
pids=()
trap cleanup EXIT

"$BIN" serve --dev --listen 127.0.0.1:0 --data-dir "$work/dg" >"$work/dg.out" 2>/dev/null &
pids+=($!)
bao_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HOME="$work" .venv/bin/bao server -dev -dev-root-token-id=bench-root \
  -dev-listen-address="127.0.0.1:$bao_port" -dev-no-store-token >"$work/bao.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [[ -s "$work/dg.out" ]] && curl -sf "http://127.0.0.1:$bao_port/v1/sys/health" >/dev/null && break; sleep 0.2; done
dg_addr=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["listen"])' "$work/dg.out")
dg_token=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["root_token"])' "$work/dg.out")

body='{"method_name":"bench","api_hostname":"api-deadbeef.duosecurity.com","integration_key":"DIWJ8X6AEYOR5OMC6TQ1","secret_key":"Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep","push_info":"from=bench"}'
run() { # name url token pid
  local id
  id=$(curl -sf -H "X-Vault-Token: $3" -d "$body" "$2/v1/identity/mfa/method/duo" \
       | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["method_id"])')
  echo "== $1: GET /v1/identity/mfa/method/duo/{id}, ${DURATION}s, $CONNECTIONS connections"
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "X-Vault-Token: $3" \
      "$2/v1/identity/mfa/method/duo/$id" | grep -E "Requests/sec|Latency|50%|99%|Non-2xx"
  echo "   resident memory after the run: $(( $(ps -o rss= -p "$4") / 1024 )) MiB"
}
run duogate "http://$dg_addr" "$dg_token" "${pids[0]}"
run openbao "http://127.0.0.1:$bao_port" bench-root "${pids[1]}"
