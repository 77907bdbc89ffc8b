"""What a device installs: numpy, ai-edge-litert and kerasmodels with --no-deps; no TensorFlow."""

from __future__ import annotations

import json
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

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
    venv = ROOT / ".venv-device"  # scripts/setup.sh makes it: pip install is not the test
    python = str(venv / "bin" / "python")
    assert Path(python).is_file(), "scripts/setup.sh creates .venv-device"
    installed = subprocess.run([python, "-m", "pip", "list", "--format=json"],
                               capture_output=True, text=True, check=True).stdout
    versions = {p["name"].lower(): p["version"] for p in json.loads(installed)}
    assert "tensorflow" not in versions and "tf-keras" not in versions
    assert versions["numpy"] == metadata.version("numpy")
    assert versions["ai-edge-litert"] == metadata.version("ai-edge-litert")
    assert "kerasmodels" in versions

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
