#!/usr/bin/env bash
# The whole test suite: lints, Rust tests, and the real-client interop tests.
# Installs what it needs (Python venv with duo_client, npm packages) and is idempotent.
# Usage: scripts/test.sh            (from anywhere inside the repository)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE=1

if ! command -v cargo >/dev/null; then
  echo "cargo is required (https://rustup.rs)" >&2
  exit 1
fi

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo doc (missing or broken docs fail)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "build the duogate binary (used by the interop tests)"
cargo build -p duogate --locked

step "PostgreSQL for the store's contract tests"
# The machine kind runs PostgreSQL on 127.0.0.1:5432 with trust auth; start it if it is down.
if [[ -z "${TEST_POSTGRES_URL:-}" ]]; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && command -v pg_ctlcluster >/dev/null; then
    for version in $(ls /etc/postgresql 2>/dev/null); do
      pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
    done
    for _ in $(seq 1 20); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  fi
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    export TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/test"
    echo "using $TEST_POSTGRES_URL" >&2
  elif [[ "${CI:-}" == "true" ]]; then
    echo "no PostgreSQL on 127.0.0.1:5432, and CI must run the store contract on it" >&2
    exit 1
  else
    echo "warning: no PostgreSQL on 127.0.0.1:5432; the store contract runs on SQLite only" >&2
  fi
fi

step "Rust tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
# Doc tests are not run by nextest.
cargo test --workspace --locked --doc --quiet

step "packaging: the systemd unit (systemd-analyze verify, exposure score)"
bash scripts/check-packaging.sh target/debug/duogate

step "interop: official duo_client (Python) and @duosecurity/duo_api (Node) against the emulator"
DUOGATE_BIN="$PWD/target/debug/duogate" bash scripts/interop.sh

step "all tests passed"
