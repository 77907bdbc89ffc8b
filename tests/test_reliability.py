"""Nothing is lost: saves from any thread, unique run ids, atomic export sets, every recipe's
child reloads."""

from __future__ import annotations

import json
import shutil
import threading
import zipfile

import numpy as np
import pytest

import kerasmodels as km
from kerasmodels.layout import MODEL


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    return km.train("cnn", "digits", epochs=1, out_dir=tmp_path_factory.mktemp("runs"),
                    verbose=0)


def in_thread(function):
    """Run ``function`` on a new thread (as Streamlit runs a page) and return its result."""
    result = {}

    def target():
        try:
            result["value"] = function()
        except BaseException as exc:  # re-raised on the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def test_runs_made_on_a_worker_thread_are_keras_zip_files(small_run, tmp_path):
    """Loading a model on a thread turns tf_keras' .keras switch off for that thread; what the
    thread saves next must still be a .keras zip that reloads."""
    def work():
        _ = km.load_run(small_run.path).model  # the load that flips the switch
        child = km.compress(small_run.path, "prune", epochs=1)
        trained = km.train("mlp", "digits", epochs=1, out_dir=tmp_path, verbose=0)
        km.export(child, ["tflite-float32"])
        return child, trained

    child, trained = in_thread(work)
    for run in (child, trained):
        assert zipfile.is_zipfile(run.path / MODEL)
        reloaded = km.load_run(run.path).model
        for a, b in zip(reloaded.get_weights(), run.model.get_weights(), strict=True):
            assert np.array_equal(a, b)


def test_two_runs_with_the_same_id_both_land(small_run, tmp_path):
    """Two trainings started in the same second ask for the same id: the second gets the next
    free one, and the first is untouched."""
    from kerasmodels.runs import save_run

    first = km.train("mlp", "digits", epochs=1, out_dir=tmp_path, verbose=0)
    manifest = json.loads((first.path / "manifest.json").read_text())
    second = save_run(first.model, dict(manifest), first.history, tmp_path)
    assert second.id == f"{first.id}-2" and second.manifest["id"] == second.id
    assert json.loads((first.path / "manifest.json").read_text())["id"] == first.id
    assert {r.id for r in km.list_runs(tmp_path)} == {first.id, second.id}


def full_disk(model, target, **options):
    """A converter that runs out of disk half way through its file."""
    target.write_bytes(b"half written")
    raise OSError(28, "No space left on device")


def test_a_failed_export_leaves_the_previous_set_and_no_stray_files(small_run, tmp_path,
                                                                     monkeypatch):
    run_dir = tmp_path / small_run.id
    shutil.copytree(small_run.path, run_dir)
    km.export(run_dir, ["tflite-float32"])
    before = sorted(p.name for p in (run_dir / "exports").iterdir())

    import dataclasses

    from kerasmodels import formats

    monkeypatch.setattr(formats, "FORMATS", [
        dataclasses.replace(f, converter="tests.test_reliability:full_disk")
        if f.name == "onnx" else f for f in formats.FORMATS])
    with pytest.raises(OSError, match="No space"):
        km.export(run_dir, ["tflite-int8", "onnx"])
    assert sorted(p.name for p in (run_dir / "exports").iterdir()) == before
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".")]
    # a stray file dropped in the folder is never offered as an export
    (run_dir / "exports" / "tflite-dynamic.tflite").write_bytes(b"stray")
    offered = {p.name for p in km.load_run(run_dir).exported_files()}
    assert offered == {"tflite-float32.tflite", "exports.json", "labels.json"}


def test_runs_py_loads_models_without_importing_the_compression_package():
    """QAT runs load through the kerasmodels.model_loaders entry point: runs.py itself names
    no compression module."""
    import ast
    from importlib.metadata import entry_points
    from pathlib import Path

    source = (Path(__file__).resolve().parents[1] / "kerasmodels" / "runs.py").read_text()
    imported = {node.module for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.ImportFrom) and node.module}
    assert not any(name.startswith("kerasmodels.compression") for name in imported), imported
    loaders = {entry.name: entry.value for entry in entry_points(group="kerasmodels.model_loaders")}
    assert loaders == {"qat": "kerasmodels.compression.quantization:load_run_model"}


def test_shared_variants_answer_every_thread_correctly(cnn_run, cnn_exports):
    """The dashboard's sessions share one loaded family: predictions from several threads at
    once (LiteRT interpreters, ONNX Runtime, Keras) are each thread's own, never an error.
    Without the interpreter's turn-taking, LiteRT raised "There is at least 1 reference to
    internal data" (shown as an error row in the Playground)."""
    variants = km.load_variants(cnn_run.path)
    assert {"tflite-float32", "tflite-int8", "onnx", "keras"} <= {v.format for v in variants}
    x = cnn_run.dataset().test[0][:24]
    expected = [km.predict_variants(variants, x[i:i + 1]) for i in range(len(x))]
    failures = []

    def predict(offset: int):
        for k in range(120):
            i = (k * 7 + offset) % len(x)
            for got, wanted in zip(km.predict_variants(variants, x[i:i + 1]), expected[i],
                                   strict=True):
                if got.get("error") or got.get("probabilities") != wanted.get("probabilities"):
                    failures.append((i, got["variant"], got.get("error")))

    threads = [threading.Thread(target=predict, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures[:5]
