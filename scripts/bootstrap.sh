#!/usr/bin/env bash
# Installs the pinned toolchain and dependencies into .venv (uv from PyPI, then uv.lock). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.9.11
PYTHON=${PYTHON:-python3}
if [ ! -x .tools/bin/uv ] || [ "$(.tools/bin/uv --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  "$PYTHON" -m venv .tools
  .tools/bin/pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
.tools/bin/uv sync --frozen --quiet --python "$PYTHON"
