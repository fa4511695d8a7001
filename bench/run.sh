#!/usr/bin/env bash
# The benchmark (issue 6): service vs baseline, scale, two instances. Never part of CI.
# Needs PostgreSQL (BENCH_POSTGRES_URL, default postgres@127.0.0.1:5432) and wrk (installed here
# from Debian's packages when missing). Arguments go to `python -m bench` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else
    echo "wrk is missing: sudo apt-get install wrk" >&2
    exit 1
  fi
fi
[ -x .venv/bin/python ] || bash scripts/bootstrap.sh
exec .venv/bin/python -m bench "$@"
