"""The benchmark scripts run end to end and write their JSON (speed targets live in the JSON)."""

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_bench_optimizers_quick_writes_json(tmp_path):
    out = tmp_path / "optimizers.json"
    result = subprocess.run([sys.executable, "scripts/bench_optimizers.py", "--quick", "--out",
                             str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "ours_steps_s" in result.stdout and "slowest ratio" in result.stdout
    rows = json.loads(out.read_text())["rows"]
    assert {row["model"] for row in rows} == {"cnn/digits", "transformer/text"}
    assert all(row["ours_steps_s"] > 0 and row["keras_steps_s"] > 0 for row in rows)
