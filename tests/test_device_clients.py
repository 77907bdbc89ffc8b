"""What a phone's own software accepts: the TensorFlow Lite Task Library (tflite-support
0.4.4, the C++ code Android apps run, in .venv-readers) and MediaPipe Tasks (in
.venv-mediapipe) open every image-classifier export and name the right label for PNG files
they have never seen; their AudioClassifiers hear the test speakers' words in the audio
export (tests/test_audio.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import kerasmodels as km
from tests.conftest import ROOT
from tests.test_formats import READER

MEDIAPIPE = ROOT / ".venv-mediapipe" / "bin" / "python"

LABELS = ("bright", "dark", "striped")
PHONE_FORMATS = ("tflite-float32", "tflite-float16", "tflite-dynamic", "tflite-int8")
# the Task Library, as an app calls it: a model file, a picture file, the top category
CLASSIFY = """
import json, sys
from pathlib import Path
from tflite_support.task import vision
try:
    classifier = vision.ImageClassifier.create_from_file(sys.argv[1])
except Exception as exc:
    print(json.dumps({"refused": str(exc).strip().splitlines()[0]}))
    raise SystemExit(0)
found = []
for picture in sorted(Path(sys.argv[2]).glob("*/*.png")):
    result = classifier.classify(vision.TensorImage.create_from_file(str(picture)))
    found.append([picture.parent.name, result.classifications[0].categories[0].category_name])
print(json.dumps({"found": found}))
"""
MEDIAPIPE_CLASSIFY = """
import json, sys
from pathlib import Path
import mediapipe as mp
from mediapipe.tasks import python as tasks
from mediapipe.tasks.python import vision
try:
    classifier = vision.ImageClassifier.create_from_options(vision.ImageClassifierOptions(
        base_options=tasks.BaseOptions(model_asset_path=sys.argv[1]), max_results=1))
except Exception as exc:
    print(json.dumps({"refused": str(exc).strip().splitlines()[0]}))
    raise SystemExit(0)
found = []
for picture in sorted(Path(sys.argv[2]).glob("*/*.png")):
    result = classifier.classify(mp.Image.create_from_file(str(picture)))
    found.append([picture.parent.name, result.classifications[0].categories[0].category_name])
classifier.close()
print(json.dumps({"found": found}))
"""
CLIENTS = {"task library": (READER, CLASSIFY, "scripts/setup.sh installs tflite-support into "
                            ".venv-readers"),
           "mediapipe": (MEDIAPIPE, MEDIAPIPE_CLASSIFY, "scripts/setup.sh installs mediapipe "
                         "into .venv-mediapipe")}


def pictures(root: Path, count: int, seed: int) -> Path:
    """RGB PNGs of three kinds, 20x20. No pixel is 0 or 255: the converter's calibration sees
    less than the 0-255 range a camera gives, so the uint8 input's quantization must be set
    from the normalization, not from the calibration."""
    rs = np.random.RandomState(seed)
    for label in LABELS:
        (root / label).mkdir(parents=True)
        for i in range(count):
            pixels = rs.randint(40, 216, (20, 20, 3)).astype(np.uint8)
            if label == "bright":
                pixels[:10] = 230
            elif label == "dark":
                pixels[10:] = 20
            else:
                pixels[:, ::4] = 20
            Image.fromarray(pixels).save(root / label / f"{i:03d}.png")
    return root


def client(name: str, model: Path, *arguments: str) -> dict:
    """What a phone's client library (a row of CLIENTS, or an audio script's) answers, in its
    own environment."""
    python, script, setup = CLIENTS[name]
    assert python.is_file(), setup
    done = subprocess.run([str(python), "-c", script, str(model), *arguments],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def phone_run(tmp_path_factory):
    """A CNN trained on a folder of PNGs, exported in every phone format; pictures it never
    saw (another seed) beside."""
    root = tmp_path_factory.mktemp("pictures")
    folder = pictures(root / "train", 30, seed=0)
    held_out = pictures(root / "held-out", 8, seed=1)
    run = km.train("cnn", f"images:{folder}", dataset_options={"image_size": (16, 16)},
                   epochs=6, out_dir=root / "runs", verbose=0)
    artifacts = {a.format: a for a in km.export(run, list(PHONE_FORMATS))}
    return run, artifacts, held_out


@pytest.mark.parametrize("name", sorted(CLIENTS))
@pytest.mark.parametrize("fmt", PHONE_FORMATS)
def test_phone_clients_classify_pictures_with_every_phone_export(phone_run, fmt, name):
    run, artifacts, held_out = phone_run
    answer = client(name, artifacts[fmt].path, str(held_out))
    assert "refused" not in answer, answer
    found = answer["found"]
    assert len(found) == 3 * 8 and {label for _, label in found} <= set(LABELS)
    right = np.mean([truth == label for truth, label in found])
    assert right >= 0.9, (fmt, found)
    needs = artifacts[fmt].runtime
    assert needs["min_runtime_version"] and set(needs["op_versions"]) >= {"CONV_2D", "SOFTMAX"}
    if fmt == "tflite-dynamic":  # per-tensor Dense weights: the version runtime 2.4 has
        assert needs["op_versions"]["FULLY_CONNECTED"] == 9
        assert needs["min_runtime_version"] == "2.4.0"


def test_the_int8_phone_file_takes_camera_pixels_as_its_metadata_says(phone_run):
    """uint8 in and out; pixel p means (p - mean) / std, the metadata's normalization, exactly
    (the calibration saw 20..230 only)."""
    run, artifacts, _ = phone_run
    quantization = artifacts["tflite-int8"].quantization
    assert quantization["input"]["dtype"] == quantization["output"]["dtype"] == "uint8"
    labels = json.loads((artifacts["tflite-int8"].path.parent / "labels.json").read_text())
    from kerasmodels.exports.metadata import normalization

    (mean,), (std,) = normalization(labels["preprocessing"])
    assert (quantization["input"]["zero_point"], quantization["input"]["scale"]) == (
        int(mean), pytest.approx(1 / std, rel=1e-6))
    record = json.loads((artifacts["tflite-int8"].path.parent / "exports.json").read_text())
    assert record["artifacts"]["tflite-int8"]["runtime"]["op_versions"]["QUANTIZE"] >= 1


def test_int8_input_stays_available_for_microcontrollers_and_the_task_library_says_no(
        phone_run, tmp_path):
    """io_type="int8": what a microcontroller takes; the Task Library refuses it, which is why
    uint8 is the default for images."""
    run, _, held_out = phone_run
    copy = tmp_path / run.id
    shutil.copytree(run.path, copy, ignore=shutil.ignore_patterns("exports"))
    (artifact,) = km.export(copy, ["tflite-int8"], io_type="int8")
    assert artifact.quantization["input"]["dtype"] == "int8"
    answer = client("task library", artifact.path, str(held_out))
    assert "kTfLiteUint8/kTfLiteFloat32, got INT8" in answer["refused"]
