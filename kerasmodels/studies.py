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
from pathlib import Path
from typing import Any

from kerasmodels.errors import StorageError
from kerasmodels.layout import SEARCH_STORAGE, SEARCHES

HEARTBEAT_SECONDS = 10.0  # a running trial's heartbeat; stale after GRACE_HEARTBEATS of them
GRACE_HEARTBEATS = 3
SCHEMA_ATTEMPTS = 5  # workers started together on a new database: all but one retry
RETRIES = 2  # a trial whose worker died is run again at most this many times
# what a study records of its search: joining with another of these is refused
IDENTITY = ("arch", "dataset", "epochs", "space", "seed")


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
    """The study ``name`` in ``storage`` (made if new, with ``identity`` recorded); a
    StorageError when it exists for another search."""
    import optuna

    study = optuna.create_study(study_name=name, storage=storage, load_if_exists=True,
                                direction="maximize", sampler=sampler, pruner=pruner)
    recorded = study.user_attrs
    if not recorded.get("arch"):
        for key, value in identity.items():
            study.set_user_attr(key, value)
        return study
    differs = [key for key in IDENTITY if recorded.get(key) != identity.get(key)]
    if differs:
        theirs = ", ".join(f"{k}={_brief(recorded.get(k))}" for k in differs)
        yours = ", ".join(f"{k}={_brief(identity.get(k))}" for k in differs)
        raise StorageError(f"study {name!r} was made for another search ({theirs}; this one "
                           f"has {yours}): name another study, or search what it searches")
    return study


def _brief(value: Any, most: int = 48) -> str:
    text = repr(value)
    return text if len(text) <= most else text[:most - 3] + "..."


__all__ = ["HEARTBEAT_SECONDS", "StorageError", "default_storage", "open_storage",
           "open_study", "shown"]
