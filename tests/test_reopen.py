"""Every run reopens and converts in a new process: no crash, no refusal of kerasmodels' own
layers, and a checked file or a clear error for every format. The export matrix's cells are
asserted on ``scripts/bench_export_matrix.py --quick`` (each case reopened by a fresh process
through the API and the console script), not made a second time here."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

import kerasmodels as km
from kerasmodels.formats import get_format
from tests.conftest import KERASMODELS, ROOT, as_at_a_terminal, cli, run_cli, run_quick


@pytest.fixture(scope="module")
def matrix(tmp_path_factory) -> dict:
    return run_quick("export_matrix", tmp_path_factory.mktemp("matrix") / "matrix.json")


def cells(matrix: dict, case: str) -> dict[str, dict]:
    return {c["format"]: c for c in matrix["cells"] if c["case"] == case}


def test_no_process_dies_and_every_cell_is_a_file_or_a_reason(matrix):
    assert matrix["died"] == [] and all(c["child_exit"] == 0 for c in matrix["cases"])
    every = {f.name for f in km.export_formats() if not f.repairs}
    repairs = {f.name for f in km.export_formats() if f.repairs}  # made where int8 misses
    assert set(matrix["formats"]) == every
    for case in matrix["cases"]:
        assert every <= set(cells(matrix, case["case"])) <= every | repairs, case["case"]
    for found in matrix["cells"]:
        assert found["status"] in ("ok", "below floor", "cannot hold", "converter failed",
                                   "compression failed"), found
        floor = get_format(found["format"]).agreement_floor
        classified = found["agreement"] is not None  # a regression has a difference instead
        if found["status"] == "ok":
            assert not classified or found["agreement"] >= floor, found
        else:
            assert found["reason"] and "Traceback" not in found["reason"], found
        if found["status"] == "below floor" and classified:  # the measured agreement is kept
            assert found["agreement"] < floor, found


def test_a_reopened_run_holds_the_lossless_formats(matrix):
    """Reopened in a fresh process, the case's lossless formats match Keras, and every format
    that cannot hold it says so with the converter's reason (every architecture:
    bench-results/export_matrix.json)."""
    found = cells(matrix, "import: GRU over any length")
    for fmt in (f.name for f in km.export_formats() if f.lossless):
        assert found[fmt]["status"] == "ok", found[fmt]
    for fmt, entry in found.items():
        if entry["status"] == "cannot hold":
            assert entry["reason"].startswith(f"{fmt} cannot hold this model: "), entry


def test_a_converter_that_kills_its_process_is_one_clear_error(matrix):
    """A GRU over sequences of any length cannot be unrolled, and int8 calibration of its loop
    segfaults: in the worker, which names the format, where, the layer and what to do; the
    reopening process goes on to the other formats, the console script exits 1 with one line."""
    crashed = cells(matrix, "import: GRU over any length")
    reason = crashed["tflite-int8"]["reason"]
    assert crashed["tflite-int8"]["status"] == "converter failed", crashed["tflite-int8"]
    assert "tflite-int8: the converter was killed by SIGSEGV" in reason
    assert "calibrator" in reason and "GRU" in reason, reason
    assert "tensorflow/tensorflow#62281" in reason and "fixed sequence length" in reason
    # the same calibration in TFLM's format: not tried again once it crashed in this export
    # (each crash restarts the worker's TensorFlow), with the same upstream bug and advice
    micro = crashed["tflite-micro"]
    assert micro["status"] == "converter failed", micro
    assert micro["reason"].startswith("tflite-micro: not tried: tflite-int16x8's converter "
                                      "crashed on the same step in this export"), micro
    assert "tensorflow/tensorflow#62281" in micro["reason"] and "fixed sequence length" in \
        micro["reason"]
    for fmt in ("tflite-float32", "onnx", "saved_model"):
        assert crashed[fmt]["status"] == "ok", crashed[fmt]
    (case,) = [c for c in matrix["cases"] if c["case"] == "import: GRU over any length"]
    cli_int8 = case["cli_int8"]
    assert cli_int8["exit"] == 1 and cli_int8["stderr_lines"] == 1 and not cli_int8["traceback"]
    assert cli_int8["error"].startswith("kerasmodels: error: tflite-int8: the converter was "
                                        "killed by SIGSEGV"), cli_int8


def test_a_crash_leaves_the_process_and_the_published_set_whole(any_length_gru_run):
    """In this process: the crash is an ExportError carrying what passed; nothing of the
    failed format is left, the staging folder is gone, and the next export works (a new
    worker)."""
    from kerasmodels.errors import ConverterCrashError

    run = any_length_gru_run
    with pytest.raises(ConverterCrashError, match="tflite-int8: the converter was killed") as e:
        km.export(run, ["tflite-float32", "tflite-int8"])
    assert [a.format for a in e.value.artifacts] == ["tflite-float32"]
    record = json.loads((run.path / "exports" / "exports.json").read_text())
    assert record["failed"]["tflite-int8"]["kind"] == "converter failed"
    assert set(record["artifacts"]) == {"tflite-float32"}
    assert not (run.path / "exports" / "tflite-int8.tflite").exists()
    assert not list(run.path.glob(".exports-*"))
    assert km.export(run, ["onnx"])[0].parity["top1_agreement"] == 1.0


def test_pretrain_then_finetune_as_two_console_commands(tmp_path):
    """The seed chapter's pretraining then fine-tuning, as two processes: the second reopens
    the first's transformer (its PositionalEncoding registered by loading alone)."""
    pretrained = run_cli("pretrain", "--epochs", "1", "--corpus-option", "n=300", "--out-dir",
                         str(tmp_path), "--json", "-q", timeout=300)
    assert pretrained.returncode == 0, pretrained.stderr
    path = json.loads(pretrained.stdout)["path"]
    tuned = run_cli("finetune", path, "--epochs", "1", "--dataset-option", "n=300", "--json",
                    "-q", timeout=300)
    assert tuned.returncode == 0, tuned.stderr
    child = json.loads(tuned.stdout)
    assert child["parent"] == Path(path).name and child["metrics"]["test"]["accuracy"] > 0


def test_a_sweep_goes_on_past_variants_that_fail(cnn_exports, tmp_path, monkeypatch):
    """An imported SavedModel (a graph: recipes that change layers cannot apply) with an int8
    floor no file reaches: the sweep finishes, exit 0, with the int8 row below its floor (the
    agreement measured), the recipe's row naming why, and a pick among the rest."""
    import dataclasses

    import kerasmodels.formats as formats

    run = km.import_model(cnn_exports["saved_model"].path, "digits", out_dir=tmp_path)
    rows = [dataclasses.replace(f, agreement_floor=1.0 + 1e-9) if f.name == "tflite-int8"
            else f for f in formats.FORMATS]
    monkeypatch.setattr(formats, "FORMATS", rows)
    done = cli("sweep", str(run.path), "--recipe", "prune", "--calls", "5", "--json", "-q")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    by = {(r["recipe"], r["format"]): r for r in result["rows"]}
    int8 = by[("import", "tflite-int8")]
    assert int8["status"] == "below floor" and 0.9 < int8["top1_agreement"] < 1.0
    assert "below its floor" in int8["reason"]
    pruned = by[("prune", None)]
    assert pruned["status"] == "compression failed" and "SavedModel" in pruned["reason"]
    assert by[("import", "tflite-float32")]["status"] == "ok"
    assert result["complete"] and result["failed"] == 2 and result["pick"] is not None
    assert result["pick"]["format"] != "tflite-int8"
    saved = json.loads((run.path / "sweep.json").read_text())
    assert saved["pick"] == result["pick"] and len(saved["rows"]) == len(result["rows"])
    compared = km.compare_family(run)  # the dashboard's Compare reads only what was measured
    assert all(r["format"] != "tflite-int8" for r in compared["rows"])


def test_an_interrupted_sweep_keeps_what_it_measured(cnn_run, tmp_path, monkeypatch):
    """Interrupted while compressing: sweep.json already holds the parent's measured rows,
    and the Compare page shows them as a sweep in progress."""
    import shutil

    copy = tmp_path / cnn_run.id
    shutil.copytree(cnn_run.path, copy, ignore=shutil.ignore_patterns("sweep.json"))
    process = subprocess.Popen([*KERASMODELS, "sweep", str(copy), "--recipe", "distill", "-q"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, preexec_fn=as_at_a_terminal)
    deadline = time.monotonic() + 240
    while not (copy / "sweep.json").exists() or not json.loads(
            (copy / "sweep.json").read_text())["rows"]:
        assert time.monotonic() < deadline, "the parent's rows were never written"
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    kept = json.loads((copy / "sweep.json").read_text())
    assert kept["complete"] is False and kept["pick"] is None
    measured = [r for r in kept["rows"] if r["status"] == "ok"]
    assert {r["format"] for r in measured} == {"tflite-float32", "tflite-float16",
                                                "tflite-dynamic", "tflite-int8"}
    assert all(Path(r["path"]).is_file() and r["val_accuracy"] > 0.5 for r in measured)
    assert kept["variants_done"] == 1 and kept["variants"] == 2
    # the dashboard's Compare page shows it as a sweep in progress, with its rows so far
    from streamlit.testing.v1 import AppTest

    from kerasmodels.dashboard import APP

    monkeypatch.setenv("KERASMODELS_RUNS_DIR", str(tmp_path))
    at = AppTest.from_file(str(APP), default_timeout=240)
    at.run()
    at.switch_page("views/compare.py").run()
    at.selectbox(key="compare_run").set_value(copy.name).run()
    assert not at.exception, [e.value for e in at.exception]
    progress = [element.proto.text for element in at.get("progress")]
    assert any("Sweep in progress: 1 of 2 variants measured" in text for text in progress), \
        progress
    assert {"tflite-float32", "tflite-int8"} <= set(at.dataframe[0].value["format"])
