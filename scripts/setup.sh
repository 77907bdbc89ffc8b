#!/usr/bin/env bash
# Set up a fresh machine: .venv with kerasmodels and its dev extras, .venv-readers with the
# reference TFLite metadata reader and the Task Library, .venv-mediapipe with MediaPipe Tasks,
# .venv-device with what a device installs (no TensorFlow),
# Debian's chromium for the browser tests and espeak-ng for the built-in speech dataset (made
# here). Idempotent: re-running only installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "== installing kerasmodels and its dependencies into .venv (about 2 minutes; pip lists each package)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --progress-bar off -e ".[dev]" | sed -nE "/^(Collecting|Successfully)/p"
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# side_env FOLDER "PACKAGES" WHAT: PACKAGES in an environment of their own at FOLDER, made again
# when PACKAGES change (a stamp file holds their hash); WHAT names the tests that need it
side_env() {
  local folder=$1 packages=$2 what=$3
  local stamp="$folder/.installed-$(echo "$packages" | sha256sum | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  echo "== installing $packages into $folder"
  rm -rf "$folder"
  "$PYTHON" -m venv "$folder"
  if "$folder/bin/python" -m pip install --progress-bar off $packages | sed -nE "/^(Collecting|Successfully)/p"; then
    touch "$stamp"
  else
    echo "warning: could not install $packages; $what need $folder" >&2
  fi
}

# tflite-support, the reference reader of TFLite metadata and the Task Library: it needs
# protobuf < 4, which TensorFlow cannot share. The tests read exported metadata and classify
# with it.
side_env .venv-readers "tflite-support==0.4.4" "the metadata and Task Library tests"
# MediaPipe Tasks, the other client phone apps use (its ImageClassifier and AudioClassifier read
# the same metadata): it brings its own numpy, opencv, protobuf
side_env .venv-mediapipe "mediapipe==1.2.3" "the MediaPipe tests"

# what a device installs (tests/test_edge_device.py): numpy and ai-edge-litert at .venv's
# versions and kerasmodels without its dependencies (linked to this checkout): no TensorFlow
DEVICE_PINS=$(.venv/bin/python -c "from importlib.metadata import version as v; print(f'numpy=={v(\"numpy\")} ai-edge-litert=={v(\"ai-edge-litert\")}')")
device_stamp=".venv-device/.installed-$(echo "$DEVICE_PINS" | sha256sum | cut -c1-16)"
if [ ! -f "$device_stamp" ]; then
  echo "== creating .venv-device ($DEVICE_PINS, kerasmodels --no-deps)"
  rm -rf .venv-device
  "$PYTHON" -m venv .venv-device
  if .venv-device/bin/python -m pip install --progress-bar off $DEVICE_PINS | sed -nE "/^(Collecting|Successfully)/p" \
      && .venv-device/bin/python -m pip install --quiet --no-deps -e .; then
    touch "$device_stamp"
  else
    echo "warning: could not create .venv-device; tests/test_edge_device.py needs it" >&2
  fi
fi

# Debian packages: chromium (the browser tests), espeak-ng (the built-in speech dataset) and
# postgresql (the server the tests share a search through; they start their own, as user
# postgres, in a temporary folder)
missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
[ -x /usr/bin/espeak-ng ] || missing="$missing espeak-ng"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
if [ -n "$missing" ]; then
  echo "== installing Debian's$missing (about a minute, apt lists its steps)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing | sed -nE "/^(Get|Setting up)/p"; }; then
    echo "warning: could not install$missing; browser tests need chromium, the speech dataset espeak-ng, the shared-search tests postgresql" >&2
  fi
fi

# the built-in speech dataset: command words spoken by espeak-ng and their features, once
# (about 40 s; kept in ~/.cache/kerasmodels, or $KERASMODELS_DATA_DIR)
if [ -x /usr/bin/espeak-ng ] && ! .venv/bin/python -c "from kerasmodels.data.speech import speech_folder; speech_folder(make=False)" 2>/dev/null; then
  echo "== making the built-in speech dataset with espeak-ng"
  .venv/bin/python -c "import kerasmodels as km; print(km.load_dataset('speech'))" 2>&1 \
    | grep -vE "^(WARNING|I0000|E0000|W0000)|oneDNN|cuda|rebuild TensorFlow|AVX" || true
fi
