"""Your own arrays as a dataset: split once, trained on, kept in the run and reloaded."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import kerasmodels as km
from kerasmodels.errors import DatasetError, RunError


def features(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rs = np.random.RandomState(seed)
    x = rs.rand(n, 5).astype("float32")
    return x, (x[:, 0] + x[:, 1] > 1).astype("int64")


def test_arrays_are_split_once_and_their_task_is_inferred():
    x, y = features()
    ds = km.Dataset.from_arrays(x, y, name="mine", labels=["low", "high"])
    assert [len(part[0]) for part in (ds.train, ds.val, ds.test)] == [140, 20, 40]
    assert ds.task == "classification" and ds.num_classes == 2 and ds.input_shape == (5,)
    assert ds.labels == ["low", "high"] and ds.in_memory
    again = km.Dataset.from_arrays(x, y, name="mine")
    np.testing.assert_array_equal(again.test[0], ds.test[0])  # the same seed, the same split
    regression = km.Dataset.from_arrays(x, x.sum(1), name="sums")
    assert regression.task == "regression" and regression.num_classes is None
    named = km.Dataset.from_arrays(x, np.where(y == 1, "yes", "no"), name="named")
    assert named.labels == ["no", "yes"] and set(named.train[1]) == {0, 1}


@pytest.mark.parametrize(("change", "match"), [
    ({"y": np.zeros(99, "int64")}, "one target per example"),
    ({"x": np.full((200, 5), np.nan)}, "NaN or infinite"),
    ({"labels": ["a", "b", "c"]}, "3 labels for 2 classes"),
    ({"name": "../escape"}, "name must be"),
    ({"test_size": 0.5, "val_size": 0.45}, "leave at least 10%"),
    ({"x": np.array([["a"] * 5] * 200)}, "x must be numeric"),
    ({"task": "ranking"}, "task must be"),
])
def test_bad_arrays_are_one_clear_error(change, match):
    x, y = features()
    arguments = {"x": x, "y": y, "name": "mine", **change}
    with pytest.raises(DatasetError, match=match):
        km.Dataset.from_arrays(arguments.pop("x"), arguments.pop("y"), **arguments)


@pytest.fixture(scope="module")
def arrays_run(tmp_path_factory):
    from sklearn.datasets import load_digits

    digits = load_digits()
    ds = km.Dataset.from_arrays(digits.data / 16, digits.target, name="my-digits")
    out = tmp_path_factory.mktemp("own")
    return ds, km.train("mlp", ds, epochs=3, out_dir=out, verbose=0)


def test_a_run_on_arrays_keeps_them_and_reloads_them(arrays_run):
    ds, run = arrays_run
    manifest = json.loads((run.path / "manifest.json").read_text())
    assert manifest["dataset"]["stored"] == "dataset.npz" and len(manifest["dataset"]["sha256"]) == 64
    again = km.load_run(run.path).dataset()
    for split in ("train", "val", "test"):
        for a, b in zip(getattr(again, split), getattr(ds, split), strict=True):
            np.testing.assert_array_equal(a, b)
    assert again.name == "my-digits" and again.num_classes == 10
    with open(run.path / "dataset.npz", "rb") as f:
        assert f.read(2) == b"PK"  # a plain npz: no pickled objects inside
    (artifact,) = km.export(km.load_run(run.path), ["tflite-float32"])
    assert artifact.parity["accuracy"] == pytest.approx(run.metrics["test"]["accuracy"], abs=1e-6)


def test_children_keep_the_arrays_too(arrays_run):
    _, run = arrays_run
    child = km.compress(run, "prune", epochs=1)
    assert (child.path / "dataset.npz").is_file()
    reloaded = km.load_run(child.path)
    assert reloaded.dataset().test[0].shape == run.dataset().test[0].shape
    assert km.export(reloaded, ["tflite-int8"])[0].parity["samples"] == len(run.dataset().test[0])


def test_a_changed_or_misnamed_arrays_file_is_refused(arrays_run, tmp_path):
    _, run = arrays_run
    copy = tmp_path / run.id
    shutil.copytree(run.path, copy, ignore=shutil.ignore_patterns("exports"))
    stored = copy / "dataset.npz"
    stored.write_bytes(stored.read_bytes()[:-8] + b"tampered")
    with pytest.raises(DatasetError, match="was changed after the run was made"):
        km.load_run(copy).dataset()
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["dataset"]["stored"] = "../../outside.npz"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RunError, match="dataset.stored must be 'dataset.npz'"):
        km.load_run(copy).dataset()
