"""The default budgets reach the accuracy the README promises (slow: full default training)."""

import json

import pytest

from tests.conftest import run_cli

TARGETS = [("cnn", "digits", 0.97), ("mlp", "digits", 0.95), ("rnn", "sequences", 0.85),
           ("transformer", "text", 0.85)]


@pytest.mark.slow
@pytest.mark.parametrize(("arch", "dataset", "minimum"), TARGETS)
def test_default_training_reaches_the_target(tmp_path, arch, dataset, minimum):
    result = run_cli("train", "--arch", arch, "--dataset", dataset, "--out-dir", str(tmp_path),
                     "--quiet")
    assert result.returncode == 0, result.stderr
    (run_dir,) = list(tmp_path.iterdir())
    accuracy = json.loads((run_dir / "manifest.json").read_text())["metrics"]["test"]["accuracy"]
    print(f"{arch} on {dataset}: test accuracy {accuracy:.4f}")
    assert accuracy >= minimum
