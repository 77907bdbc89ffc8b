#!/usr/bin/env bash
# The whole test suite, slow tests included, exactly as CI runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check kerasmodels tests scripts apps docs/hooks
echo "== mypy (the package's types, the public API among them)"
.venv/bin/mypy
echo "== the docs site: mkdocs build --strict (a broken link, anchor or API reference fails)"
site=$(mktemp -d)
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --site-dir "$site"
rm -rf "$site"
# three workers on the 2 cores, a test file each at a time: TensorFlow leaves cores idle
# between small ops, conversions, child processes and browser waits (docs/development.md has the
# measured times); -n 0 runs serially.
# The longest files go first (tests/conftest.py: LONGEST_FIRST), in that order
exec .venv/bin/python -m pytest --timeout=900 --durations=30 -n 3 --dist loadfile \
    --no-loadscope-reorder "$@"
