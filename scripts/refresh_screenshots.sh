#!/usr/bin/env bash
# Refresh docs/screenshots/ (the README's pictures of the dashboard) from the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
KERASMODELS_SCREENSHOTS="$PWD/docs/screenshots" .venv/bin/python -m pytest tests/test_browser.py -q "$@"
git status --short docs/screenshots
