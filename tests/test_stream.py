"""Image folders larger than memory: ``images:<folder>`` with ``stream=True`` decodes each split
once into a file and trains from it a batch at a time; the split, the batches and so the
weights are the in-memory path's, and a new process reopens the run streamed."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import kerasmodels as km
from kerasmodels.data.stream import on_disk
from kerasmodels.errors import DatasetError
from tests.conftest import cli, run_cli, run_quick


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    rs = np.random.RandomState(0)
    for label in ("bright", "dark", "striped"):
        (root / label).mkdir()
        for i in range(30):
            pixels = rs.randint(0, 256, (20, 20, 3), dtype=np.uint8)
            if label == "bright":
                pixels[:10] = 255
            elif label == "striped":
                pixels[:, ::4] = 0
            Image.fromarray(pixels).save(root / label / f"{i:03d}.png")
    return root


def test_streamed_and_in_memory_give_the_same_splits_and_weights(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("KERASMODELS_DATA_DIR", str(tmp_path / "data"))
    memory = km.load_dataset(f"images:{folder}", image_size=(16, 16))
    streamed = km.load_dataset(f"images:{folder}", image_size=(16, 16), stream=True)
    for part in ("train", "val", "test"):
        (xa, ya), (xb, yb) = getattr(memory, part), getattr(streamed, part)
        assert on_disk(xb) and not on_disk(xa)
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert sorted(p.name for p in (tmp_path / "data" / "images").glob("*/*.npy")) == [
        "test.npy", "train.npy", "val.npy"]
    a = km.train("cnn_small", memory, epochs=2, out_dir=tmp_path / "a", verbose=0)
    b = km.train("cnn_small", streamed, epochs=2, out_dir=tmp_path / "b", verbose=0)
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert a.metrics == b.metrics


def test_a_streamed_run_reopens_streamed_in_a_new_process(folder, tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("KERASMODELS_DATA_DIR", str(data))
    trained = cli("train", "--arch", "cnn_small", "--dataset", f"images:{folder}",
                  "--image-size", "16x16", "--dataset-option", "stream=True", "--epochs", "2",
                  "--out-dir", str(tmp_path / "runs"), "--json", "--quiet")
    assert trained.returncode == 0, trained.stderr
    run = json.loads(trained.stdout)
    reopened = km.load_run(run["path"])
    assert reopened.manifest["dataset"]["options"]["stream"] is True
    exported = run_cli("export", run["path"], "--formats", "tflite-int8", "--json",
                       KERASMODELS_DATA_DIR=data)
    assert exported.returncode == 0, exported.stderr
    (artifact,) = json.loads(exported.stdout)["artifacts"]
    assert artifact["parity"]["top1_agreement"] >= 0.95 and artifact["parity"]["samples"] == len(
        np.load(next(data.glob("images/*/test.npy")), mmap_mode="r"))


def test_stream_must_be_true_or_false(folder):
    with pytest.raises(DatasetError, match="stream must be True or False"):
        km.load_dataset(f"images:{folder}", stream="yes")
    result = cli("train", "--dataset", f"images:{folder}", "--dataset-option", "stream=yes",
                 "--epochs", "1")
    assert result.returncode != 0 and result.stderr.strip().count("\n") == 0
    assert "stream must be True or False" in result.stderr


def test_training_from_disk_keeps_memory_bounded(tmp_path):
    """bench_stream.py --quick: the same accuracy both ways, and what each process kept
    resident (the full run's 20,000 images: bench-results/stream.json)."""
    figures = run_quick("stream", tmp_path / "stream.json")
    memory, streamed = figures["rows"]
    assert figures["same_accuracy"] and memory["array_bytes"] == streamed["array_bytes"]
    assert streamed["peak_rss_after_load_bytes"] < memory["peak_rss_after_load_bytes"]


def test_sound_features_stream_from_their_cache(tmp_path, monkeypatch):
    """audio: and anomaly: keep their features in the cache a chunk at a time; stream=True
    reads them back a batch at a time: the same arrays, and an autoencoder trained on them has
    the in-memory one's weights and AUC."""
    from tests.test_anomaly import write_recordings
    from tests.test_audio import speech_commands_folder

    monkeypatch.setenv("KERASMODELS_DATA_DIR", str(tmp_path / "data"))
    words = speech_commands_folder(tmp_path / "sc")
    write_recordings(tmp_path / "fan", 12, 6)
    for name in (f"audio:{words}", f"anomaly:{tmp_path / 'fan'}"):
        memory, streamed = km.load_dataset(name), km.load_dataset(name, stream=True)
        assert streamed.options["stream"] is True and "stream" not in memory.options
        for part in ("train", "val", "test"):
            assert on_disk(getattr(streamed, part)[0])
            np.testing.assert_array_equal(getattr(memory, part)[0], getattr(streamed, part)[0])
            np.testing.assert_array_equal(getattr(memory, part)[1], getattr(streamed, part)[1])
    runs = [km.train("fc_autoencoder", data, epochs=2, batch_size=64, verbose=0,
                     out_dir=tmp_path / f"runs-{i}")
            for i, data in enumerate((memory, streamed))]
    for a, b in zip(runs[0].model.get_weights(), runs[1].model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert runs[0].metrics["test"]["auc"] == pytest.approx(runs[1].metrics["test"]["auc"],
                                                           abs=1e-12)
