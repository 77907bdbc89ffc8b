"""Scale and automation: tf.distribute (mirrored, two workers over loopback), pretraining then
fine-tuning, and the Optuna search."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import threading
import time

import pytest

import kerasmodels as km
from kerasmodels.distribute import DistributionError, parse_tf_config
from kerasmodels.errors import HyperparameterError, UnknownNameError
from tests.conftest import cli, run_cli, run_quick

WORKER = {"cluster": {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]},
          "task": {"type": "worker", "index": 0}}


@pytest.mark.parametrize(("text", "match"), [
    (None, "needs TF_CONFIG"),
    ("{bad json", "not valid JSON"),
    ('{"task": {"type": "worker", "index": 0}}', "needs a 'cluster' object"),
    (json.dumps({**WORKER, "cluster": {"worker": ["localhost"]}}), "'host:port' strings"),
    (json.dumps({**WORKER, "task": {"type": "worker", "index": 2}}), "index 2 is out of range"),
    (json.dumps({**WORKER, "task": {"type": "ps", "index": 0}}), "'ps' is not in the cluster"),
])
def test_malformed_tf_config_is_a_clear_error(text, match):
    with pytest.raises(DistributionError, match=match):
        parse_tf_config(text)


def test_malformed_tf_config_from_the_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", "{not json")
    result = cli("train", "--arch", "mlp", "--epochs", "1", "--distribution", "multiworker",
                 "--out-dir", str(tmp_path))
    assert result.returncode == 1 and "TF_CONFIG is not valid JSON" in result.stderr
    assert not list(tmp_path.glob("mlp-*"))


def test_mirrored_over_two_logical_cpus(tmp_path):
    result = run_cli("train", "--arch", "mlp", "--epochs", "2", "--distribution", "mirrored",
                     "--out-dir", str(tmp_path), "--quiet", KERASMODELS_CPU_DEVICES="2")
    assert result.returncode == 0, result.stderr
    (run,) = km.list_runs(tmp_path)
    record = run.manifest["training"]["distribution"]
    assert record["kind"] == "mirrored" and record["replicas"] == 2
    assert record["global_batch"] == 2 * record["per_replica_batch"] == 64
    assert run.metrics["test"]["accuracy"] > 0.5


def test_two_workers_over_loopback_match_one_worker(tmp_path):
    """``scripts/bench_distributed.py --quick`` (its CI run): the digits CNN launched on one and
    on two workers with the same global batch; the two workers end with bit-identical weights
    and the same test accuracy as one worker (within one test example in 100)."""
    figures = run_quick("distributed", tmp_path / "distributed.json")
    one, two = figures["rows"]
    print(f"one worker {one['test_accuracy']:.4f}, two workers {two['test_accuracy']:.4f}")
    assert (one["workers"], two["workers"]) == (1, 2)
    assert two["global_batch"] == one["global_batch"] == 64
    assert two["workers_reporting"] == 2 and two["identical_weights"]
    assert two["allreduce_ms_per_step"] > 0
    assert abs(one["test_accuracy"] - two["test_accuracy"]) <= 0.01


GRACE = 5  # seconds the launcher gives the other workers before it terminates them


def test_a_dead_worker_stops_the_others_with_a_message(tmp_path):
    out = io.StringIO()
    result = {}

    def run():
        result["code"] = km.launch(["train", "--arch", "mlp", "--epochs", "500", "--out-dir",
                                    str(tmp_path), "--quiet"], 2, grace=GRACE, out=out)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 120
    while not re.search(r"worker 1: pid (\d+)", out.getvalue()) and time.monotonic() < deadline:
        time.sleep(0.2)
    pid = int(re.search(r"worker 1: pid (\d+)", out.getvalue()).group(1))
    while not list(tmp_path.glob(".partial/*/history.json")) and time.monotonic() < deadline:
        time.sleep(0.2)  # training has started: the chief has written its first epoch
    assert list(tmp_path.glob(".partial/*/history.json")), out.getvalue()[-800:]
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    thread.join(timeout=120)
    stopped_after = time.monotonic() - killed
    output = out.getvalue()
    print(output[-800:])
    assert not thread.is_alive() and result["code"] != 0
    assert "worker 1 failed with exit code -9" in output
    assert "stopped: worker 1 failed" in output
    print(f"the launch stopped {stopped_after:.1f} s after the worker was killed")
    # the other worker stops on its own or is terminated when the grace runs out
    assert stopped_after < GRACE + 15
    assert not km.list_runs(tmp_path)  # nothing half-written


def test_search_finds_at_least_the_defaults_and_its_trials_are_runs(tmp_path):
    result = km.search("mlp", "digits", trials=4, epochs=3, out_dir=tmp_path, progress=False)
    defaults = result.trials[0]
    assert defaults["params"]["optimizer"] == "adam" and defaults["params"]["width"] == 128
    complete = [t for t in result.trials if t["state"] == "complete"]
    best = max(t["value"] for t in complete)
    for trial in complete:  # the objective is what the saved run scores, not a better epoch
        saved = km.load_run(tmp_path / trial["run"]).metrics["val"]["accuracy"]
        assert trial["value"] == pytest.approx(saved), trial
    assert result.best_run.metrics["val"]["accuracy"] == pytest.approx(best)
    assert result.best_run.id == max(complete, key=lambda t: t["value"])["run"]
    runs = {r.id for r in km.list_runs(tmp_path)}
    assert {t["run"] for t in result.trials if t["run"]} <= runs
    summary = json.loads(result.path.read_text())
    assert summary["best"]["run"] == result.best_run.id and len(summary["trials"]) == 4


@pytest.mark.parametrize(("space", "match"), [
    ({}, "search space is empty"),
    ({"learning_rate": []}, "empty list"),
    ({"nonsense": [1, 2]}, "neither train options"),
    ({"learning_rate": (1e-2, 1e-4, "log")}, "must be below"),
])
def test_bad_search_spaces(space, match, tmp_path):
    with pytest.raises(HyperparameterError, match=match):
        km.search("mlp", "digits", trials=2, epochs=1, space=space, out_dir=tmp_path,
                  progress=False)


@pytest.mark.slow
def test_pretrained_transformer_beats_scratch_on_a_tenth_of_the_labels(tmp_path):
    """``scripts/bench_pretraining.py --quick`` on a CI budget (the figures in docs/benchmarks.md: 10
    epochs on 6,000 sequences): masked-token pretraining, fine-tuning on 10% of the labels, and
    the same architecture from scratch on the same labels."""
    figures = run_quick("pretraining", tmp_path / "pretraining.json", "--pretrain-epochs", "6",
                        "--corpus-size", "3000", "--epochs", "15")
    (row,) = figures["rows"]
    print(f"text, {row['labels']} labels: fine-tuned {row['fine_tuned']:.4f}, scratch "
          f"{row['scratch']:.4f}")
    assert row["objective"] == "masked" and "block_0_attention" in row["transferred_layers"]
    assert row["labels"] > 0 and row["fine_tuned"] > row["scratch"]


def test_next_token_pretraining_and_the_image_transfer_chain(tmp_path):
    lm = km.pretrain("transformer", "text", objective="next_token", epochs=1, out_dir=tmp_path,
                     verbose=0)
    vocabulary = lm.model.output_shape[-1]
    print(f"next-token accuracy after one epoch: {lm.metrics['test']['token_accuracy']:.4f} "
          f"(uniform guess {1 / vocabulary:.4f})")
    assert lm.hparams["causal"] is True
    # the filler words are uniformly random: beating a uniform guess is what one epoch can show
    assert lm.metrics["test"]["token_accuracy"] > 1.5 / vocabulary
    source = km.train("cnn", "digits", epochs=2, dataset_options={"classes": [0, 1, 2, 3, 4]},
                      out_dir=tmp_path, verbose=0)
    assert source.manifest["dataset"]["labels"] == ["0", "1", "2", "3", "4"]
    tuned = km.finetune(source, "digits", dataset_options={"classes": [5, 6, 7, 8, 9]},
                        freeze="encoder", epochs=2)
    record = tuned.manifest["finetune"]
    assert tuned.parent == source.id and record["backbone_layers"] == ["conv_0", "conv_1"]
    assert tuned.manifest["dataset"]["labels"] == ["5", "6", "7", "8", "9"]
    # the frozen backbone really stayed as it was
    for name in record["backbone_layers"]:
        for a, b in zip(tuned.model.get_layer(name).get_weights(),
                        source.model.get_layer(name).get_weights(), strict=True):
            assert (a == b).all()
    with pytest.raises(HyperparameterError, match="learned from image inputs and text is tokens"):
        km.finetune(source, "text")
    with pytest.raises(UnknownNameError, match="unknown freeze"):
        km.finetune(source, "digits", freeze="decoder")
    with pytest.raises(HyperparameterError, match="pretrain takes a transformer"):
        km.pretrain("cnn", "digits")


def test_pretrain_and_finetune_from_the_cli(tmp_path):
    source_dir = str(km.train("cnn", "digits", epochs=1, verbose=0, out_dir=tmp_path,
                              dataset_options={"classes": [0, 1, 2, 3, 4]}).path)
    tuned = cli("finetune", source_dir, "--dataset", "digits", "--dataset-option",
                    "classes=[5,6,7,8,9]", "--epochs", "1", "--labelled-fraction", "0.5",
                    "--freeze", "none", "--compare-scratch")
    assert tuned.returncode == 0, tuned.stderr
    assert re.search(r"test accuracy [\d.]+ from \d+ labels; from scratch [\d.]+", tuned.stdout)
    run = km.load_run(re.search(r"saved (\S+)", tuned.stdout).group(1))
    assert run.parent == os.path.basename(source_dir) and run.manifest["finetune"]["freeze"] == "none"
    assert run.manifest["dataset"]["options"]["classes"] == [5, 6, 7, 8, 9]
    lm = cli("pretrain", "--epochs", "1", "--corpus-option", "n=300", "--quiet", "--out-dir",
                 str(tmp_path))
    assert lm.returncode == 0, lm.stderr
    assert re.search(r"held-out token accuracy [\d.]+", lm.stdout)
    missing = cli("finetune", str(tmp_path / "nope"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr
