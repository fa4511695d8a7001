#!/usr/bin/env bash
# Sets up and runs the whole test suite: SQLite always, PostgreSQL too whenever one answers
# (TEST_DATABASE_URL, or postgres@127.0.0.1:5432). Two pytest workers by default
# (AINAS_TEST_WORKERS); extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m pytest -n "${AINAS_TEST_WORKERS:-2}" "$@"
