"""What a device installs: numpy, ai-edge-litert and kerasmodels with --no-deps; no TensorFlow."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib import metadata

import numpy as np
import pytest

from tests.conftest import ROOT

DEVICE_SCRIPT = """
import importlib.util, json, sys
import numpy as np
from kerasmodels.edge import EdgeModel

assert importlib.util.find_spec("tensorflow") is None, "TensorFlow must not be installed"
data = np.load(sys.argv[2])
model = EdgeModel(sys.argv[1], num_threads=1)
labels = model.classify(data["raw"])
accuracy = float(np.mean(np.array([int(label) for label in labels]) == data["y"]))
print(json.dumps({"accuracy": accuracy, "first": labels[:5],
                  "tensorflow_loaded": "tensorflow" in sys.modules}))
"""


@pytest.mark.slow
def test_edge_model_classifies_in_an_environment_without_tensorflow(cnn_run, cnn_exports,
                                                                    tmp_path):
    venv = tmp_path / "device"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    pins = [f"numpy=={metadata.version('numpy')}",
            f"ai-edge-litert=={metadata.version('ai-edge-litert')}"]
    for args in (pins, ["--no-deps", str(ROOT)]):
        result = subprocess.run([python, "-m", "pip", "install", "--quiet", *args],
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
    installed = subprocess.run([python, "-m", "pip", "list", "--format=json"],
                               capture_output=True, text=True, check=True).stdout
    names = {p["name"].lower() for p in json.loads(installed)}
    assert "tensorflow" not in names and {"numpy", "ai-edge-litert", "kerasmodels"} <= names

    x, y = cnn_run.dataset().test
    # raw pixels 0..16 as a device reads them, (n, 8, 8) without a channel axis
    np.savez(tmp_path / "test.npz", raw=np.round(x * 16)[..., 0], y=y)
    script = tmp_path / "device.py"
    script.write_text(DEVICE_SCRIPT)
    model_file = tmp_path / "digits.tflite"  # the file alone: its labels are inside
    shutil.copy(cnn_run.path / "exports" / "tflite-int8.tflite", model_file)
    result = subprocess.run([python, str(script), str(model_file), str(tmp_path / "test.npz")],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"on the device: accuracy {report['accuracy']:.4f}, first labels {report['first']}")
    assert report["tensorflow_loaded"] is False
    assert report["accuracy"] == pytest.approx(cnn_exports["tflite-int8"].parity["accuracy"])
