#!/usr/bin/env bash
# Sets up and starts the service on the embedded SQLite default (./ainas.db): migrates, creates a
# first operator if there is none (printing its credentials once), and serves on port 8000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/ainas start --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"
