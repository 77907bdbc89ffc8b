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


def test_bench_dashboard_load_quick_keeps_answering(tmp_path):
    """Two Chromium pages without think time, then the recovery window: the health endpoint
    never fails and answers within a second once the load is gone."""
    out = tmp_path / "load.json"
    result = subprocess.run([sys.executable, "scripts/bench_dashboard_load.py", "--quick",
                             "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert figures["health_during"]["failures"] == 0 and figures["health_after"]["failures"] == 0
    assert figures["health_after"]["p90_ms"] < 1000
    assert sum(figures["page_loads"].values()) > 0 and figures["errors"] == 0
