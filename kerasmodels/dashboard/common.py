"""What every page shares: the runs directory, cached reads of it, and error display."""

from __future__ import annotations

import collections
import contextlib
import os
import sys
from pathlib import Path

import streamlit as st

import kerasmodels as km
from kerasmodels._compat import replace_streamlit_cleanup
from kerasmodels.dashboard import RUNS_DIR_ENV
from kerasmodels.errors import KerasModelsError, UploadError
from kerasmodels.layout import (
    EXPORTS,
    EXPORTS_RECORD,
    HISTORY,
    MANIFEST,
    MODEL,
    RUNS_DIR,
    SAVED_MODEL,
)


def keep_tensorflow_state() -> None:
    """Stop Streamlit from calling Keras 3's ``clear_session()`` after every script run.

    Streamlit does it whenever a module named ``keras`` is imported, and tfmot imports Keras 3
    (``prune_registry`` tries ``from keras.engine import ...``). ``clear_session`` runs a full
    ``gc.collect()`` over every loaded model and clears TensorFlow's kernel cache, holding the
    GIL: with many pages rerunning, the server's event loop waited seconds to start each new
    script thread and its health endpoint stopped answering (measured with py-spy under
    ``scripts/bench_dashboard_load.py --sweep --interact``). kerasmodels uses tf_keras and has
    no Keras 3 state to clear. Checked against Streamlit 1.67 (``script_runner``).
    """
    def clean_matplotlib_only() -> None:
        if "matplotlib.pyplot" in sys.modules:
            with contextlib.suppress(Exception):
                sys.modules["matplotlib.pyplot"].close("all")

    replace_streamlit_cleanup(clean_matplotlib_only)


def api_default(function, name: str):
    """The default ``function`` (a kerasmodels API) gives its argument ``name``: the pages
    hold no defaults of their own."""
    import inspect

    return inspect.signature(function).parameters[name].default


def runs_dir() -> Path:
    """The runs directory: ``kerasmodels dashboard --runs-dir`` sets it (default saved_models)."""
    return Path(os.environ.get(RUNS_DIR_ENV, RUNS_DIR))


def stamp() -> tuple:
    """Changes whenever a run is added or removed, so cached tables refresh."""
    root = runs_dir()
    if not root.is_dir():
        return ()
    return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in root.iterdir()
                        if p.is_dir() and not p.name.startswith(".")))


@st.cache_data(show_spinner=False)
def runs_table(root: str, stamp: tuple):
    rows, broken = km.runs_table(root)
    return rows, [(str(path.name), reason) for path, reason in broken]


def table() -> tuple[list[dict], list[tuple[str, str]]]:
    return runs_table(str(runs_dir()), stamp())


def run_ids(where=None) -> list[str]:
    rows, _ = table()
    return [r["run"] for r in rows if where is None or where(r)]


def load_run(run_id: str):
    """The run, shared by every session until its files change: its model is loaded once, not
    on every rerun of every page (under many concurrent pages that work starved the server)."""
    path = runs_dir() / run_id
    return _shared_run(str(path), run_stamp(path))


def run_stamp(path: Path) -> tuple:
    files = (MANIFEST, MODEL, f"{SAVED_MODEL}/saved_model.pb", HISTORY,
             f"{EXPORTS}/{EXPORTS_RECORD}")
    return tuple((name, (path / name).stat().st_mtime_ns if (path / name).exists() else None)
                 for name in files)


@st.cache_resource(show_spinner=False, max_entries=32)
def _shared_run(path: str, stamp: tuple):
    return km.load_run(path)


FULL_COLLECTION_EVERY_S = 2.0
_last_full_collection = [0.0]


def collect_garbage() -> None:
    """At the end of a script run: the young generations every time, a full collection at most
    every ``FULL_COLLECTION_EVERY_S`` seconds (process-wide).

    Streamlit's own ``runner.postScriptGC`` runs a full ``gc.collect(2)`` after every run,
    walking every loaded model while holding the GIL: under many concurrent pages the server
    stopped answering (57% of its busy samples, py-spy under ``bench_dashboard_load.py
    --interact``). Without full collections the Playground answered 3x slower
    (``bench_dashboard.py``): the garbage of earlier runs piles up. Spacing them keeps both.
    """
    import gc
    import time

    now = time.monotonic()
    if now - _last_full_collection[0] >= FULL_COLLECTION_EVERY_S:
        _last_full_collection[0] = now
        gc.collect()
    else:
        gc.collect(1)


@st.cache_data(show_spinner=False, max_entries=64)
def model_summary(path: str, stamp: tuple) -> str:
    """The layer summary of a run's model (cached: it loads the model)."""
    return _shared_run(path, stamp).summary()


def show_error(exc: Exception) -> None:
    """A clear message for our errors; anything else is named with its type."""
    if isinstance(exc, KerasModelsError):
        st.error(str(exc))
    else:
        st.error(f"{type(exc).__name__}: {exc}")


def pick_run(label: str, *, key: str, where=None, default: str | None = None) -> str | None:
    """A run selector that remembers the choice across pages (``?run=`` in the URL too)."""
    ids = run_ids(where)
    if not ids:
        st.info(f"No runs in `{runs_dir()}` yet: train one on the Train page or run "
                "`kerasmodels demo`.")
        return None
    wanted = default or st.query_params.get("run") or st.session_state.get("selected_run")
    if wanted not in ids:  # a child chosen elsewhere: its family's root, else the largest family
        wanted = root_of(wanted) if root_of(wanted) in ids else largest_family()
    index = ids.index(wanted) if wanted in ids else len(ids) - 1
    chosen = st.selectbox(label, ids, index=index, key=key)
    st.session_state["selected_run"] = chosen
    return chosen


def root_of(run_id: str | None) -> str | None:
    """The root run of ``run_id``'s family (from the runs table)."""
    parents = {r["run"]: r["parent"] for r in table()[0]}
    seen = set()
    while run_id in parents and parents[run_id] and run_id not in seen:
        seen.add(run_id)
        run_id = parents[run_id]
    return run_id


def largest_family() -> str | None:
    """The root run with the most variants (ties: the newest), where the pickers start."""
    rows = table()[0]
    sizes = collections.Counter(root_of(r["run"]) for r in rows)
    return max(sizes, key=lambda root: (sizes[root], root), default=None)


def save_upload(uploaded, limit_mb: int = 50) -> Path:
    """Keep an uploaded file under ``<runs dir>/.uploads/`` (named by its content) so that the
    run made from it can reload its dataset later."""
    import hashlib

    content = uploaded.getvalue()
    if len(content) > limit_mb * 2**20:
        raise km.KerasModelsError(f"{uploaded.name} is {len(content) / 2**20:.0f} MB; uploads "
                                  f"up to {limit_mb} MB are accepted")
    folder = runs_dir() / ".uploads"
    path = folder / f"{hashlib.sha256(content).hexdigest()[:10]}-{Path(uploaded.name).name}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            partial = path.with_name(f".{path.name}.partial")
            partial.write_bytes(content)
            partial.replace(path)
    except OSError as exc:
        raise UploadError(
            f"the upload cannot be kept in {folder} ({exc.strerror or exc}): make the runs "
            "folder writable, or start the dashboard with --runs-dir pointing to one") from None
    return path


MODEL_UPLOAD_MB = 200  # the largest model file the Import page takes (Streamlit's own limit)


def private_upload(uploaded, folder: Path, limit_mb: int = MODEL_UPLOAD_MB) -> Path:
    """An uploaded file written into ``folder`` (a private, temporary one) under its own base
    name, never a path the uploader chose."""
    content = uploaded.getvalue()
    if len(content) > limit_mb * 2**20:
        raise UploadError(f"{uploaded.name} is {len(content) / 2**20:.0f} MB; uploads up to "
                          f"{limit_mb} MB are accepted")
    name = Path(uploaded.name).name
    if not name or name.startswith("."):
        raise UploadError(f"{uploaded.name!r} is not a file name: rename the file")
    path = folder / name
    path.write_bytes(content)
    return path


def upload_path(uploaded) -> Path:
    """``save_upload``, or the error shown on the page and the page stopped."""
    try:
        return save_upload(uploaded)
    except KerasModelsError as exc:
        show_error(exc)
        st.stop()


def pick_family(label: str = "Family (its root run)", *, key: str) -> str:
    """A root run (one without a parent) chosen by the user; stops the page when there is none."""
    run_id = pick_run(label, key=key, where=lambda r: not r["parent"])
    if run_id is None:
        st.stop()
    return run_id


def show_sound(clip, features, preprocessing: dict, truth=None) -> None:
    """The clip a keyword spotter hears (waveform, and a player) and the features it sees."""
    import numpy as np
    import pandas as pd

    rate = preprocessing["sample_rate"]
    left, right = st.columns(2)
    if clip is not None:
        step = max(1, len(clip) // 800)
        left.caption("the clip the model hears (1 s, its loudest second)")
        left.line_chart(pd.DataFrame({"amplitude": clip[::step]},
                                     index=np.arange(0, len(clip), step) / rate),
                        height=160, x_label="seconds")
        left.audio(clip, sample_rate=rate)
    image = np.asarray(features, "float32").squeeze(-1).T[::-1]  # low coefficients at the bottom
    image = (image - image.min()) / max(float(np.ptp(image)), 1e-6)
    right.image(np.kron(image, np.ones((16, 6))), clamp=True,
                caption=f"what the model sees: {preprocessing['features']} "
                        f"({features.shape[0]} frames x {features.shape[1]})"
                        + (f", label {truth}" if truth is not None else ""))
