"""Anomaly detection as a task: the ``anomaly:`` loader (DCASE's layout and a flat one), the
built-in ``machines`` recordings, MLPerf Tiny's dense autoencoder, and an anomaly run ranked by
the ROC AUC of its reconstruction error through training, export parity, the benchmark, the
sweep, the dashboard and the console script in a new process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import kerasmodels as km
from kerasmodels.audio import write_wav
from kerasmodels.data.anomaly import _split
from kerasmodels.data.machines import FAULTS, machines_folder, recording
from kerasmodels.errors import DatasetError, HyperparameterError
from kerasmodels.formats import get_format
from tests.conftest import cli, run_cli, shared_run


@pytest.fixture(scope="module")
def anomaly_run(tmp_path_factory, runs_dir):
    """MLPerf Tiny's autoencoder on the built-in machine recordings (12 epochs of 128, ~9 s)."""
    return shared_run(tmp_path_factory, runs_dir, "fc-autoencoder", lambda out: km.train(
        "fc_autoencoder", "machines", epochs=12, batch_size=128, out_dir=out, verbose=0))


def write_recordings(folder: Path, normal: int, anomalous: int, *, start: int = 0,
                     rate: int = 16_000, seconds: float | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(normal):
        write_wav(folder / f"normal_id_00_{i:08d}.wav", recording(start + i)[:int(
            (seconds or 2.0) * 16_000)], rate)
    for i in range(anomalous):
        write_wav(folder / f"anomaly_id_00_{i:08d}.wav",
                  recording(start + normal + i, FAULTS[i % 3])[:int((seconds or 2.0) * 16_000)],
                  rate)


def test_the_built_in_machines_are_dcase_folders_split_by_recording():
    root = machines_folder()
    assert sorted(p.name for p in root.iterdir()) == ["test", "train"]
    assert all(p.name.startswith("normal_") for p in (root / "train").iterdir())
    judged = {p.name.split("_")[0] for p in (root / "test").iterdir()}
    assert judged == {"normal", "anomaly"}
    splits = _split(root, 1 / 3, 0)
    files = [{f for f, _ in splits[part]} for part in ("train", "val", "test")]
    assert not (files[0] & files[1] or files[0] & files[2] or files[1] & files[2])
    ds = km.load_dataset("machines")
    assert ds.task == "anomaly" and ds.input_shape == (640,) and ds.labels is None
    assert set(np.unique(ds.train[1])) == {0}
    assert set(np.unique(ds.val[1])) == set(np.unique(ds.test[1])) == {0, 1}
    prep = ds.preprocessing
    assert (prep["kind"], prep["mel_bins"], prep["frames"], prep["fft_length"],
            prep["hop_length"]) == ("machine_sound", 128, 5, 1024, 512)
    # every 2 s recording gives 1 + (32000 - 1024) // 512 - 4 = 57 vectors
    assert len(ds.train[0]) == 57 * len(files[0])


def test_a_flat_folder_takes_its_frame_options(tmp_path):
    write_recordings(tmp_path / "fan", 20, 8)
    ds = km.load_dataset(f"anomaly:{tmp_path / 'fan'}", mel_bins=32, frames=3)
    assert ds.input_shape == (96,) and ds.preprocessing["mel_bins"] == 32
    assert set(np.unique(ds.train[1])) == {0}
    assert set(np.unique(ds.val[1])) == set(np.unique(ds.test[1])) == {0, 1}
    again = km.load_dataset(f"anomaly:{tmp_path / 'fan'}", mel_bins=32, frames=3)
    np.testing.assert_array_equal(ds.test[0], again.test[0])  # the cached features


def bad_folders(root: Path) -> dict[str, tuple[Path, str]]:
    """Folders a user could give, each with the words its error must say."""
    cases = {}
    only_anomalies = root / "only-anomalies"
    write_recordings(only_anomalies, 0, 6)
    cases["no normal"] = (only_anomalies, "has no normal recordings to learn from")
    rates = root / "rates"
    write_recordings(rates / "train", 4, 0)
    write_recordings(rates / "test", 3, 3, start=10)
    write_wav(rates / "test" / "normal_id_00_00000099.wav", recording(99)[:16_000], 22_050)
    cases["mixed rates"] = (rates, "16000 Hz")
    named = root / "named"
    write_recordings(named, 6, 4)
    write_wav(named / "fan_007.wav", recording(7)[:16_000])
    cases["name"] = (named, "fan_007.wav is named neither normal_* nor anomaly_*")
    trained = root / "trained"
    write_recordings(trained / "train", 2, 1)
    write_recordings(trained / "test", 3, 3, start=10)
    cases["anomaly in train"] = (trained, "holds anomaly_* recordings")
    nothing = root / "nothing-to-judge"
    write_recordings(nothing / "train", 3, 0)
    write_recordings(nothing / "test", 4, 0, start=10)
    cases["no anomalies"] = (nothing, "has no anomalous recordings")
    short = root / "short"
    write_recordings(short, 8, 6, seconds=0.1)
    cases["too short"] = (short, "a vector needs 5 frames")
    cases["missing"] = (root / "absent", "does not exist")
    return cases


def test_bad_folders_are_one_line_each_from_the_api_and_the_cli(tmp_path):
    for case, (folder, words) in bad_folders(tmp_path).items():
        with pytest.raises(DatasetError, match=None) as caught:
            km.load_dataset(f"anomaly:{folder}")
        assert words in str(caught.value), (case, str(caught.value))
        assert "\n" not in str(caught.value)
        result = cli("train", "--arch", "fc_autoencoder", "--dataset", f"anomaly:{folder}",
                     "--epochs", "1", "--out-dir", str(tmp_path / "runs"))
        lines = result.stderr.strip().splitlines()
        assert result.returncode != 0 and len(lines) == 1 and words in lines[0], (case, lines)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_the_autoencoder_refuses_a_classification_dataset():
    with pytest.raises(HyperparameterError, match="train it on an anomaly dataset"):
        km.build_model("fc_autoencoder", "digits")


def test_an_anomaly_run_is_ranked_by_auc_from_training_to_the_microcontroller(anomaly_run):
    metrics = anomaly_run.metrics
    assert set(metrics["train"]) >= {"loss", "threshold"} and "auc" not in metrics["train"]
    assert metrics["val"]["auc"] > 0.7 and metrics["test"]["auc"] > 0.7, metrics
    assert anomaly_run.record.arch.params == 269_992
    artifacts = {a.format: a for a in km.export(anomaly_run, ["tflite-int8", "tflite-micro"])}
    for fmt, artifact in artifacts.items():
        parity = artifact.parity
        assert parity["keras_auc"] == pytest.approx(metrics["test"]["auc"], abs=1e-9)
        assert parity["keras_auc"] - parity["auc"] <= get_format(fmt).auc_drop_ceiling, parity
        assert "accuracy" not in parity and "top1_agreement" not in parity
    device = artifacts["tflite-micro"].device
    assert device["arena_bytes"] > 0 and device["flash_bytes"] < 400_000
    assert "litert_agreement" not in device and device["litert_max_abs_diff"] < 1.0  # dB
    labels = json.loads((anomaly_run.path / "exports" / "labels.json").read_text())
    assert labels["task"] == "anomaly" and labels["preprocessing"]["frames"] == 5


def test_the_benchmark_and_the_sweep_rank_it_by_auc(anomaly_run, tmp_path):
    import shutil

    run = km.load_run(shutil.copytree(anomaly_run.path, tmp_path / anomaly_run.id))
    km.export(run, ["tflite-int8"])
    rows = km.benchmark(run, calls=5, export_missing=False, progress=False)
    assert {r["format"] for r in rows} >= {"keras", "tflite-int8"}
    assert all(r["auc"] > 0.7 and r["accuracy"] is None and r["mae"] is None for r in rows)
    result = km.sweep(run, recipes=[{"recipe": "prune", "target_sparsity": 0.5, "epochs": 1}],
                      formats=["tflite-int8"], accuracy_budget=0.05, calls=5, progress=False)
    assert result["metric"] == "auc" and result["parent_val_score"] == run.metrics["val"]["auc"]
    measured = [r for r in result["rows"] if r["status"] == "ok"]
    assert len(measured) == 2 and all("val_accuracy" not in r for r in measured)
    for row in measured:
        assert row["val_score"] == row["val_auc"] and row["test_score"] == row["test_auc"]
    pick = result["pick"]
    assert pick is not None and pick["val_score"] >= result["parent_val_score"] - 0.05
    compared = km.compare_family(run)
    assert compared["metric"] == "auc" and any(r["pareto"] for r in compared["rows"])


def test_a_new_process_exports_it_and_says_auc(anomaly_run, tmp_path):
    import shutil

    copy = shutil.copytree(anomaly_run.path, tmp_path / anomaly_run.id,
                           ignore=shutil.ignore_patterns("exports"))
    result = run_cli("export", str(copy), "--formats", "tflite-int8", "--json")
    assert result.returncode == 0, result.stderr
    (artifact,) = json.loads(result.stdout)["artifacts"]
    assert artifact["parity"]["auc"] >= artifact["parity"]["keras_auc"] - 0.02


def test_the_dashboard_shows_auc_and_the_playground_anomaly_scores(anomaly_run, tmp_path,
                                                                     monkeypatch):
    import shutil

    from streamlit.testing.v1 import AppTest

    from kerasmodels.dashboard import APP

    shutil.copytree(anomaly_run.path, tmp_path / anomaly_run.id)
    km.export(tmp_path / anomaly_run.id, ["tflite-int8"])
    monkeypatch.setenv("KERASMODELS_RUNS_DIR", str(tmp_path))
    at = AppTest.from_file(str(APP), default_timeout=240)
    at.run()
    table = at.dataframe[0].value
    assert table.loc[table["run"] == anomaly_run.id, "test_auc"].iloc[0] == pytest.approx(
        anomaly_run.metrics["test"]["auc"])
    at.selectbox(key="models_run").set_value(anomaly_run.id).run()
    assert at.metric[0].label == "test auc"
    at.switch_page("views/playground.py")
    at.run()
    at.selectbox(key="playground_run").set_value(anomaly_run.id).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio[0].options == ["Test example"]
    predictions = at.dataframe[0].value
    assert {"keras", "tflite-int8"} <= set(predictions["format"])
    assert predictions["anomaly_score"].notna().all()
    assert set(predictions["label"]) <= {"normal", "anomaly"}
    assert any("anomaly score" in m.value and "threshold" in m.value for m in at.markdown)


def test_the_search_maximizes_the_validation_auc(tmp_path):
    """km.search over the autoencoder family's space (its width and depth are the encoder's
    layers, mirrored): each trial's value is its saved run's validation AUC."""
    result = km.search("fc_autoencoder", "machines", trials=2, epochs=1, out_dir=tmp_path,
                       progress=False)
    values = [t["value"] for t in result.trials if t["state"] == "complete"]
    assert values and max(values) == result.best_run.metrics["val"]["auc"]
    units = result.best_run.record.arch.hparams["units"]
    assert len(units) == result.best_params["depth"] and units[0] == result.best_params["width"]
