#!/usr/bin/env bash
# Refresh docs/screenshots/ (the docs' pictures of the dashboard: docs/dashboard.md) from the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
KERASMODELS_SCREENSHOTS="$PWD/docs/screenshots" .venv/bin/python -m pytest tests/test_browser.py -q "$@"
git status --short docs/screenshots
