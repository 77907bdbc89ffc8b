"""A search that outlives its process: Optuna's storage, SQLite by default, PostgreSQL shared by
workers. A worker killed mid-trial loses nothing: the trials it finished stay, the one it was
running is failed when its heartbeat stops and run again by whoever is left."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

import kerasmodels as km
from kerasmodels.errors import StorageError
from tests.conftest import cli

HEARTBEAT = 1  # seconds; a dead worker's trial is failed 3 heartbeats later
# one worker of a search, in a process of its own (argv: runs folder, storage or "" for the
# default, trials)
WORKER = """
import sys
import kerasmodels as km
km.search("mlp", "digits", trials=int(sys.argv[3]), epochs=3, out_dir=sys.argv[1],
          storage=sys.argv[2] or None, study="shared", heartbeat_seconds=1, progress=False)
"""


STORAGES: dict[str, object] = {}  # one connection per URL: polling must be quick


def trials_of(url: str, study: str = "shared") -> list:
    """The study's trials as the workers left them; [] until a worker has made them (a
    reader opening the database first races the workers making its tables: they retry)."""
    import optuna
    from optuna.exceptions import StorageInternalError
    from sqlalchemy.exc import SQLAlchemyError

    try:
        storage = STORAGES.get(url)
        if storage is None:
            storage = STORAGES[url] = optuna.storages.RDBStorage(
                url, skip_table_creation=True, skip_compatibility_check=True)
        return storage.get_all_trials(storage.get_study_id_from_name(study))
    except (KeyError, SQLAlchemyError, StorageInternalError):  # not made yet
        return []


def wait_until(condition, timeout: float = 240.0, what: str = "",
               workers: tuple = ()) -> None:
    """Poll ``condition``; fail with a worker's output as soon as one has died."""
    deadline = time.monotonic() + timeout
    while not condition():
        for worker in workers:
            assert worker.poll() is None, (f"a worker ended (exit {worker.returncode}) "
                                           f"before {what}: " + worker.log.read_text()[-2000:])
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def start_worker(runs: Path, url: str, trials: int, script: str = WORKER,
                 argv: list[str] | None = None) -> subprocess.Popen:
    """A worker (by default a search's: ``argv`` runs folder, storage, trials) whose output
    goes to a file beside its runs (a pipe nobody reads fills up with TensorFlow's lines and
    stops the worker)."""
    runs.mkdir(parents=True, exist_ok=True)
    log = open(runs.parent / f"{runs.name}-worker-{time.monotonic_ns()}.log", "w")  # noqa: SIM115
    argv = [str(runs), url, str(trials)] if argv is None else argv
    worker = subprocess.Popen([sys.executable, "-c", script, *argv],
                              stdout=log, stderr=subprocess.STDOUT, text=True)
    worker.log = Path(log.name)  # type: ignore[attr-defined]
    log.close()
    return worker


def finish(worker: subprocess.Popen, timeout: float = 600) -> None:
    worker.wait(timeout=timeout)
    assert worker.returncode == 0, worker.log.read_text()[-2000:]  # type: ignore[attr-defined]


def states(trials) -> list[str]:
    return [t.state.name for t in trials]


def check_nothing_lost(trials, total: int) -> None:
    """``total`` trials finished, each once; the killed one failed and was run again with
    its parameters; every finished trial's run is saved where its worker says."""
    import optuna
    from optuna.storages import RetryHeartbeatStaleTrialCallback as Retry

    done = [t for t in trials if t.state in (optuna.trial.TrialState.COMPLETE,
                                             optuna.trial.TrialState.PRUNED)]
    failed = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    assert len(done) == total, states(trials)
    assert len(failed) == 1 and "RUNNING" not in states(trials), states(trials)
    with warnings.catch_warnings():  # "experimental" since Optuna 2.8
        warnings.simplefilter("ignore")
        retried = [t for t in done if Retry.retried_trial_number(t) == failed[0].number]
    assert len(retried) == 1 and retried[0].params == failed[0].params
    for trial in done:
        assert Path(trial.user_attrs["path"], "manifest.json").is_file(), trial.number
    assert len({t.user_attrs["path"] for t in done}) == total  # a run per finished trial


def test_a_killed_search_resumes_from_its_sqlite_study(tmp_path):
    """The default storage: the runs folder's SQLite file. Killed during its third trial, the
    search started again keeps its first two trials and ends with four."""
    runs = tmp_path / "runs"
    url = f"sqlite:///{runs / '.searches' / 'searches.db'}"  # where the default puts it
    worker = start_worker(runs, "", 4)
    try:
        def training_the_third() -> bool:  # its parameters chosen: it is training
            trials = trials_of(url)
            return states(trials).count("COMPLETE") >= 2 and any(
                t.state.name == "RUNNING" and t.params for t in trials)

        wait_until(training_the_third, what="a third trial",
                   workers=(worker,))
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    before = {t.number: t.params for t in trials_of(url) if t.state.name == "COMPLETE"}
    finish(start_worker(runs, "", 4))
    trials = trials_of(url)
    assert {t.number: t.params for t in trials if t.number in before} == before
    check_nothing_lost(trials, 4)
    summary = json.loads((runs / ".searches" / "shared.json").read_text())
    assert summary["storage"] == url and len(summary["trials"]) == 5


OPEN_TOGETHER = """
import sys, time
import optuna, sqlalchemy  # imported before the moment: it is what takes time
from kerasmodels.studies import open_storage, open_study
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # all three wake at that moment
storage = open_storage(sys.argv[1])
open_study(storage, "together", {"kind": "search", "arch": "mlp", "space": {"width": [32, 64]},
                                 "epochs": 3}, sampler=None, pruner=None)
"""


def test_workers_started_together_on_a_new_database_all_open_it(tmp_path):
    """Three workers started at the same moment on a database nobody has used: each makes
    Optuna's tables; all but one lose that race, and they read the tables made instead of
    dying (seen in CI: 'UNIQUE constraint failed: alembic_version.version_num'). Then each
    opens one study: one makes it, the others wait for what it records (seen in CI: a worker
    read the study's identity half-written and refused it as "made for another search")."""
    url = f"sqlite:///{tmp_path / 'new.db'}"
    start = time.time() + 3
    workers = [subprocess.Popen([sys.executable, "-c", OPEN_TOGETHER, url, str(start)],
                                stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err[-1500:]
    assert trials_of(url, "together") == [] and (tmp_path / "new.db").stat().st_size > 0


def test_a_study_just_made_by_another_worker_is_checked_once_its_maker_records_it(tmp_path):
    """Its maker records what the study is for just after making it: a worker that loads it
    in between waits for the record (and refuses another search once it is there); a study
    whose maker died before recording gets the record of whoever opens it next."""
    import threading

    import optuna

    from kerasmodels.studies import check_identity, open_storage, record_identity

    storage = open_storage(f"sqlite:///{tmp_path / 'studies.db'}")
    # a tuple and a path, as callers give them: recorded and compared as the database keeps them
    identity = {"kind": "search", "arch": "mlp", "space": {"width": (32, 64)},
                "folder": tmp_path / "runs"}
    stored = {**identity, "space": {"width": [32, 64]}, "folder": str(tmp_path / "runs")}
    made = optuna.create_study(study_name="new", storage=storage)
    loaded = optuna.load_study(study_name="new", storage=storage)
    maker = threading.Timer(1.0, record_identity, (made, identity))
    maker.start()
    started = time.monotonic()
    check_identity(loaded, identity)
    waited = time.monotonic() - started
    assert 0.9 <= waited < 10, waited  # it waited for the maker's record, did not write its own
    maker.join()
    assert made.user_attrs["identity"] == stored
    with pytest.raises(StorageError, match=r"study 'new' was made for another search "
                                           r"\(arch='mlp'; this one has arch='cnn'\)"):
        check_identity(loaded, {**identity, "arch": "cnn"})
    orphan = optuna.create_study(study_name="orphan", storage=storage)
    check_identity(orphan, identity, wait_seconds=0.3)
    assert orphan.user_attrs["identity"] == stored and orphan.user_attrs["arch"] == "mlp"


def test_bad_storage_and_another_searchs_study_are_one_line_and_write_nothing(tmp_path):
    runs = tmp_path / "runs"
    with pytest.raises(StorageError, match="is not a database URL"):
        km.search("mlp", "digits", trials=1, out_dir=runs, storage="searches.db")
    with pytest.raises(StorageError, match=r"cannot use search storage "
                                           r"postgresql://ada:\*\*\*@127\.0\.0\.1:9/km"):
        km.search("mlp", "digits", trials=1, out_dir=runs,
                  storage="postgresql://ada:secret@127.0.0.1:9/km")
    assert not runs.exists() or not km.list_runs(runs)
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    km.search("mlp", "digits", trials=1, epochs=1, out_dir=runs, storage=url, study="one",
              progress=False)
    with pytest.raises(StorageError, match="study 'one' was made for another search "
                                           r"\(arch='mlp', .*; this one has arch='cnn', "):
        km.search("cnn", "digits", trials=1, epochs=1, out_dir=runs, storage=url, study="one")
    assert len(km.list_runs(runs)) == 1  # the refused search trained nothing
    bad = cli("search", "--arch", "mlp", "--storage", "nowhere", "--out-dir", str(runs))
    assert bad.returncode != 0 and bad.stderr.strip().splitlines()[-1].startswith(
        "kerasmodels: error: search storage 'nowhere' is not a database URL")


def kill_one_and_finish(workers: dict, url: str, study: str, what: str,
                        finished_one: bool) -> None:
    """Kill worker ``a`` (SIGKILL) once it runs a trial (``finished_one``: and has finished
    one); worker ``b`` must then finish the study."""
    def running_in_a() -> bool:
        mine = [t for t in trials_of(url, study) if t.user_attrs.get("pid") == workers["a"].pid]
        return (not finished_one or any(t.state.name == "COMPLETE" for t in mine)) and any(
            t.state.name == "RUNNING" for t in mine)

    try:
        wait_until(running_in_a, what=what, workers=tuple(workers.values()))
        workers["a"].send_signal(signal.SIGKILL)
        workers["a"].wait()
        finish(workers["b"])
    finally:
        for worker in workers.values():
            if worker.poll() is None:
                worker.kill()
                worker.wait()


def test_two_workers_share_a_search_through_postgresql_and_one_dies(postgres, tmp_path):
    """Two worker processes, one study in PostgreSQL: six trials in all. One worker is killed
    in the middle of a trial; the other fails that trial once its heartbeat stops, runs it
    again and finishes the search. Each worker saves its runs in its own folder (as on two
    machines); the study says which."""
    runs = {name: tmp_path / name for name in ("a", "b")}
    workers = {name: start_worker(folder, postgres, 6) for name, folder in runs.items()}
    kill_one_and_finish(workers, postgres, "shared", "worker a to finish one trial and start "
                        "another", finished_one=True)
    trials = trials_of(postgres)
    check_nothing_lost(trials, 6)
    made = {Path(t.user_attrs["path"]).parent.name for t in trials if t.state.name == "COMPLETE"}
    assert made == {"a", "b"}  # each worker's runs in its own folder
    result = km.search("mlp", "digits", trials=6, epochs=3, out_dir=runs["b"], storage=postgres,
                       study="shared", progress=False)  # joins a finished study: reads it
    assert len([t for t in result.trials if t["state"] in ("complete", "pruned")]) == 6
    assert result.best_run is not None and result.best_run.path.parent in runs.values()
