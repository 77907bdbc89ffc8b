"""Where a search's trials live: an Optuna study in a database that outlives the process.

By default a search's study is an SQLite file in the runs folder (``.searches/searches.db``):
nothing to start, and a search that is killed resumes with the trials it finished. Any database
URL Optuna takes (``postgresql://user:password@host:5432/db``, ``mysql://...``) lets processes
on several machines work on one study: each takes the next trial, the trial count is shared,
and a worker that dies mid-trial stops sending its heartbeat, so another one fails its trial
after the grace period and runs it again (Optuna's heartbeat and
``RetryHeartbeatStaleTrialCallback``). A study remembers what it searches (architecture, dataset,
epochs, space, seed); joining it with anything else is refused.

>>> from kerasmodels.studies import shown
>>> shown("postgresql://ada:secret@db:5432/km")
'postgresql://ada:***@db:5432/km'
"""

from __future__ import annotations

import random
import re
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kerasmodels.errors import StorageError
from kerasmodels.layout import SEARCH_STORAGE, SEARCHES

HEARTBEAT_SECONDS = 10.0  # a running trial's heartbeat; stale after GRACE_HEARTBEATS of them
GRACE_HEARTBEATS = 3
SCHEMA_ATTEMPTS = 5  # workers started together on a new database: all but one retry
RETRIES = 2  # a trial whose worker died is run again at most this many times
# what a study records of its search or sweep (any of these recorded: not a new study);
# joining it with another value of any is refused
IDENTITY_KEYS = ("kind", "arch", "parent")
IDENTITY = "identity"  # all of it in one attribute: one write, never read half-made
IDENTITY_WAIT_SECONDS = 30.0  # a study just made by another worker: its maker records it
KIND_UNSAID = {"kind": "search"}  # studies made before sweeps shared the storage


def default_storage(out_dir: str | Path) -> str:
    """The SQLite file of a runs folder's searches."""
    path = Path(out_dir).resolve() / SEARCHES / SEARCH_STORAGE
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def shown(url: str) -> str:
    """``url`` with its password hidden (for messages and records)."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def open_storage(url: str, heartbeat_seconds: float = HEARTBEAT_SECONDS):
    """Optuna's RDB storage at ``url``, with heartbeats and the retry of failed trials; a
    StorageError in one line when the URL is malformed or the database cannot be reached."""
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    if not isinstance(url, str) or "://" not in url:
        raise StorageError(f"search storage {url!r} is not a database URL: give "
                           "dialect://user:password@host:port/database (postgresql://, "
                           "mysql://) or sqlite:///path/to/file.db")
    for attempt in range(SCHEMA_ATTEMPTS):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna's words
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(
                    url, heartbeat_interval=max(1, round(heartbeat_seconds)),
                    grace_period=max(2, round(heartbeat_seconds * GRACE_HEARTBEATS)),
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                        max_retry=RETRIES),
                    engine_kwargs=_engine_options(url))
        except (ImportError, ModuleNotFoundError) as exc:
            raise StorageError(f"search storage {shown(url)}: its database driver is not "
                               f"installed ({exc}); install it (postgresql: pip install "
                               "'psycopg[binary]')") from None
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy's errors, one line each
            if _lost_schema_race(exc) and attempt + 1 < SCHEMA_ATTEMPTS:
                time.sleep(0.2 + random.random())  # another worker made the tables: read them
                continue
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StorageError(f"cannot use search storage {shown(url)}: {first[:240]}; check "
                               "the URL and that the database server is running and "
                               "reachable") from None
        finally:
            optuna.logging.set_verbosity(optuna.logging.WARNING)
    raise AssertionError("unreachable")


def _lost_schema_race(exc: Exception) -> bool:
    """True when ``exc`` is a worker losing the race to make a new database's tables (the
    others started at the same moment): its next attempt finds them made."""
    from optuna.exceptions import StorageInternalError
    from sqlalchemy import exc as errors

    text = str(exc).lower()
    return isinstance(exc, errors.IntegrityError | errors.ProgrammingError
                      | StorageInternalError) or (
        isinstance(exc, errors.OperationalError)
        and ("already exists" in text or "locked" in text))


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):  # several local workers write one file: wait, do not fail
        return {"connect_args": {"timeout": 60}}
    return {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}


def open_study(storage, name: str, identity: dict[str, Any], *, sampler, pruner):
    """The study ``name`` in ``storage``: made here with ``identity`` recorded, or loaded and
    checked against it (a StorageError when it exists for another search or sweep)."""
    import optuna

    try:
        study = optuna.create_study(study_name=name, storage=storage, direction="maximize",
                                    sampler=sampler, pruner=pruner)
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler,
                                  pruner=pruner)
        check_identity(study, identity)
    else:
        record_identity(study, identity)
    return study


def record_identity(study, identity: dict[str, Any]) -> None:
    """Record ``identity`` in the study this process made: first as one attribute (one write:
    a worker never reads half of it), then key by key for the readers of each."""
    identity = as_stored(identity)
    study.set_user_attr(IDENTITY, identity)
    for key, value in identity.items():
        study.set_user_attr(key, value)


def check_identity(study, identity: dict[str, Any],
                   wait_seconds: float = IDENTITY_WAIT_SECONDS) -> None:
    """Check a study another process made against ``identity``: a StorageError when it
    records another. Its maker records it just after making it: wait for that, and record
    ``identity`` if it never comes (its maker died in between)."""
    identity = as_stored(identity)
    deadline = time.monotonic() + wait_seconds
    while (recorded := recorded_identity(study)) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if recorded is None:
        record_identity(study, identity)
        return
    kind = recorded.get("kind", KIND_UNSAID["kind"])
    if kind != identity.get("kind", kind):
        raise StorageError(f"study {study.study_name!r} holds a {kind}, not a "
                           f"{identity['kind']}: name another study")
    differs = [key for key in identity if recorded.get(key, KIND_UNSAID.get(key))
               != identity[key]]
    if differs:
        theirs = ", ".join(f"{k}={_brief(recorded.get(k))}" for k in differs)
        yours = ", ".join(f"{k}={_brief(identity.get(k))}" for k in differs)
        raise StorageError(f"study {study.study_name!r} was made for another "
                           f"{recorded.get('kind', 'search')} ({theirs}; this one has {yours}): "
                           "name another study, or give what it was made with")


def as_stored(identity: dict[str, Any]) -> dict[str, Any]:
    """``identity`` as the database gives it back (JSON: tuples become lists, paths and other
    objects their text), so what is recorded and what is compared are alike."""
    import json

    return json.loads(json.dumps(identity, default=str))


def recorded_identity(study) -> dict[str, Any] | None:
    """What ``study`` records of its search or sweep; None before its maker recorded it.
    Studies made before the one-attribute record keep it key by key."""
    recorded = study.user_attrs
    if IDENTITY in recorded:
        return dict(recorded[IDENTITY])
    if any(key in recorded for key in IDENTITY_KEYS):
        return recorded
    return None


def worker_attrs() -> dict[str, Any]:
    """Who runs a trial: host, this boot of it (two containers on one host share a boot id
    but not a host name) and process id; recorded in each trial's user attributes."""
    import os
    import socket

    return {"host": socket.gethostname(), "boot": _boot_id(), "pid": os.getpid()}


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def trial_id(storage, study, number: int) -> int:
    """The storage's id of ``study``'s trial ``number`` (what the storage's calls take)."""
    return storage.get_trial_id_from_study_id_trial_number(
        storage.get_study_id_from_name(study.study_name), number)


def fail_gone_local_trials(study, storage) -> int:
    """Fail the running trials whose worker ran on this machine and is gone (a killed search
    or sweep started again), and queue each again (Optuna's retry callback): without waiting
    for their heartbeat to go stale. Returns how many were failed."""
    import os

    import optuna

    here = worker_attrs()
    failed = 0
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        attrs = trial.user_attrs
        if (attrs.get("host"), attrs.get("boot")) != (here["host"], here["boot"]) \
                or not isinstance(attrs.get("pid"), int) or attrs["pid"] == here["pid"]:
            continue
        try:
            os.kill(attrs["pid"], 0)
            continue  # alive
        except ProcessLookupError:
            pass
        except PermissionError:
            continue  # alive, another user's
        try:
            number = trial_id(storage, study, trial.number)
            if not storage.set_trial_state_values(number, optuna.trial.TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker failed it first
        callback = storage.get_heartbeat_stale_trial_callback() if hasattr(
            storage, "get_heartbeat_stale_trial_callback") else None
        if callback is not None:
            callback(study, storage.get_trial(number))
        failed += 1
    return failed


def open_queue(storage, name: str, identity: dict[str, Any], grid: list[dict[str, Any]],
               wait_seconds: float = 60.0):
    """The study ``name`` whose trials are ``grid`` (one parameter set each), made and queued
    by whichever worker gets there first; the others wait for the queue. A StorageError when
    the study exists for something else."""
    import optuna

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study = optuna.create_study(study_name=name, storage=storage,
                                        direction="maximize")
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=storage)
        check_identity(study, identity)
        deadline = time.monotonic() + wait_seconds
        while "queued" not in study.user_attrs and time.monotonic() < deadline:
            time.sleep(0.5)  # its maker is queueing the grid
        if "queued" in study.user_attrs:
            return study
    else:
        record_identity(study, identity)
    for params in grid:  # made here, or its maker died before queueing
        study.enqueue_trial(params, skip_if_exists=True)
    study.set_user_attr("queued", len(grid))
    return study


def work_queue(study, storage, objective: Callable[[Any], float], heartbeat_seconds: float,
               after_trial: Callable[[], None] | None = None) -> int:
    """Run the study's queued trials until none is waiting and none is running anywhere (a
    worker that dies mid-trial has its trial failed and queued again, and whoever is left
    runs it). Each trial is claimed atomically: no two workers run the same one. Returns the
    trials this process ran."""
    import optuna
    from optuna.storages import fail_stale_trials

    ran = 0
    waiting, running = optuna.trial.TrialState.WAITING, optuna.trial.TrialState.RUNNING
    while True:
        with warnings.catch_warnings():  # "experimental" in Optuna's words since 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            fail_stale_trials(study)
        fail_gone_local_trials(study, storage)
        claimed = _claim(storage, study, study.get_trials(deepcopy=False, states=(waiting,)))
        if claimed is None:
            if not study.get_trials(deepcopy=False, states=(running,)):
                return ran
            time.sleep(max(0.2, heartbeat_seconds / 2))  # another worker's trial may fail
            continue
        trial = optuna.trial.Trial(study, claimed)
        for key, value in worker_attrs().items():
            trial.set_user_attr(key, value)
        with _Heartbeat(storage, claimed, heartbeat_seconds):
            try:
                value = objective(trial)
            except BaseException:  # interrupted or broken: failed, and queued again
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                study.enqueue_trial(trial.params)
                raise
        study.tell(trial, value)
        ran += 1
        if after_trial is not None:
            after_trial()


def _claim(storage, study, trials) -> int | None:
    """The id of the first waiting trial this process set running (another may get there
    first: set_trial_state_values is the database's compare-and-set)."""
    import optuna

    for trial in trials:
        number = trial_id(storage, study, trial.number)
        try:
            if storage.set_trial_state_values(number, optuna.trial.TrialState.RUNNING):
                return number
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None


class _Heartbeat:
    """While inside: the trial's heartbeat recorded now and every ``seconds``."""

    def __init__(self, storage, trial_id: int, seconds: float):
        import threading

        self.storage, self.trial_id, self.seconds = storage, trial_id, seconds
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while True:
            self.storage.record_heartbeat(self.trial_id)
            if self.stop.wait(self.seconds):
                return

    def __enter__(self) -> _Heartbeat:
        self.storage.record_heartbeat(self.trial_id)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def _brief(value: Any, most: int = 48) -> str:
    text = repr(value)
    return text if len(text) <= most else text[:most - 3] + "..."


__all__ = ["HEARTBEAT_SECONDS", "StorageError", "default_storage", "fail_gone_local_trials",
           "open_queue", "open_storage", "open_study", "shown", "trial_id", "work_queue",
           "worker_attrs"]
