"""Files from strangers: a model file, a manifest or a dataset copy never runs code.

Every hostile file is made here, in a temporary folder; each attack is first shown to work
against the unguarded loader (so the test proves something), then refused by kerasmodels.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import kerasmodels as km
from kerasmodels.dashboard import APP
from kerasmodels.errors import DatasetError, UnsafeModelError
from tests.conftest import cli, run_cli


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory):
    return km.train("mlp", "digits", epochs=1, out_dir=tmp_path_factory.mktemp("runs"),
                    verbose=0)


def rewrite_config(model_file: Path, change) -> None:
    """Apply ``change(config)`` to the config.json inside a .keras archive."""
    with zipfile.ZipFile(model_file) as z:
        entries = {name: z.read(name) for name in z.namelist()}
    config = json.loads(entries["config.json"])
    change(config)
    entries["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(model_file, "w") as z:
        for name, content in entries.items():
            z.writestr(name, content)


def appears(marker: Path, seconds: float = 5.0) -> bool:
    """Whether the payload's ``touch`` (a child process, not waited for) made the marker."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if marker.exists():
            return True
        time.sleep(0.05)
    return marker.exists()


def layers_of(config):
    return config["config"]["layers"]


def pipepager_lambda(marker: Path) -> dict:
    """A tf_keras Lambda layer naming a module function: pydoc.pipepager runs a shell command."""
    return {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
            "config": {"name": "innocent", "trainable": True, "dtype": "float32",
                       "function": {"module": "pydoc", "class_name": "function",
                                    "config": "pipepager", "registered_name": "function"},
                       "function_type": "function", "module": "pydoc",
                       "output_shape": None, "output_shape_type": "raw",
                       "output_shape_module": None,
                       "arguments": {"cmd": f"touch {marker}"}},
            "name": "innocent", "inbound_nodes": []}


def append_lambda(marker):
    def change(config):
        layers = layers_of(config)
        last = layers[-1]
        evil = pipepager_lambda(marker)
        evil["inbound_nodes"] = [[[last["name"], 0, 0, {}]]]
        layers.append(evil)
        config["config"]["output_layers"] = [["innocent", 0, 0]]
    return change


def os_system_dense(marker):
    def change(config):
        dense = next(layer for layer in layers_of(config) if layer["class_name"] == "Dense")
        dense["module"], dense["class_name"] = "os", "system"
        dense["config"] = f"touch {marker}"
    return change


def os_system_activation(marker):
    def change(config):
        dense = next(layer for layer in layers_of(config) if layer["class_name"] == "Dense")
        dense["config"]["activation"] = {"module": "os", "class_name": "function",
                                         "config": "system", "registered_name": "function"}
    return change


def nested_lambda(marker):
    """The Lambda hidden in a sub-model inside the model."""
    def change(config):
        inner = json.loads(json.dumps(config))
        inner["config"]["name"] = "inner_model"
        append_lambda(marker)(inner)
        config["config"]["layers"].append({**inner, "name": "inner_model", "inbound_nodes": []})
    return change


ATTACKS = {"module-function-lambda": append_lambda, "os.system-as-layer": os_system_dense,
           "raw-function-activation": os_system_activation, "nested-sub-model": nested_lambda}


@pytest.fixture
def hostile_run(mlp_run, tmp_path, request):
    marker = tmp_path / "marker"
    folder = tmp_path / "runs" / mlp_run.id
    shutil.copytree(mlp_run.path, folder)
    rewrite_config(folder / "model.keras", ATTACKS[request.param](marker))
    return folder, marker


def test_the_pipepager_payload_is_real(mlp_run, tmp_path):
    """Keras' own safe mode runs it: this is what the guard must stop."""
    from kerasmodels.backend import keras

    marker = tmp_path / "marker"
    file = tmp_path / "model.keras"
    shutil.copy(mlp_run.path / "model.keras", file)
    rewrite_config(file, append_lambda(marker))
    with contextlib.suppress(Exception):  # pipepager fails after it started the command
        keras.models.load_model(file, safe_mode=True, compile=False)
    assert appears(marker)


@pytest.mark.parametrize("hostile_run", list(ATTACKS), indirect=True)
def test_no_loader_runs_code_from_a_model_file(hostile_run):
    folder, marker = hostile_run
    with pytest.raises(UnsafeModelError, match="refused"):
        _ = km.load_run(folder).model
    with pytest.raises(UnsafeModelError):
        km.load_predictor(folder / "model.keras")
    with pytest.raises(UnsafeModelError):
        km.compress(folder, "prune")
    assert not appears(marker, 1.0)


@pytest.mark.parametrize("hostile_run", ["module-function-lambda"], indirect=True)
def test_the_cli_and_the_dashboard_refuse_it_too(hostile_run):
    from streamlit.testing.v1 import AppTest

    folder, marker = hostile_run
    # the console script in a new process, then main() in this one
    for run, command in ((run_cli, ["export", str(folder)]),
                         (cli, ["compress", str(folder), "--recipe", "prune"])):
        done = run(*command)
        assert done.returncode != 0 and "refused" in done.stderr, done.stderr
    import os

    os.environ["KERASMODELS_RUNS_DIR"] = str(folder.parent)
    try:  # the Models page opens first and shows the run's layers
        app = AppTest.from_file(str(APP), default_timeout=120).run()
    finally:
        del os.environ["KERASMODELS_RUNS_DIR"]
    assert not app.exception
    assert any("refused" in e.value for e in app.error), [e.value for e in app.error]
    assert not appears(marker, 1.0)


def test_a_registered_kerasmodels_layer_still_loads(tmp_path):
    """The guard refuses strangers' code, not kerasmodels' own layers (the transformer's)."""
    from kerasmodels.architectures import build_model
    from kerasmodels.data import load_dataset
    from kerasmodels.model_files import load_keras_file, read_config, save_keras_file

    model = build_model("transformer", load_dataset("text"))
    save_keras_file(model, tmp_path / "t.keras")
    assert "kerasmodels>PositionalEncoding" in json.dumps(read_config(tmp_path / "t.keras"))
    assert load_keras_file(tmp_path / "t.keras").count_params() == model.count_params()


class Payload:
    """Unpickling this runs ``touch marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


def test_a_local_dataset_copy_is_never_unpickled(tmp_path):
    marker = tmp_path / "marker"
    evil = np.empty(2, dtype=object)
    evil[0], evil[1] = Payload(marker), [1, 2]
    np.savez(tmp_path / "imdb.npz", x_train=evil, y_train=np.zeros(2), x_test=evil,
             y_test=np.zeros(2))
    with pytest.raises(DatasetError, match="imdb"):
        km.load_dataset("imdb", path=str(tmp_path / "imdb.npz"))
    cifar = tmp_path / "cifar-10-batches-py"
    cifar.mkdir()
    for name in (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"):
        (cifar / name).write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(DatasetError, match="cifar10"):
        km.load_dataset("cifar10", path=str(cifar))
    assert not appears(marker, 1.0)


def test_genuine_local_copies_still_load(tmp_path):
    """The keras formats themselves: imdb's object arrays of word ids, cifar's pickled dicts."""
    seqs = np.empty(3, dtype=object)
    seqs[:] = [[1, 14, 22], [1, 5], [1, 9999, 3, 4]]
    np.savez(tmp_path / "imdb.npz", x_train=seqs, y_train=np.array([0, 1, 0]), x_test=seqs,
             y_test=np.array([1, 0, 1]))
    data = km.load_dataset("imdb", path=str(tmp_path / "imdb.npz"), maxlen=4, num_words=100)
    assert data.test[0].shape == (3, 4) and data.test[0][2].tolist() == [1, 2, 3, 4]
    cifar = tmp_path / "cifar-10-batches-py"
    cifar.mkdir()
    rng = np.random.default_rng(0)
    for name in (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"):
        batch = {b"data": rng.integers(0, 256, (20, 3072), dtype=np.uint8),
                 b"labels": list(range(10)) * 2}
        (cifar / name).write_bytes(pickle.dumps(batch))
    data = km.load_dataset("cifar10", path=str(cifar))
    assert data.test[0].shape == (20, 32, 32, 3)
