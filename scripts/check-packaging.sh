#!/usr/bin/env bash
# Checks what the machine can check of the packaging: the systemd unit with `systemd-analyze
# verify` (every directive known, the command executable) and its exposure score with
# `systemd-analyze security --offline`, pointed at a built binary. The Dockerfile needs a Docker
# engine to build, which this machine does not run; its build stage is plain `cargo build
# --release --locked -p duogate`, which the test suite already covers in debug.
# Usage: scripts/check-packaging.sh [BINARY]   (default target/debug/duogate)
set -euo pipefail
cd "$(dirname "$0")/.."
binary="$(realpath "${1:-target/debug/duogate}")"
if ! command -v systemd-analyze >/dev/null; then
  echo "check-packaging: systemd-analyze is not installed; skipping the unit check" >&2
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
sed "s#/usr/local/bin/duogate#$binary#g" packaging/duogate.service >"$work/duogate.service"
systemd-analyze verify "$work/duogate.service"
exposure="$(systemd-analyze security --offline=yes "$work/duogate.service" 2>/dev/null \
  | sed -n 's/.*Overall exposure level for duogate.service: \([0-9.]*\).*/\1/p')"
echo "check-packaging: the unit verifies; exposure level ${exposure:-unknown} (lower is better)" >&2
# Keep the unit hardened: a score above 2.0 ("OK" ends at 3.9) means a protection was dropped.
awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 2.0) }' || {
  echo "check-packaging: exposure ${exposure:-unknown} is above 2.0; restore the unit's hardening" >&2
  exit 1
}
