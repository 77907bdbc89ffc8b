"""The sweep on Optuna's storage: its variants are the trials of a study that outlives the
process. Two workers (or two machines) share the variants, a killed sweep resumes without
making any variant twice, and the result is the serial sweep's. The pick is the smallest
artifact whose paired difference from the parent, at the lower end of its bootstrap
interval, is within the budget."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import kerasmodels as km
from kerasmodels.errors import HyperparameterError
from tests.conftest import cli, run_quick
from tests.test_studies import kill_one_and_finish, states, trials_of

RECIPES = [{"recipe": "qat"}]
FORMATS = ["tflite-float32", "tflite-int8"]
COMPARED = ("recipe", "format", "status", "val_score", "val_diff", "val_diff_low",
            "val_diff_high", "test_score")
# one sweep worker of its own (argv: parent folder, storage, study)
WORKER = """
import sys
import kerasmodels as km
km.sweep(sys.argv[1], recipes=[{"recipe": "qat"}], formats=["tflite-float32", "tflite-int8"],
         calls=5,
         storage=sys.argv[2], study=sys.argv[3], heartbeat_seconds=1, progress=False)
"""


def copy_of(run, folder):
    """The run alone in a runs folder of its own (its sweep's default storage is there)."""
    folder.mkdir(parents=True)
    return shutil.copytree(run.path, folder / run.id,
                           ignore=shutil.ignore_patterns("sweep.json", "benchmark.*"))


def measured(result) -> list[tuple]:
    return [tuple(row.get(key) for key in COMPARED) for row in result["rows"]]


def picked(result) -> tuple:
    return (result["pick"]["recipe"], result["pick"]["format"]) if result["pick"] else ()


@pytest.fixture(scope="module")
def serial(cnn_run, tmp_path_factory):
    """The sweep made in this process, one variant after another."""
    copy = copy_of(cnn_run, tmp_path_factory.mktemp("serial") / "runs")
    return km.sweep(copy, recipes=RECIPES, formats=FORMATS, calls=20, progress=False)


def test_two_workers_killed_and_started_again_make_the_serial_sweep(tmp_path):
    """`bench_scale.py --quick`: a sweep made in one process, then the same sweep as
    `kerasmodels sweep RUN` killed (SIGKILL) once a variant is finished, and started again as
    `kerasmodels sweep RUN --workers 2`. No variant is finished twice, only the one that was
    running is made again, and the rows are the serial sweep's. (The full bench kills a
    two-worker sweep, its helper with it.)"""
    figures = run_quick("scale", tmp_path / "scale.json")
    resumed = figures["resume"]
    assert resumed["finished_before_kill"] >= 1 and resumed["variants_left"] >= 1, resumed
    assert resumed["variants_finished_twice"] == 0 and resumed["complete"], resumed
    assert resumed["trials_failed_by_the_kill"] == 1 and resumed["same_rows_as_serial"], resumed
    assert figures["seeds"][0]["pick"] and isinstance(figures["seeds"][0]["within"], bool)


def test_two_machines_share_a_sweep_through_postgresql_and_one_dies(serial, cnn_run, postgres,
                                                                    tmp_path):
    """Two sweep processes on one study in PostgreSQL, each with its own copy of the run (as
    on two machines). One is killed in the middle of a variant; the other makes that variant
    again and finishes: every variant finished once, the serial sweep's rows and pick."""
    from tests.test_studies import start_worker

    copies = {name: copy_of(cnn_run, tmp_path / name) for name in ("a", "b")}
    workers = {}
    for name, copy in copies.items():
        workers[name] = start_worker(copy.parent, postgres, 0, script=WORKER,
                                     argv=[str(copy), postgres, "shared-sweep"])
    kill_one_and_finish(workers, postgres, "shared-sweep", "worker a to make a variant",
                        finished_one=False)
    trials = trials_of(postgres, "shared-sweep")
    finished = [t.params["variant"] for t in trials if t.state.name == "COMPLETE"]
    assert sorted(finished) == [0, 1] and states(trials).count("FAIL") == 1, states(trials)
    result = json.loads((copies["b"] / "sweep.json").read_text())
    assert measured(result) == measured(serial) and picked(result) == picked(serial)
    assert result["storage"] == postgres and result["complete"]


def test_the_pick_is_the_smallest_whose_interval_stays_within_the_budget(serial):
    """Every measured row carries its paired difference from the parent with a 95% interval
    around it; the pick's lower end is within the budget, every smaller row's is not; the
    pick's scores are what LiteRT gives on the validation and test splits. (Two workers,
    killed and started again, make the same rows and pick: `bench_scale.py --quick`, checked
    in tests/test_scripts.py.)"""
    from kerasmodels.compression.sweep import choose
    from kerasmodels.runtime.litert import LiteRTModel

    rows = [r for r in serial["rows"] if r["status"] == "ok"]
    assert {(r["recipe"], r["format"]) for r in rows} == {
        ("none", "tflite-float32"), ("none", "tflite-int8"), ("qat", "tflite-int8")}
    assert [r["format"] for r in rows if r["recipe"] == "qat"] == ["tflite-int8"]
    assert serial["val_examples"] == 270 and serial["interval"]["level"] == 0.95
    for row in rows:
        assert row["val_diff_low"] <= row["val_diff"] <= row["val_diff_high"]
        assert abs(row["val_diff"] - (row["val_score"] - serial["parent_val_score"])) < 1e-5
        # the floor the multiply-adds imply at this CPU's vector width and clock is a bound
        assert row["multiply_adds"] > 0 and 0 < row["latency_floor_ms"] < row["p50_ms"], row
    float32 = next(r for r in rows if r["recipe"] == "none" and r["format"] == "tflite-float32")
    assert float32["val_diff_low"] == float32["val_diff_high"] == 0  # the parent itself
    pick = serial["pick"]
    assert serial["chosen_on"] == "val" and any(r["pareto"] for r in rows)
    assert pick == choose(rows, serial["accuracy_budget"]) and pick["val_diff_low"] >= -0.01
    assert all(r["val_diff_low"] < -0.01 for r in rows if r["gzip_bytes"] < pick["gzip_bytes"])
    assert choose(rows, 0.5)["gzip_bytes"] <= pick["gzip_bytes"]  # a wider budget: no larger
    run = km.load_run(Path(pick["path"]).parents[1])  # <run>/exports/<file>
    for split, key in (("val", "val_score"), ("test", "test_score")):
        x, y = getattr(run.dataset(), split)
        measured = (LiteRTModel(pick["path"]).predict(x).argmax(1) == y).mean()
        assert measured == pytest.approx(pick[key], abs=1e-6), split


def test_the_bootstraps_auc_is_sklearns():
    """Anomaly runs' rows resample an AUC a thousand times: from ranks, with ties, it is
    roc_auc_score's value."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from kerasmodels.tasks import get_task

    rng = np.random.default_rng(0)
    for _ in range(5):
        y = rng.integers(0, 2, 300)
        scores = rng.normal(size=300) + y
        scores[:40] = np.round(scores[:40], 1)  # ties
        assert get_task("anomaly").from_examples(scores, y) == pytest.approx(
            roc_auc_score(y, scores), abs=1e-12)
    assert np.isnan(get_task("anomaly").from_examples(scores[:5], np.zeros(5)))


def test_a_budget_below_one_validation_example_is_refused(cnn_run, tmp_path):
    copy = copy_of(cnn_run, tmp_path / "runs")
    with pytest.raises(HyperparameterError, match=r"below one validation example: the "
                                                  r"validation split has 270 examples, a "
                                                  r"resolution of 0\.0037"):
        km.sweep(copy, accuracy_budget=0.002, progress=False)
    done = cli("sweep", str(copy), "--budget", "0.001")
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1].startswith(
        "kerasmodels: error: accuracy_budget 0.001 is below one validation example")
    assert not (tmp_path / "runs" / ".searches").exists()  # no study made for it
    assert not (copy / "sweep.json").exists()


def test_without_a_budget_a_small_validation_split_gets_one_example(tmp_path):
    """Digits 0 and 1 leave 55 validation examples: the default budget (0.01) was refused, so
    `kerasmodels sweep` on such a run failed until given --budget (bench_tiny.py's
    MobileNetV1 on two classes died so). Unset, it is one example's worth; given, it is
    checked."""
    from kerasmodels.compression.sweep import DEFAULT_BUDGET

    run = km.train("linear", "digits", dataset_options={"classes": [0, 1]}, epochs=1,
                   out_dir=tmp_path / "runs", verbose=0)
    examples = len(run.dataset().val[1])
    assert 1 / examples > DEFAULT_BUDGET
    result = km.sweep(run, recipes=[], formats=["tflite-int8"], calls=5, progress=False)
    assert result["accuracy_budget"] == pytest.approx(1 / examples, abs=1e-4)
    assert result["accuracy_budget"] >= 1 / examples and result["complete"]
    assert json.loads((run.path / "sweep.json").read_text())["accuracy_budget"] == \
        result["accuracy_budget"]
    shown = subprocess.run(  # what the Compare page reads, in a new process
        [sys.executable, "-c", "import sys, kerasmodels as km; "
         "print(km.compare_family(sys.argv[1])['sweep']['accuracy_budget'])", str(run.path)],
        capture_output=True, text=True, timeout=120)
    assert float(shown.stdout.strip().splitlines()[-1]) == result["accuracy_budget"], shown.stderr
    with pytest.raises(HyperparameterError, match="below one validation example"):
        km.sweep(run, accuracy_budget=DEFAULT_BUDGET, recipes=[], progress=False)


def test_another_sweeps_study_and_a_bad_storage_are_refused_before_any_work(cnn_run, tmp_path):
    from kerasmodels.errors import StorageError

    url = f"sqlite:///{tmp_path / 'studies.db'}"
    km.search("mlp", "digits", trials=1, epochs=1, out_dir=tmp_path / "runs", storage=url,
              study="taken", progress=False)
    started = time.monotonic()
    with pytest.raises(StorageError, match="study 'taken' holds a search, not a sweep: name "
                                           "another study"):
        km.sweep(cnn_run, storage=url, study="taken", progress=False)
    done = cli("sweep", str(cnn_run.path), "--storage", "db.sqlite")
    assert done.returncode == 1 and "search storage 'db.sqlite' is not a database URL" in \
        done.stderr.strip().splitlines()[-1]
    started = time.monotonic()
    with pytest.raises(StorageError, match="cannot use search storage"):
        km.sweep(cnn_run, storage="postgresql://km@127.0.0.1:9/km", progress=False)
    assert time.monotonic() - started < 20  # refused at once, not after a wait
