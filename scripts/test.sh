#!/usr/bin/env bash
# The whole test suite, slow tests included, exactly as CI runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check kerasmodels tests scripts
echo "== mypy (the package's types, the public API among them)"
.venv/bin/mypy
# two workers, a test file each at a time: TensorFlow leaves cores idle between small ops,
# conversions and browser waits (12 min against 19 on a 2-core machine); -n 0 runs serially.
# The longest files go first (tests/conftest.py: LONGEST_FIRST), in that order
exec .venv/bin/python -m pytest --timeout=900 --durations=30 -n 2 --dist loadfile \
    --no-loadscope-reorder "$@"
