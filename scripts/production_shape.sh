#!/usr/bin/env bash
# The production shape without containers (deploy/compose.yaml with them): PgBouncer (transaction
# pooling) and HAProxy from Debian's packages, installed with apt-get when missing, two
# `ainas serve` instances through PgBouncer, HAProxy in front, all on 127.0.0.1 ports; Ctrl-C
# stops everything. The database (--database-url or DATABASE_URL; default `ainas_shape` on the local
# PostgreSQL) is created when missing and migrated first.
#
#   bash scripts/production_shape.sh [--database-url postgresql://postgres@127.0.0.1:5432/ainas_shape]
#   bash scripts/production_shape.sh install    # only install PgBouncer and HAProxy
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/bootstrap.sh
if [ "${1:-}" = "install" ]; then
  exec .venv/bin/python -m bench.shape install
fi
exec .venv/bin/python -m bench.shape run "$@"
