"""MLPerf Tiny's reference workloads: the four models' parameter counts and device costs beside
the published files (asserted on ``scripts/bench_tiny.py --quick``), and the dataset layouts the
real data comes in (Visual Wake Words' class folders, CIFAR-10's python batches), generated
here since nothing can be downloaded."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from PIL import Image

import kerasmodels as km
from tests.conftest import bench_script, run_quick


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    return run_quick("tiny", tmp_path_factory.mktemp("tiny") / "tiny.json")


def test_the_reference_models_cost_what_the_published_files_do(tiny):
    """Built layer for layer, each model has the reference's parameters, and its int8 weights
    and biases take the published file's bytes to within 1%; the file itself is within 10%
    where both converters quantize alike (the autoencoder's dense layers are quantized per
    channel here: a scale and a zero point per output channel, which TF 2.3's file has not)."""
    rows = {r["arch"]: r for r in tiny["rows"]}
    assert set(rows) == set(bench_script("tiny").QUICK_MODELS)
    for row in rows.values():
        assert row["params"] == row["reference_params"]
        assert abs(row["weights_vs_published"] - 1) <= 0.01, row
        assert row["arena_bytes"] > 0 and row["arena_bytes"] % 16 == 0
        assert row["tflm_p50_ms"] > 0 and row["litert_p50_ms"] > 0 and row["multiply_adds"] > 0
        assert row["real_data_quality"].startswith("not measured")
    assert abs(rows["resnet8"]["flash_vs_published"] - 1) <= 0.10
    assert {"CONV_2D", "ADD", "AVERAGE_POOL_2D"} <= set(rows["resnet8"]["ops"])
    assert rows["fc_autoencoder"]["metric"] == "auc" and rows["resnet8"]["metric"] == "accuracy"


def test_person_detection_reads_the_visual_wake_words_layout(tmp_path):
    """Visual Wake Words comes as person/ and non_person/ folders of JPEG images of any size;
    images: reads them at the reference's 96x96x3, and MobileNetV1 builds on them as the
    reference does (221,794 parameters)."""
    rs = np.random.RandomState(0)
    for label in ("person", "non_person"):
        (tmp_path / label).mkdir()
        for i in range(12):
            size = (rs.randint(100, 180), rs.randint(100, 180))
            pixels = rs.randint(0, 256, (*size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / label / f"COCO_{label}_{i:06d}.jpg")
    ds = km.load_dataset(f"images:{tmp_path}", image_size=(96, 96))
    assert ds.input_shape == (96, 96, 3) and ds.labels == ["non_person", "person"]
    assert km.build_model("mobilenet_v1", ds).count_params() == 221_794


def test_cifar10_reads_the_python_batches(tmp_path):
    """CIFAR-10's cifar-10-batches-py (five pickled data batches and a test batch, read without
    running code): 32x32x3 images for ResNet-8 (78,666 parameters)."""
    rs = np.random.RandomState(0)
    for name in (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"):
        batch = {b"batch_label": name.encode(), b"labels": list(rs.randint(0, 10, 20)),
                 b"data": rs.randint(0, 256, (20, 3072), dtype=np.uint8),
                 b"filenames": [f"{name}_{i}.png".encode() for i in range(20)]}
        (tmp_path / name).write_bytes(pickle.dumps(batch))
    ds = km.load_dataset("cifar10", path=str(tmp_path))
    assert ds.input_shape == (32, 32, 3) and len(ds.test[0]) == 20
    assert km.build_model("resnet8", ds).count_params() == 78_666


def test_mobilenet_v1_runs_on_a_microcontroller(tmp_path):
    """MobileNetV1 (width 0.25, digits 0 and 1 at 32x32x3 here: the reference's 96x96 is
    bench_tiny's) exports to tflite-micro with a measured arena, its depthwise convolutions
    among TFLM's ops."""
    run = km.train("mobilenet_v1", "digits", epochs=1, out_dir=tmp_path, verbose=0,
                   dataset_options={"image_size": (32, 32), "channels": 3, "classes": [0, 1]})
    (artifact,) = km.export(run, ["tflite-micro"])
    device = artifact.device
    assert device["arena_bytes"] > 0 and device["litert_agreement"] >= 0.99
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D"} <= set(device["ops"])
