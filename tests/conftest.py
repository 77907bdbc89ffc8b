"""Shared fixtures: models are trained once per session and shared between tests."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KERASMODELS = [sys.executable, "-m", "kerasmodels"]
# every process the suite starts inherits this mark, so the session's end can find any that
# outlived it, orphans included
SESSION_MARK = "KERASMODELS_TEST_SESSION"
os.environ.setdefault(SESSION_MARK, f"{os.getpid()}-{time.time_ns()}")
# The files that take longest, longest first (seconds summed from `scripts/test.sh
# --durations=0` on the 2-core machine, 2026-12-05: 283, 221, 216, 137, 119, 94, 80 (audio,
# estimated from its slowest tests), 58, 52, 50, 48, 44, 40 (cli, after its error cases moved
# in process); anomaly ~90, tiny ~50 and stream ~40 estimated from their tests' durations in
# the fresh-clone run of the second session of 2026-12-05; sweep_studies ~140 from its tests'
# durations in the fourth; docs ~70 from --durations=0 in the fifth). xdist hands a whole file to
# whichever worker is free, in collection order
# (--no-loadscope-reorder), so the long ones start first and the short ones fill in at the end.
LONGEST_FIRST = ("test_scripts.py", "test_reopen.py", "test_compression.py", "test_scale.py",
                 "test_sweep_studies.py",
                 "test_import_keras3.py", "test_browser.py", "test_anomaly.py", "test_audio.py",
                 "test_dashboard.py", "test_tiny.py", "test_micro.py", "test_studies.py",
                 "test_packaging.py",
                 "test_stream.py", "test_docs.py", "test_device_clients.py",
                 "test_quality.py", "test_training.py", "test_processes.py", "test_cli.py")


def pytest_collection_modifyitems(session, config, items):
    """Run the longest files first (the order within a file is kept)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def marked_processes() -> list[tuple[int, str]]:
    """Live processes (not this one, not zombies) carrying this suite's mark."""
    mark = f"{SESSION_MARK}={os.environ[SESSION_MARK]}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if mark not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if stat[0] == "Z":
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:160]
        except OSError:
            continue
        found.append((int(entry.name), command))
    return found


@pytest.hookimpl(trylast=True)  # after xdist has shut its workers down
def pytest_sessionfinish(session, exitstatus):
    """Fail the run if a process the tests started is still alive (then stop it)."""
    if "kerasmodels.exports.isolation" in sys.modules:  # this process's converter worker
        sys.modules["kerasmodels.exports.isolation"].shutdown()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # the controller checks once every worker is done
    deadline = time.monotonic() + 10
    left = marked_processes()
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = marked_processes()
    if left:
        print("\nprocesses started by the tests are still running:", file=sys.stderr)
        for pid, command in left:
            print(f"  {pid}: {command}", file=sys.stderr)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        session.exitstatus = 1


def as_at_a_terminal() -> None:
    """``preexec_fn`` for a command a test interrupts with SIGINT: the disposition a terminal
    gives it. A suite started in the background (``&``, nohup) hands its children SIGINT
    ignored, and a Python started so never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300, **env) -> subprocess.CompletedProcess:
    """Run the real ``kerasmodels`` command in a subprocess."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **{k: str(v) for k, v in env.items()}}
    return subprocess.run([*KERASMODELS, *args], cwd=cwd or ROOT, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def cli(*args: str) -> subprocess.CompletedProcess:
    """Run the ``kerasmodels`` command's ``main`` in this process (TensorFlow is started once
    per test process, not once per command: on 2 cores each start costs 5-10 s), with its
    stdout, stderr and exit code as a subprocess would give them. ``tests/test_cli.py`` runs
    the installed console script itself."""
    import io

    from kerasmodels.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    return subprocess.CompletedProcess(["kerasmodels", *args], code, out.getvalue(),
                                       err.getvalue())


def bench_script(name: str):
    """The module ``scripts/bench_<name>.py``, imported (not run)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"bench_{name}",
                                                  ROOT / "scripts" / f"bench_{name}.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def run_quick(name: str, out, *args: str) -> dict:
    """``scripts/bench_<name>.py --quick --out <out> [args]``, run in this process: TensorFlow
    is already started here, which saves its start-up per script on a 2-core CI machine."""
    assert bench_script(name).main(["--quick", "--out", str(out), *args]) == 0
    figures = json.loads(out.read_text())
    assert figures["quick"] is True and figures["machine"]["cpus"] >= 1
    return figures


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("runs")


def shared_run(tmp_path_factory, runs_dir: Path, name: str, make):
    """The run ``make(out_dir)`` trains, made once for all of the session's xdist workers and
    copied into this worker's ``runs_dir`` (each worker changes its own copy): a session
    fixture is otherwise trained again by every worker that uses it."""
    import fcntl
    import shutil

    import kerasmodels as km

    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared-runs"
    shared.mkdir(exist_ok=True)
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one worker trains; the others wait, then copy
        made = shared / f"{name}.id"
        if not made.is_file():
            made.write_text(make(shared / name).id)
        run_id = made.read_text()
    target = runs_dir / run_id
    if not target.exists():
        shutil.copytree(shared / name / run_id, target)
    return km.load_run(target)


@pytest.fixture(scope="session")
def cnn_run(tmp_path_factory, runs_dir):
    """A digits CNN trained briefly (4 epochs)."""
    import kerasmodels as km

    return shared_run(tmp_path_factory, runs_dir, "cnn", lambda out: km.train(
        "cnn", "digits", epochs=4, out_dir=out, verbose=0))


@pytest.fixture(scope="session")
def transformer_run(tmp_path_factory, runs_dir):
    """A text transformer trained briefly (3 epochs)."""
    import kerasmodels as km

    return shared_run(tmp_path_factory, runs_dir, "transformer", lambda out: km.train(
        "transformer", "text", epochs=3, out_dir=out, verbose=0))


@pytest.fixture(scope="session")
def gru_run(tmp_path_factory, runs_dir):
    """A sequence GRU (the registry's rnn with cell="gru") trained for two epochs."""
    import kerasmodels as km

    return shared_run(tmp_path_factory, runs_dir, "gru", lambda out: km.train(
        "rnn", "sequences", cell="gru", epochs=2, out_dir=out, verbose=0))


@pytest.fixture(scope="session")
def any_length_gru_run(tmp_path_factory, runs_dir):
    """Your own model: a GRU over sequences of any length (``Input((None, 2))``), imported.
    Its loop cannot be unrolled, and the TFLite converter's int8 calibration of that loop
    kills the process it runs in (tensorflow/tensorflow#62281): a real crash, in a worker."""

    def make(out: Path):
        import kerasmodels as km
        from kerasmodels.backend import keras

        keras.utils.set_random_seed(0)
        inputs = keras.Input((None, 2))
        outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.GRU(8)(inputs))
        model = keras.Model(inputs, outputs, name="any_length")
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(*km.load_dataset("sequences").train, epochs=1, verbose=0)
        return km.import_model(model, "sequences", name="any-length", out_dir=out)

    return shared_run(tmp_path_factory, runs_dir, "any-length-gru", make)


@pytest.fixture(scope="session")
def full_cnn_run(tmp_path_factory):
    """The digits CNN with its full default budget (the slow tests' teacher and parent)."""
    import kerasmodels as km

    return shared_run(tmp_path_factory, tmp_path_factory.mktemp("full-cnn"), "full-cnn",
                      lambda out: km.train("cnn", "digits", out_dir=out, verbose=0))


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


# PostgreSQL: Debian's server, started by the tests as user postgres in a temporary folder

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server of its own on a free loopback port; its URL."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    assert found, "scripts/setup.sh installs Debian's postgresql"
    bin_dir = Path(found[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="kerasmodels-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(folder, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", free_port()

    def run(*command: str) -> None:
        done = subprocess.run([*as_user, *command], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout[-1000:] + done.stderr[-1000:]

    run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "km")
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "-o",
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start")
    try:
        run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "km", "km")
        yield f"postgresql://km@127.0.0.1:{port}/km"
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)
