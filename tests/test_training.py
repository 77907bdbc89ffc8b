import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

import kerasmodels as km
from kerasmodels.errors import (
    DatasetError,
    HyperparameterError,
    InputShapeError,
    RunError,
    TrainingDivergedError,
    UnknownNameError,
)
from tests.conftest import KERASMODELS, ROOT


def test_run_directory_contract(cnn_run):
    path = cnn_run.path
    assert path.name.startswith("cnn-digits-")
    for name in ("manifest.json", "history.json", "model.keras"):
        assert (path / name).is_file(), name
    assert list((path / "logs").rglob("events.out.tfevents.*")), "TensorBoard logs"
    m = json.loads((path / "manifest.json").read_text())
    for key in ("schema_version", "id", "created_at", "arch", "dataset", "training", "metrics",
                "parent", "recipe", "versions"):
        assert key in m, key
    assert m["arch"]["hparams"]["filters"] == [32, 64] and m["arch"]["params"] == 53002
    assert m["dataset"]["input_shape"] == [8, 8, 1] and m["dataset"]["num_classes"] == 10
    assert m["training"]["optimizer"]["name"] == "adam" and m["training"]["epochs_run"] == 4
    assert m["versions"]["tf_keras"].startswith("2.") and m["versions"]["tfmot"]
    assert set(m["metrics"]) == {"train", "val", "test"}
    history = json.loads((path / "history.json").read_text())
    assert history["epoch"] == [1, 2, 3, 4]
    assert len(history["loss"]) == len(history["val_accuracy"]) == len(history["learning_rate"]) == 4
    assert not list(path.parent.glob(".tmp-*")), "no staging folder left behind"


def test_run_reloads_and_predicts_identically(cnn_run):
    x = cnn_run.dataset().test[0]
    fresh = km.load_run(cnn_run.path)
    np.testing.assert_array_equal(fresh.predict(x), cnn_run.predict(x))  # same batches
    accuracy = (fresh.predict(x).argmax(1) == cnn_run.dataset().test[1]).mean()
    assert accuracy == pytest.approx(cnn_run.metrics["test"]["accuracy"], abs=1e-6)
    assert fresh.id in {r.id for r in km.list_runs(cnn_run.path.parent)}


def test_single_example_and_wrong_shapes(cnn_run):
    x = cnn_run.dataset().test[0]
    assert cnn_run.predict(x[0]).shape == (1, 10)
    with pytest.raises(InputShapeError, match=r"does not fit the model.*\(8, 8, 1\)"):
        cnn_run.predict(np.zeros((2, 64)))
    with pytest.raises(InputShapeError, match="numeric"):
        cnn_run.predict(np.array([["a"] * 8] * 8))


def test_same_seed_same_metrics(tmp_path):
    a = km.train("mlp", "digits", epochs=3, out_dir=tmp_path, verbose=0)
    b = km.train("mlp", "digits", epochs=3, out_dir=tmp_path, verbose=0)
    assert a.id != b.id
    assert a.metrics == b.metrics
    c = km.train("mlp", "digits", epochs=3, seed=1, out_dir=tmp_path, verbose=0)
    assert c.metrics != a.metrics


def test_diverging_run_fails_clearly_and_saves_nothing(tmp_path):
    out = tmp_path / "runs"
    with pytest.raises(TrainingDivergedError, match="NaN.*nothing was saved.*learning rate"):
        km.train("cnn", "digits", epochs=3, learning_rate=1e6, out_dir=out, verbose=0)
    assert not out.exists()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"arch": "cnnn"}, UnknownNameError, "unknown architecture"),
        ({"dataset": "mnistt"}, UnknownNameError, "unknown dataset"),
        ({"epochs": -1}, HyperparameterError, "epochs must be an integer from 1 to 100,000"),
        ({"epochs": 0}, HyperparameterError, "epochs must be an integer from 1 to 100,000"),
        ({"learning_rate": -0.1}, HyperparameterError, "learning_rate must be a number > 0"),
        ({"learning_rate": 0.0}, HyperparameterError, "learning_rate must be a number > 0"),
        ({"batch_size": 0}, HyperparameterError, "batch_size must be an integer from 1 to"),
        ({"optimizer": "adamm"}, UnknownNameError, "unknown optimizer"),
        ({"regularizer": "l3"}, UnknownNameError, "unknown regularizer"),
        ({"regularizer": "l2", "reg_strength": -1.0}, HyperparameterError, "reg_strength"),
        ({"arch": "cnn", "dataset": "text"}, HyperparameterError, "use mlp, rnn or transformer"),
        ({"hidden_units": (0,), "arch": "mlp"}, HyperparameterError, "hidden_units"),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(tmp_path, kwargs, error, match):
    out = tmp_path / "runs"
    args = {"arch": "cnn", "dataset": "digits", "epochs": 1, **kwargs}
    with pytest.raises(error, match=match):
        km.train(args.pop("arch"), args.pop("dataset"), out_dir=out, verbose=0, **args)
    assert not out.exists()


def test_bad_user_files_write_nothing(tmp_path):
    out = tmp_path / "runs"
    csv = tmp_path / "data.csv"
    csv.write_text("a,b,label\n" + "".join(f"{i},{i * 2},{i % 2}\n" for i in range(30)))
    with pytest.raises(DatasetError, match="no column 'target'"):
        km.train("mlp", f"csv:{csv}", dataset_options={"target": "target"}, out_dir=out, verbose=0)
    (tmp_path / "images" / "a").mkdir(parents=True)
    with pytest.raises(DatasetError, match="holds no images"):
        km.train("cnn", f"images:{tmp_path / 'images'}", out_dir=out, verbose=0)
    assert not out.exists()
    run = km.train("mlp", f"csv:{csv}", dataset_options={"target": "label"}, epochs=2,
                   out_dir=out, verbose=0)
    assert run.manifest["dataset"]["labels"] == ["0", "1"] and run.id.startswith("mlp-csv-data-")


def test_truncated_model_file_is_reported(cnn_run, tmp_path):
    import shutil

    copy = tmp_path / "runs" / cnn_run.id
    shutil.copytree(cnn_run.path, copy)
    model = copy / "model.keras"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    with pytest.raises(RunError, match="corrupt or truncated"):
        km.load_run(copy).model  # noqa: B018
    runs, broken = km.scan_runs(tmp_path / "runs")
    assert runs == [] and broken[0][0] == copy
    with pytest.raises(RunError, match="does not exist"):
        km.load_run(tmp_path / "nope")


def test_regularizer_is_applied_to_kernels_and_reaches_the_loss(tmp_path):
    run = km.train("mlp", "digits", epochs=1, regularizer="l2", reg_strength=1e-3,
                   out_dir=tmp_path, verbose=0)
    model = run.model
    assert model.get_layer("dense_0").kernel_regularizer is not None
    kernels = [layer.kernel.numpy().astype("float64") for layer in model.layers
               if getattr(layer, "kernel", None) is not None]
    penalty = 1e-3 * sum(float((k ** 2).sum()) for k in kernels)
    assert float(sum(model.losses)) == pytest.approx(penalty, rel=1e-5)
    x, y = run.dataset().test
    probabilities = model.predict(x, verbose=0).astype("float64")
    crossentropy = float(-np.log(probabilities[np.arange(len(y)), y]).mean())
    loss = model.evaluate(x, y, batch_size=len(x), verbose=0)[0]
    print(f"evaluated loss {loss:.6f} = crossentropy {crossentropy:.6f} + L2 {penalty:.6f}")
    assert penalty > 1e-3 and loss == pytest.approx(crossentropy + penalty, rel=1e-4)
    assert run.manifest["training"]["regularizer"] == {"name": "l2", "strength": 1e-3,
                                                       "warmup_epochs": None}


def test_early_stopping_stops_early(tmp_path):
    run = km.train("linear", "regression", epochs=400, learning_rate=0.5, early_stopping=3,
                   out_dir=tmp_path, verbose=0)
    assert run.manifest["training"]["epochs_run"] < 400


def test_killed_run_resumes_bit_identically(tmp_path):
    """kill -9 after epoch 3, run the same command again: the run ends with exactly the weights
    (and history) of the run that was never stopped, dropout's random stream included."""
    out = tmp_path / "runs"
    common = [*KERASMODELS, "train", "--arch", "mlp", "--epochs", "6", "--batch-size", "8",
              "--hparam", "dropout=0.3", "--checkpoint-every", "0"]
    args = [*common, "--out-dir", str(out), "--quiet"]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, done = time.time() + 240, 0
    while time.time() < deadline and proc.poll() is None:
        states = list(out.glob(".partial/*/state/state.json"))  # the saved training state
        if states:
            try:
                done = json.loads(states[0].read_text())["epochs_done"]
            except (ValueError, KeyError):
                done = 0
            if done >= 3:
                proc.send_signal(signal.SIGKILL)
                break
        time.sleep(0.05)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not [p for p in out.iterdir() if not p.name.startswith(".")], "no run saved yet"

    result = subprocess.run(args[:-1], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Resuming" in result.stderr  # a log line: stdout holds the result
    (run_dir,) = [p for p in out.iterdir() if not p.name.startswith(".")]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    history = json.loads((run_dir / "history.json").read_text())
    assert history["epoch"] == list(range(1, 7))
    assert manifest["training"]["epochs_run"] == 6
    assert manifest["training"]["resumed_from_epoch"] >= 3
    assert not (out / ".partial").exists()

    whole = tmp_path / "uninterrupted"
    done = subprocess.run([*common, "--out-dir", str(whole), "--quiet"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (reference,) = [p for p in whole.iterdir() if not p.name.startswith(".")]
    resumed, uninterrupted = km.load_run(run_dir).model, km.load_run(reference).model
    for a, b in zip(resumed.get_weights(), uninterrupted.get_weights(), strict=True):
        assert np.array_equal(a, b)
    expected = json.loads((reference / "history.json").read_text())
    assert history["loss"] == expected["loss"] and history["val_loss"] == expected["val_loss"]


def test_run_of_a_path_under_the_default_dir(cnn_run, monkeypatch):
    monkeypatch.chdir(cnn_run.path.parent.parent)
    Path("saved_models").mkdir(exist_ok=True)
    with pytest.raises(RunError, match="does not exist"):
        km.load_run("no-such-run")
