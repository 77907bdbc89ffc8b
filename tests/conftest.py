"""Shared fixtures: models are trained once per session and shared between tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KERASMODELS = [sys.executable, "-m", "kerasmodels"]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300, **env) -> subprocess.CompletedProcess:
    """Run the real ``kerasmodels`` command in a subprocess."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **{k: str(v) for k, v in env.items()}}
    return subprocess.run([*KERASMODELS, *args], cwd=cwd or ROOT, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="session")
def cnn_run(runs_dir):
    """A digits CNN trained briefly (4 epochs)."""
    import kerasmodels as km

    return km.train("cnn", "digits", epochs=4, out_dir=runs_dir, verbose=0)


@pytest.fixture(scope="session")
def transformer_run(runs_dir):
    """A text transformer trained briefly (3 epochs)."""
    import kerasmodels as km

    return km.train("transformer", "text", epochs=3, out_dir=runs_dir, verbose=0)


@pytest.fixture(scope="session")
def rnn_run(runs_dir):
    """A sequence LSTM trained for one epoch."""
    import kerasmodels as km

    return km.train("rnn", "sequences", epochs=1, out_dir=runs_dir, verbose=0)


@pytest.fixture(scope="session")
def full_cnn_run(tmp_path_factory):
    """The digits CNN with its full default budget (the slow tests' teacher and parent)."""
    import kerasmodels as km

    return km.train("cnn", "digits", out_dir=tmp_path_factory.mktemp("full-cnn"), verbose=0)


@pytest.fixture(scope="session")
def cnn_exports(cnn_run):
    """Every export format of the session's digits CNN, by format name."""
    import kerasmodels as km

    return {a.format: a for a in km.export(cnn_run)}


@pytest.fixture(scope="session")
def dashboard_runs(tmp_path_factory, cnn_run, cnn_exports, transformer_run) -> Path:
    """A runs directory for the dashboard tests: the session's CNN (exported, benchmarked) and
    transformer, copied so that what the tests add stays out of the other tests' runs."""
    import shutil

    import kerasmodels as km

    root = tmp_path_factory.mktemp("dashboard-runs")
    for run in (cnn_run, transformer_run):
        shutil.copytree(run.path, root / run.id,
                        ignore=shutil.ignore_patterns("benchmark.*", "sweep.json"))
    km.benchmark(root / cnn_run.id, calls=5, export_missing=False, progress=False)
    return root
