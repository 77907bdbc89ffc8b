"""Bad input gets one clear error that names the problem, never a wrong answer or a raw one;
a broken run or file is listed as broken and the rest keeps working."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import cli, run_cli

import kerasmodels as km
from kerasmodels.errors import (
    DatasetError,
    HyperparameterError,
    InputShapeError,
    RunError,
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A one-epoch MLP exported to float32 and int8 TFLite and ONNX, in its own folder."""
    runs = tmp_path_factory.mktemp("runs")
    run = km.train("mlp", "digits", epochs=1, out_dir=runs, verbose=0)
    km.export(run, ["tflite-float32", "tflite-int8", "onnx"])
    return run


def test_a_csv_with_infinite_values_is_refused(tmp_path):
    rows = ["a,b,y"] + [f"{i},{i % 3},{i % 2}" for i in range(40)] + ["inf,1,0"]
    (tmp_path / "data.csv").write_text("\n".join(rows))
    with pytest.raises(DatasetError, match=r"\['a'\] hold infinite values"):
        km.load_dataset(f"csv:{tmp_path / 'data.csv'}", target="y")


@pytest.mark.parametrize("call, message", [
    (lambda: km.train("mlp", epochs=99999999999999999999), "epochs must be an integer from 1 to 100,000"),
    (lambda: km.train("mlp", hidden_units=(10**9,)), "sizes up to 65,536"),
    (lambda: km.train("mlp", schedule="step", schedule_options={"every": -1}), "every must be"),
    (lambda: km.train("mlp", schedule="plateau", schedule_options={"patience": 0}),
     "patience must be"),
    (lambda: km.train("mlp", learning_rate=float("inf")), "learning_rate must be finite"),
])
def test_impossible_hyperparameters_are_refused_before_any_work(call, message, tmp_path,
                                                               monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(HyperparameterError, match=message):
        call()
    assert not (tmp_path / "saved_models").exists()


def test_impossible_options_of_compress_export_and_launch(exported):
    with pytest.raises(HyperparameterError, match="clusters must be"):
        km.compress(exported, "cluster", clusters=10**9)
    with pytest.raises(HyperparameterError, match="opset must be"):
        km.export(exported, ["onnx"], opset=0)
    from kerasmodels.distribute import launch

    with pytest.raises(HyperparameterError, match="--grace"):
        launch(["train"], 2, grace=-1)


def test_the_cli_says_the_same_in_one_line(exported, tmp_path):
    cases = [(["train", "--image-size", "100000x100000", "--dataset", f"images:{tmp_path}"],
              "image_size must be between"),
             (["export", str(exported.path), "--opset", "0"], "opset must be"),
             (["launch", "--grace", "-1", "--", "train"], "--grace")]
    for args, message in cases:
        done = cli(*args)
        assert done.returncode != 0 and message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr


def test_a_format_given_as_a_string_is_one_format(exported):
    (artifact,) = km.export(exported, "tflite-float32")
    assert artifact.format == "tflite-float32"


def test_nan_or_inf_input_is_refused_by_every_runtime(exported):
    from kerasmodels.edge import EdgeModel

    x = exported.dataset().test[0][:2].copy()
    x[0, 3] = np.nan
    exports = exported.path / "exports"
    predictors = [exported, km.load_predictor(exports / "tflite-int8.tflite"),
                  km.load_predictor(exports / "onnx.onnx")]
    for predictor in predictors:
        with pytest.raises(InputShapeError, match="NaN or infinite"):
            predictor.predict(x)
    raw = np.full((1, 8, 8, 1), 4.0)
    raw[0, 0, 0, 0] = np.inf
    with pytest.raises(InputShapeError, match="NaN or infinite"):
        EdgeModel(exports / "tflite-float32.tflite").classify(raw)


def test_load_run_of_a_number_is_a_clear_error():
    with pytest.raises(RunError, match="a run is a directory path"):
        km.load_run(123)


def broken_copies(run, root: Path) -> dict[str, str]:
    """Copies of ``run`` broken in every way a folder from someone else can be."""
    def copy(name):
        target = root / name
        shutil.copytree(run.path, target)
        manifest = json.loads((target / "manifest.json").read_text())
        (target / "manifest.json").write_text(json.dumps({**manifest, "id": name}))
        return target, manifest

    target, manifest = copy("missing-arch")
    del manifest["arch"]
    (target / "manifest.json").write_text(json.dumps({**manifest, "id": "missing-arch"}))
    target, manifest = copy("wrong-types")
    (target / "manifest.json").write_text(json.dumps(
        {**manifest, "id": "wrong-types", "dataset": {"name": 3, "input_shape": "x"}}))
    target, _ = copy("garbage-history")
    (target / "history.json").write_text('{"loss": "lots"}')
    target, _ = copy("renamed-folder")
    manifest = json.loads((target / "manifest.json").read_text())
    (target / "manifest.json").write_text(json.dumps({**manifest, "id": "other-name"}))
    return {"missing-arch": "arch.name", "wrong-types": "dataset.name",
            "renamed-folder": "folder is named"}


def test_broken_runs_are_listed_with_their_reason_and_the_rest_works(exported, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(exported.path, root / exported.id)
    reasons = broken_copies(exported, root)
    rows, broken = km.runs_table(root)
    assert {r["run"] for r in rows} == {exported.id, "garbage-history"}
    found = {path.name: reason for path, reason in broken}
    for name, words in reasons.items():
        assert words in found[name], found[name]
    with pytest.raises(RunError, match="is not a history"):
        _ = km.load_run(root / "garbage-history").history
    done = run_cli("runs", "--runs-dir", str(root))
    assert done.returncode == 0 and exported.id in done.stdout
    assert done.stdout.count("BROKEN") == 3


def test_the_dashboard_shows_broken_runs_and_keeps_working(exported, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    root = tmp_path / "runs"
    shutil.copytree(exported.path, root / exported.id)
    broken_copies(exported, root)
    monkeypatch.setenv("KERASMODELS_RUNS_DIR", str(root))
    from kerasmodels.dashboard import APP as app
    at = AppTest.from_file(str(app), default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    assert sum("is broken" in e.value for e in at.error) == 3
    at.selectbox(key="models_run").set_value("garbage-history").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("is not a history" in e.value for e in at.error)
    for page in ("playground", "compare", "compress"):
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])


def test_variants_keep_the_good_files_and_list_the_broken(exported, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(exported.path, root / exported.id)
    exports = root / exported.id / "exports"
    (exports / "tflite-int8.tflite").write_bytes(b"TFL3" * 64)  # random bytes, right magic
    (exports / "onnx.onnx").write_bytes(b"garbage" * 20)
    variants = km.load_variants(root / exported.id)
    assert {v.format for v in variants} == {"keras", "tflite-float32"}
    assert {file for _, file, _ in variants.broken} == {"exports/tflite-int8.tflite",
                                                         "exports/onnx.onnx"}
    (exports / "exports.json").write_text("{not json")
    variants = km.load_variants(root / exported.id)
    assert [v.format for v in variants] == ["keras"]
    assert variants.broken[0][1] == "exports/exports.json"


def test_an_upload_the_dashboard_cannot_keep_is_a_clear_error(tmp_path, monkeypatch):
    """A runs folder that cannot be written (here: a file where the folder should be; root
    ignores permission bits) gives a message, never a traceback."""
    from kerasmodels.dashboard import common
    from kerasmodels.errors import UploadError

    class Uploaded:
        name = "data.csv"

        def getvalue(self):
            return b"a,b\n1,2\n"

    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("KERASMODELS_RUNS_DIR", str(tmp_path / "not-a-folder"))
    with pytest.raises(UploadError, match="cannot be kept in .*make the runs folder writable"):
        common.save_upload(Uploaded())
    monkeypatch.setenv("KERASMODELS_RUNS_DIR", str(tmp_path / "runs"))
    kept = common.save_upload(Uploaded())
    assert kept.read_bytes() == b"a,b\n1,2\n" and kept.parent.name == ".uploads"
    assert [p.name for p in kept.parent.iterdir()] == [kept.name]
