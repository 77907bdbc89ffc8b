#!/usr/bin/env bash
# The whole test suite, slow tests included, exactly as CI runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check kerasmodels tests scripts apps
echo "== mypy (the package's types, the public API among them)"
.venv/bin/mypy
# three workers on the 2 cores, a test file each at a time: TensorFlow leaves cores idle
# between small ops, conversions, child processes and browser waits (README: Tests has the
# measured times); -n 0 runs serially.
# The longest files go first (tests/conftest.py: LONGEST_FIRST), in that order
exec .venv/bin/python -m pytest --timeout=900 --durations=30 -n 3 --dist loadfile \
    --no-loadscope-reorder "$@"
