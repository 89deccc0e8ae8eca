#!/usr/bin/env bash
# Installs what the real-client interop tests need, idempotently:
#   .venv/                          python3 venv with the pinned official duo_client and pytest
#                                   (tests/interop/python/requirements.txt)
#   tests/interop/node/node_modules the pinned @duosecurity/duo_api (npm ci from package-lock.json)
# A stamp file records a hash of the pins and tool versions; when nothing changed the script
# only hashes a few files and exits. Safe to re-run; FORCE=1 reinstalls.
# Usage: scripts/setup-interop.sh   (from anywhere inside the repository)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV=.venv
REQS=tests/interop/python/requirements.txt
NODE_DIR=tests/interop/node
STAMP="$VENV/.interop-stamp"

log() { printf 'setup-interop: %s\n' "$*" >&2; }

for tool in "$PYTHON" node npm; do
  if ! command -v "$tool" >/dev/null; then
    log "$tool is required"
    exit 1
  fi
done

# Everything that, when changed, requires a reinstall.
fingerprint() {
  {
    sha256sum "$REQS" "$NODE_DIR/package.json"
    if [[ -f "$NODE_DIR/package-lock.json" ]]; then sha256sum "$NODE_DIR/package-lock.json"; fi
    "$PYTHON" --version 2>&1
    node --version
  } | sha256sum | cut -d' ' -f1
}

want="$(fingerprint)"
if [[ "${FORCE:-0}" != 1 && -f "$STAMP" && "$(cat "$STAMP")" == "$want" \
      && -x "$VENV/bin/python" \
      && -f "$NODE_DIR/node_modules/@duosecurity/duo_api/package.json" ]]; then
  exit 0
fi

# Python: a venv at the repository root with exact pins.
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  log "creating $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
fi
rm -f "$STAMP"
log "pip install -r $REQS"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$REQS"
"$VENV/bin/python" -c 'import duo_client, hvac, netapp_ontap, pytest' # fail loudly if the install is unusable

# Node: npm ci when the lock exists (the lock is committed), npm install to create it otherwise.
if [[ -f "$NODE_DIR/package-lock.json" ]]; then
  log "npm ci in $NODE_DIR"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error) >&2
else
  log "npm install in $NODE_DIR (no package-lock.json yet: commit the one it writes)"
  (cd "$NODE_DIR" && npm install --no-audit --no-fund --loglevel=error) >&2
fi
node -e "const v = require('./$NODE_DIR/node_modules/@duosecurity/duo_api/package.json').version;
         if (v !== '1.5.0') { console.error('unexpected @duosecurity/duo_api ' + v); process.exit(1) }"

# Recompute: npm install may just have written the lock.
fingerprint >"$STAMP"
log "ready"
