"""The CLI as scripts use it (JSON results, exit codes, logs apart from results), options
declared once, and what a compressed child records (its own epochs, TensorBoard logs)."""

from __future__ import annotations

import inspect
import json
import signal
import subprocess
import sys
import time

import pytest

import kerasmodels as km
from kerasmodels.options import COMPRESSION, TRAINING
from tests.conftest import KERASMODELS, ROOT, as_at_a_terminal, cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("json-runs")
    done = cli("train", "--arch", "mlp", "--epochs", "2", "--hparam", "hidden_units=[16]",
               "--out-dir", str(out), "--json", "-q")
    assert done.returncode == 0, done.stderr
    return out, json.loads(done.stdout)


def as_json(*args: str) -> dict | list:
    done = cli(*args, "--json", "-q")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # nothing but the JSON on stdout


def test_train_prints_the_run_as_json(trained):
    out, summary = trained
    assert summary["arch"] == "mlp" and (out / summary["id"] / "manifest.json").is_file()
    assert summary["metrics"]["test"]["accuracy"] == km.load_run(summary["path"]).metrics[
        "test"]["accuracy"]


def test_every_command_that_prints_a_result_prints_json(trained, tmp_path):
    """In this order: export before benchmark (which times what is exported), compress and
    sweep after it."""
    out, summary = trained
    run = summary["path"]
    assert [r["run"] for r in as_json("runs", "--runs-dir", str(out))["runs"]] == [summary["id"]]
    assert [r["arch"] for r in as_json("archs")] == km.architecture_names()
    assert set(km.dataset_names()) <= {r["name"] for r in as_json("datasets")}
    exported = as_json("export", run, "--formats", "tflite-float32", "onnx")
    assert [a["format"] for a in exported["artifacts"]] == ["tflite-float32", "onnx"]
    assert all((out / summary["id"] / "exports" / a["path"].split("/")[-1]).exists()
               for a in exported["artifacts"])
    rows = as_json("benchmark", run, "--calls", "5")["rows"]
    assert {r["format"] for r in rows} == {"keras", "tflite-float32", "onnx"}
    assert all(r["p50_ms"] > 0 for r in rows)
    child = as_json("compress", run, "--recipe", "prune", "--option", "epochs=1")
    assert child["recipe"] == "prune" and child["parent"] == summary["id"]
    swept = as_json("sweep", run, "--recipe", "cluster", "--calls", "5")
    assert {r["recipe"] for r in swept["rows"]} == {"none", "cluster"}
    assert swept["accuracy_budget"] == 0.01 and swept["complete"]
    found = as_json("lr-find", "--arch", "linear", "--dataset", "regression", "--steps", "12")
    assert len(found["learning_rates"]) == 12 and found["suggested"] > 0
    searched = as_json("search", "--arch", "linear", "--dataset", "regression", "--trials", "1",
                       "--epochs", "1", "--space", '{"learning_rate": [0.01, 0.1]}',
                       "--out-dir", str(tmp_path))
    assert searched["trials"][0]["state"] == "complete" and searched["best_run"]


def test_runs_json_pipes_into_json_tool(trained):
    out, _ = trained
    done = subprocess.run(f"{' '.join(KERASMODELS)} runs --runs-dir {out} --json | "
                          f"{sys.executable} -m json.tool", shell=True, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and '"runs": [' in done.stdout, done.stderr


@pytest.mark.parametrize(("args", "code", "message"), [
    (["train", "--epochs", "0"], 2, "epochs must be an integer from 1 to 100,000, got 0"),
    (["train", "--strategy", "full"], 2, "unknown strategy 'full'"),
    (["train", "--hparam", "filterz=3"], 2, "no hyperparameter filterz"),
    (["export", "no/such/run"], 1, "does not exist"),
    (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
])
def test_exit_codes_tell_usage_errors_from_failures(args, code, message, tmp_path):
    done = cli(*args, *(["--out-dir", str(tmp_path)] if args[0] == "train" else []))
    assert done.returncode == code, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("kerasmodels: error:") and message in line


def test_an_option_the_recipe_refuses_is_a_usage_error(trained):
    _, summary = trained
    done = cli("compress", summary["path"], "--recipe", "prune", "--option",
               "target_sparsity=1.5")
    assert done.returncode == 2
    assert "target_sparsity must be a number from 0 to 0.99, got 1.5" in done.stderr


def test_ctrl_c_exits_130_and_says_how_to_resume(tmp_path):
    process = subprocess.Popen([*KERASMODELS, "train", "--arch", "mlp", "--epochs", "500",
                                "--checkpoint-every", "0", "-q", "--out-dir", str(tmp_path)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, preexec_fn=as_at_a_terminal)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not list(tmp_path.glob(".partial/*/state/state.json")):
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted: run the same command again to resume" in err


SWALLOWED = """
import os, signal, sys, time
from kerasmodels.processes import insistent_interrupt
class Swallow:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)  # the KeyboardInterrupt is raised in here: Python prints it, goes on
def work():
    Swallow()
    started = time.time()
    while time.time() - started < 30:
        time.sleep(0.05)
    return "not interrupted"
with insistent_interrupt() as state:
    try:
        print(work())
    except KeyboardInterrupt:
        state["stopped"] = True
        print("interrupted")
"""


def test_ctrl_c_stops_a_command_even_where_python_would_ignore_it():
    """A Ctrl-C whose KeyboardInterrupt lands in a __del__ or a weakref callback is printed as
    "Exception ignored" and the work goes on (seen: a sweep interrupted by the test above ran
    to the end and exited 0). The CLI raises it again each second until it stops the work."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", SWALLOWED], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "interrupted", done.stdout + done.stderr
    assert "Exception ignored" in done.stderr and time.monotonic() - started < 10


def test_results_on_stdout_logs_and_native_lines_apart(trained, capfd, monkeypatch):
    """A TFLite conversion and a LiteRT interpreter write to the process's stderr from C++
    (file descriptor 2, which capfd reads); none of it shows unless asked for, and the result
    stays alone on stdout."""
    from kerasmodels.logs import NATIVE_ENV

    _, summary = trained
    quiet = cli("export", summary["path"], "--formats", "tflite-int8", "--json")
    assert quiet.returncode == 0, quiet.stderr
    json.loads(quiet.stdout)
    native = capfd.readouterr().err
    for noise in ("XNNPACK delegate", "fully_quantize"):
        assert noise not in native + quiet.stderr, native
    monkeypatch.setenv(NATIVE_ENV, "1")  # what -v sets (in a process of its own)
    km.export(summary["path"], ["tflite-int8"])
    assert "fully_quantize" in capfd.readouterr().err


def test_verbose_and_quiet_set_the_logs():
    """-v (in a process of its own: it sets the environment) shows debug logs and the native
    lines; -q keeps warnings only."""
    import logging

    from kerasmodels.logs import LOGGER, configure

    done = subprocess.run([sys.executable, "-c", "import os, logging\n"
                           "from kerasmodels.logs import configure, LOGGER, NATIVE_ENV\n"
                           "configure(1)\n"
                           "print(os.environ[NATIVE_ENV], os.environ['TF_CPP_MIN_LOG_LEVEL'], "
                           "LOGGER.level == logging.DEBUG)"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.stdout.split() == ["1", "0", "True"], done.stderr
    try:
        assert cli("-q", "runs", "--runs-dir", str(ROOT / "no-such-dir")).returncode == 0
        assert LOGGER.level == logging.WARNING
    finally:
        configure(0)


def test_the_cli_help_and_the_search_read_the_declared_options():
    help_text = cli("train", "--help").stdout
    for name, option in TRAINING.items():
        assert option.flag in help_text, name
    assert "{minibatch,batch,sgd}" in help_text
    from kerasmodels.tuning import COMMON_SPACE, _default_params

    assert COMMON_SPACE["learning_rate"] == TRAINING["learning_rate"].search
    assert _default_params("mlp")["reg_strength"] == TRAINING["reg_strength"].default
    train = inspect.signature(km.train).parameters
    for name in ("strategy", "optimizer", "reg_strength", "seed", "checkpoint_every"):
        assert train[name].default == TRAINING[name].default, name


def test_a_search_enqueues_only_the_defaults_its_space_holds(tmp_path):
    """linear's default learning rate (0.05) lies above the searched range (up to 3e-2):
    enqueued, Optuna warned "Fixed parameter learning_rate ... is out of range" and trained
    outside the space; it is sampled instead, and the rest of the defaults are the first
    trial."""
    import warnings

    from kerasmodels.tuning import _default_params, default_space

    assert _default_params("linear")["learning_rate"] > default_space("linear")["learning_rate"][1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the out-of-range warning fails the search
        result = km.search("linear", "digits", trials=1, epochs=1, progress=False,
                           out_dir=tmp_path)
    first = result.trials[0]["params"]
    space = default_space("linear")
    assert space["learning_rate"][0] <= first["learning_rate"] <= space["learning_rate"][1]
    assert first["optimizer"] == _default_params("linear")["optimizer"]


def test_an_option_of_any_kind_says_what_it_accepts_without_calling_it_a_number():
    """``student`` (a name or a model) and ``keep`` (a share or a dict) were "a number" in
    ``km.recipe_options`` and the option tables."""
    assert "number" not in km.recipe_options("distill")["student"]["expected"]
    assert "number" not in km.COMPRESSION["keep"].expected


def test_every_compression_step_option_is_declared():
    from kerasmodels.compression import recipe_options
    from kerasmodels.compression.recipes import STEPS

    for step in STEPS:  # keep_option is set by compress() for chains, not by users
        assert set(step.options()) <= set(COMPRESSION), (step.name,
                                                         set(step.options()) - set(COMPRESSION))
    options = recipe_options("prune+qat")
    assert options["epochs"]["steps"] == ["prune", "qat"]
    assert options["target_sparsity"]["default"] == 0.8


def test_a_child_has_its_own_epochs_curves_and_tensorboard_logs(trained):
    _, summary = trained
    child = km.compress(summary["path"], "prune+qat", epochs=2)
    assert child.manifest["training"]["epochs_run"] == 4  # two steps of two epochs
    assert child.history["learning_rate"] == [1e-3, 1e-3, 1e-4, 1e-4]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for step in ("1-prune", "2-qat"):
        events = EventAccumulator(str(child.path / "logs" / step / "train")).Reload()
        tags = events.Tags()["tensors"]
        assert {"epoch_loss", "epoch_learning_rate"} <= set(tags), (step, tags)
