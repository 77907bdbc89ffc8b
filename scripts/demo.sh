#!/usr/bin/env bash
# The main job: set up, train the demo models on the built-in data, show them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/kerasmodels demo "$@"
