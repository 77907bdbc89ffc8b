import json

import pytest

import kerasmodels
from tests.conftest import cli, run_cli


def test_version_and_help():
    assert run_cli("--version").stdout.strip() == f"kerasmodels {kerasmodels.__version__}"
    out = run_cli("--help").stdout
    for command in ("train", "runs", "demo"):
        assert command in out
    assert "--learning-rate" in run_cli("train", "--help").stdout


def test_train_then_runs_table(tmp_path):
    out = tmp_path / "runs"
    result = run_cli("train", "--arch", "mlp", "--dataset", "digits", "--epochs", "2",
                     "--hparam", "hidden_units=[32]", "--out-dir", str(out))
    assert result.returncode == 0, result.stderr
    assert "saved" in result.stdout and "accuracy" in result.stdout
    assert "epoch" in result.stderr  # the progress bar
    (run_dir,) = list(out.iterdir())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["arch"]["hparams"]["hidden_units"] == [32]
    table = run_cli("runs", "--runs-dir", str(out))
    assert table.returncode == 0 and run_dir.name in table.stdout and "test_acc" in table.stdout


def test_runs_lists_broken_runs(tmp_path):
    broken = tmp_path / "cnn-digits-broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{ not json")
    result = run_cli("runs", "--runs-dir", str(tmp_path))
    assert result.returncode == 0 and "BROKEN cnn-digits-broken" in result.stdout
    assert "no runs" in run_cli("runs", "--runs-dir", str(tmp_path / "empty")).stdout


def test_csv_dataset_with_target(tmp_path):
    csv = tmp_path / "points.csv"
    csv.write_text("x1,x2,kind\n" + "".join(f"{i},{-i},{'odd' if i % 2 else 'even'}\n"
                                             for i in range(40)))
    result = cli("train", "--arch", "linear", "--dataset", f"csv:{csv}", "--target", "kind",
                 "--epochs", "2", "--out-dir", str(tmp_path / "runs"), "--quiet")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--arch", "cnnn"], "unknown architecture 'cnnn'"),
        (["train", "--dataset", "nope"], "unknown dataset 'nope'"),
        (["train", "--epochs", "-3"], "epochs must be an integer from 1 to 100,000, got -3"),
        (["train", "--batch-size", "0"], "batch_size must be an integer from 1 to"),
        (["train", "--learning-rate", "-1"], "learning_rate must be a number > 0, got -1.0"),
        (["train", "--dataset", "csv:missing.csv", "--target", "y"], "does not exist"),
        (["train", "--arch", "cnn", "--dataset", "text"], "use mlp, rnn or transformer"),
        (["train", "--hparam", "filterz=3"], "no hyperparameter filterz"),
    ],
)
def test_errors_are_one_line_without_traceback(tmp_path, args, message):
    # the console script itself for two (an option's value, and a dataset the architecture
    # cannot take, found after TensorFlow started); main() in this process for the rest
    real = args[1:3] in (["--epochs", "-3"], ["--arch", "cnn"])
    result = (run_cli if real else cli)(*args, "--out-dir", str(tmp_path / "runs"))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("kerasmodels: error:") and message in lines[0]
    assert not (tmp_path / "runs").exists()


def test_diverging_run_from_the_cli(tmp_path):
    result = cli("train", "--learning-rate", "1e6", "--epochs", "3", "--quiet",
                 "--out-dir", str(tmp_path / "runs"))
    assert result.returncode == 1  # the work failed (2 is for usage errors)
    assert "diverged" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


def test_archs_and_datasets_listings():
    archs = run_cli("archs").stdout
    assert "transformer_small" in archs and "hidden_size=8" in archs
    datasets = run_cli("datasets").stdout
    assert "digits" in datasets and "csv:<path>" in datasets
