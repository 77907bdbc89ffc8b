#!/usr/bin/env bash
# The whole test suite, slow tests included, exactly as CI runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check kerasmodels tests scripts apps
exec .venv/bin/python -m pytest --timeout=900 --durations=30 "$@"
