"""The sweep on Optuna's storage: its variants are the trials of a study that outlives the
process. Two workers (or two machines) share the variants, a killed sweep resumes without
making any variant twice, and the result is the serial sweep's. The pick is the smallest
artifact whose paired difference from the parent, at the lower end of its bootstrap
interval, is within the budget."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time

import pytest

import kerasmodels as km
from kerasmodels.errors import HyperparameterError
from tests.conftest import KERASMODELS, ROOT, cli
from tests.test_studies import finish, states, trials_of, wait_until

RECIPES = ["cluster", "qat"]  # with their default options: what `--recipe NAME` sweeps
COMPARED = ("recipe", "format", "status", "val_score", "val_diff", "val_diff_low",
            "val_diff_high", "test_score")
# one sweep worker of its own (argv: parent folder, storage, study)
WORKER = """
import sys
import kerasmodels as km
km.sweep(sys.argv[1], recipes=[{"recipe": "cluster"}, {"recipe": "qat"}], calls=5,
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
    return km.sweep(copy, recipes=[{"recipe": name} for name in RECIPES], calls=5,
                    progress=False)


def test_two_workers_killed_and_started_again_make_the_serial_sweep(serial, cnn_run,
                                                                     tmp_path):
    """`kerasmodels sweep RUN --workers 2` killed once a variant is finished and another is
    being made, then started again: the finished variants are kept (their children
    too), no variant is finished twice, and the rows and the pick are the serial sweep's."""
    copy = copy_of(cnn_run, tmp_path / "runs")
    url = f"sqlite:///{tmp_path / 'runs' / '.searches' / 'searches.db'}"
    command = [*KERASMODELS, "sweep", str(copy), *[a for r in RECIPES for a in ("--recipe", r)],
               "--workers", "2", "--calls", "5", "--json", "-q"]
    first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    first.log = tmp_path / "first.log"  # type: ignore[attr-defined]
    study = None
    try:
        def one_done_one_running() -> bool:
            nonlocal study
            if study is None:
                study = json.loads((copy / "sweep.json").read_text())["study"] if (
                    copy / "sweep.json").exists() else None
                return False
            found = states(trials_of(url, study))
            return found.count("COMPLETE") >= 1 and "RUNNING" in found

        wait_until(one_done_one_running, what="a finished variant and a running one")
    finally:
        first.kill()  # the whole command: its helper dies with it
        _, err = first.communicate(timeout=60)
    kept = json.loads((copy / "sweep.json").read_text())
    assert kept["complete"] is False and kept["pick"] is None and kept["variants"] == 3, err
    before = {t.params["variant"]: t.user_attrs["rows"] for t in trials_of(url, study)
              if t.state.name == "COMPLETE"}
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert again.returncode == 0, again.stderr[-2000:]
    result = json.loads(again.stdout)
    trials = trials_of(url, study)
    finished = [t.params["variant"] for t in trials if t.state.name == "COMPLETE"]
    assert sorted(finished) == [0, 1, 2], states(trials)  # no variant made twice
    for variant, rows in before.items():  # what was finished before the kill is kept as it was
        assert next(t.user_attrs["rows"] for t in trials if t.state.name == "COMPLETE"
                    and t.params["variant"] == variant) == rows
    assert len({t.user_attrs["pid"] for t in trials if t.state.name == "COMPLETE"}) >= 2
    assert measured(result) == measured(serial) and picked(result) == picked(serial)
    assert result["complete"] and result["study"] == study
    assert json.loads((copy / "sweep.json").read_text())["pick"] == result["pick"]


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
    try:
        def running_in_a() -> bool:
            mine = [t for t in trials_of(postgres, "shared-sweep")
                    if t.user_attrs.get("pid") == workers["a"].pid]
            return any(t.state.name == "RUNNING" for t in mine)

        wait_until(running_in_a, what="worker a to make a variant",
                   workers=tuple(workers.values()))
        workers["a"].send_signal(signal.SIGKILL)
        workers["a"].wait()
        finish(workers["b"])
    finally:
        for worker in workers.values():
            if worker.poll() is None:
                worker.kill()
    trials = trials_of(postgres, "shared-sweep")
    finished = [t.params["variant"] for t in trials if t.state.name == "COMPLETE"]
    assert sorted(finished) == [0, 1, 2] and states(trials).count("FAIL") == 1, states(trials)
    result = json.loads((copies["b"] / "sweep.json").read_text())
    assert measured(result) == measured(serial) and picked(result) == picked(serial)
    assert result["storage"] == postgres and result["complete"]


def test_the_pick_is_the_smallest_whose_interval_stays_within_the_budget(serial):
    """Every measured row carries its paired difference from the parent with a 95% interval
    around it; the pick's lower end is within the budget, every smaller row's is not."""
    from kerasmodels.compression.sweep import choose

    rows = [r for r in serial["rows"] if r["status"] == "ok"]
    assert serial["val_examples"] == 270 and serial["interval"]["level"] == 0.95
    for row in rows:
        assert row["val_diff_low"] <= row["val_diff"] <= row["val_diff_high"]
        assert abs(row["val_diff"] - (row["val_score"] - serial["parent_val_score"])) < 1e-5
    float32 = next(r for r in rows if r["recipe"] == "none" and r["format"] == "tflite-float32")
    assert float32["val_diff_low"] == float32["val_diff_high"] == 0  # the parent itself
    pick = serial["pick"]
    assert pick == choose(rows, serial["accuracy_budget"]) and pick["val_diff_low"] >= -0.01
    assert all(r["val_diff_low"] < -0.01 for r in rows if r["gzip_bytes"] < pick["gzip_bytes"])
    # a wider budget can only pick something at least as small
    wider = choose(rows, 0.05)
    assert wider["gzip_bytes"] <= pick["gzip_bytes"]


def test_a_budget_below_one_validation_example_is_refused(cnn_run, tmp_path):
    with pytest.raises(HyperparameterError, match=r"below one validation example: the "
                                                  r"validation split has 270 examples, a "
                                                  r"resolution of 0\.0037"):
        km.sweep(cnn_run, accuracy_budget=0.002, progress=False)
    done = cli("sweep", str(cnn_run.path), "--budget", "0.001")
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1].startswith(
        "kerasmodels: error: accuracy_budget 0.001 is below one validation example")
    assert not (tmp_path / "runs").exists()


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
