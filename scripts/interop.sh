#!/usr/bin/env bash
# Real-client interop tests: the official Python duo_client and Node @duosecurity/duo_api against
# `duogate emulate`. Installs their pinned dependencies first (scripts/setup-interop.sh).
# Needs an already built binary: $DUOGATE_BIN, default target/debug/duogate
# (cargo build -p duogate). Runs both suites, then exits non-zero if either failed.
# Usage: scripts/interop.sh [extra pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

DUOGATE_BIN="${DUOGATE_BIN:-$PWD/target/debug/duogate}"
case "$DUOGATE_BIN" in /*) ;; *) DUOGATE_BIN="$PWD/$DUOGATE_BIN" ;; esac
export DUOGATE_BIN
if [[ ! -x "$DUOGATE_BIN" ]]; then
  echo "interop: $DUOGATE_BIN is missing: build it first (cargo build -p duogate) or set DUOGATE_BIN" >&2
  exit 1
fi

bash scripts/setup-interop.sh

failed=()

echo "==> interop: Python duo_client against the emulator" >&2
if ! .venv/bin/python -m pytest -q -p no:cacheprovider tests/interop/python "$@"; then
  failed+=(python)
fi

echo "==> interop: Node @duosecurity/duo_api against the emulator" >&2
if ! node --test tests/interop/node/*.test.js; then
  failed+=(node)
fi

if ((${#failed[@]})); then
  echo "interop: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "interop: all passed" >&2
