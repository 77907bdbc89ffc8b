"""The benchmark scripts run end to end and write their JSON (speed targets live in the JSON),
and the figures of the README and the docs are the ones in bench-results/."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, bench_script, run_quick

BENCHMARKS = sorted(p.stem.removeprefix("bench_") for p in (ROOT / "scripts").glob("bench_*.py"))


def test_every_benchmark_has_a_quick_mode_that_ci_runs():
    # optimizers, dashboard and dashboard_load are checked below, distributed and pretraining
    # by tests/test_scale.py, export_matrix by tests/test_reopen.py, kws by tests/test_audio.py,
    # tiny by tests/test_tiny.py, stream by tests/test_stream.py, scale by
    # tests/test_sweep_studies.py (their quick runs are what those tests assert on)
    tested = {"optimizers", "dashboard", "dashboard_load", "distributed", "pretraining",
              "export_matrix", "kws", "tiny", "stream", "scale", *QUICK_CHECKS}
    assert set(BENCHMARKS) == tested, "a bench script without a quick test in CI"
    for name in BENCHMARKS:
        assert "--quick" in (ROOT / "scripts" / f"bench_{name}.py").read_text(), name


QUICK_CHECKS = {
    "train": lambda f: f["rows"][0]["epochs"] == 1 and f["overhead"][0]["plain_over_km"] > 0,
    "regularizers": lambda f: [r["regularizer"] for r in f["rows"]] == ["none", "l1", "l2"],
    "runtimes": lambda f: f["summary"][0]["best_p50_ms"] > 0
    and f["benchmark_timer_check"]["bare_loop_p50_ms"] > 0,
    "compression": lambda f: {r["recipe"] for r in f["recipes"]} == {"parent", "prune", "qat"}
    and {r["format"] for r in f["formats"]} >= {"keras", "tflite-int8", "onnx"},
    "sweep": lambda f: f["rows"] and f["wall_s"] > 0,
    "transfer": lambda f: f["rows"][0]["labels"] > 0,
    "micro": lambda f: f["rows"][0]["arena_bytes"] > 0 and f["rows"][0]["tflm_p50_ms"] > 0
    and f["rows"][1]["flash_bytes"] < f["rows"][1]["flash_bytes_uncompressed"]
    and f["frontier"]["target"] == "micro" and f["frontier"]["pick"] is not None
    and f["rows"][0]["litert_agreement"] >= 0.99,
    "frontier": lambda f: {r["recipe"] for r in f["cases"]["cnn/digits 8x8x1"]["rows"]}
    == {"none", "channel_prune"} and all(r["multiply_adds"] > 0 for r in
                                         f["cases"]["cnn/digits 8x8x1"]["rows"])
    and Path(f["plot"]).stat().st_size > 10_000,
    "cli": lambda f: [r["command"] for r in f["rows"]][0] == "kerasmodels archs"
    and not any(r["imports_tensorflow"] for r in f["rows"]) and f["rows"][0]["median_s"] > 0,
    "zoo": lambda f: [r["model"] for r in f["rows"]] == ["MobileNetV3Small"]
    and f["rows"][0]["max_abs_difference"] <= 1e-4 and f["rows"][0]["float32_agreement"] == 1.0
    and f["rows"][0]["int8_kb"] > 0 and not f["rows"][0]["collapsed"],
    "xnnpack": lambda f: {(r["kernels"], r["delegated"]) for r in f["rows"]}
    == {("XNNPACK", True), ("builtin", False)} and all(r["p50_us"] > 0 for r in f["rows"]),
    "import": lambda f: f["max_abs_difference"] <= 1e-4 and f["import_s"] > 0
    and {r["recipe"] for r in f["rows"]} == {"import", "prune"} and f["pick"] is not None,
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(QUICK_CHECKS))
def test_bench_script_quick_mode_works(name, tmp_path):
    figures = run_quick(name, tmp_path / f"{name}.json")
    assert QUICK_CHECKS[name](figures), figures


def test_readme_figures_are_the_committed_results():
    """Every figure block in the README and docs/*.md is what scripts/readme_figures.py renders
    from bench-results/*.json, and every bench script's results are committed."""
    result = subprocess.run([sys.executable, "scripts/readme_figures.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in BENCHMARKS:
        figures = json.loads((ROOT / "bench-results" / f"{name}.json").read_text())
        assert not figures.get("quick"), f"bench-results/{name}.json holds a --quick run"


def test_lab_plots_quick_draws_every_plot_of_the_training_page(tmp_path):
    """scripts/lab_plots.py --quick writes each PNG the docs' training page shows."""
    import importlib.util

    from PIL import Image

    spec = importlib.util.spec_from_file_location("lab_plots", ROOT / "scripts" / "lab_plots.py")
    plots = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plots)
    result = subprocess.run([sys.executable, "scripts/lab_plots.py", "--quick", "--out",
                             str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    page = (ROOT / "docs" / "training.md").read_text()
    assert sorted(png.stem for png in tmp_path.glob("*.png")) == sorted(plots.PLOTS)
    for name in plots.PLOTS:
        assert f"](lab/{name}.png)" in page, name
        assert (ROOT / "docs" / "lab" / f"{name}.png").is_file(), name  # committed
        with Image.open(tmp_path / f"{name}.png") as image:
            assert image.size[0] > 500
            assert len(image.convert("L").getcolors(1 << 16)) > 10  # drawn, not blank


def test_bench_optimizers_quick_writes_json(tmp_path):
    out = tmp_path / "optimizers.json"
    result = subprocess.run([sys.executable, "scripts/bench_optimizers.py", "--quick", "--out",
                             str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "ours_steps_s" in result.stdout and "slowest ratio" in result.stdout
    rows = json.loads(out.read_text())["rows"]
    assert {row["model"] for row in rows} == {"cnn/digits", "transformer/text"}
    assert all(row["ours_steps_s"] > 0 and row["keras_steps_s"] > 0 for row in rows)


@pytest.fixture(scope="module")
def quick_family(tmp_path_factory) -> Path:
    """bench_dashboard's family (1-epoch CNN, its distilled student, three formats each), built
    once for both dashboard benches (``--family``)."""
    folder = tmp_path_factory.mktemp("dashboard-family")
    return folder / bench_script("dashboard").build_family(folder, quick=True)


def test_bench_dashboard_quick_times_the_first_page_and_clicks(quick_family, tmp_path):
    figures = run_quick("dashboard", tmp_path / "dashboard.json", "--family",
                        str(quick_family))
    assert figures["first_page_s"] > 0 and figures["clicks"] == 3
    assert figures["variants"].startswith("8 variants")  # two runs: Keras and three formats


def test_bench_dashboard_load_quick_keeps_answering(quick_family, tmp_path):
    """Two Chromium pages without think time, then the recovery window: the health endpoint
    never fails and answers within a second once the load is gone, the server has closed every
    client socket, and SIGTERM stops it."""
    figures = run_quick("dashboard_load", tmp_path / "load.json", "--family",
                        str(quick_family))
    assert figures["health_during"]["failures"] == 0 and figures["health_after"]["failures"] == 0
    assert figures["health_after"]["p90_ms"] < 1000
    assert figures["close_wait_after"] == 0 and figures["sigterm_stop_s"] < 10
    assert sum(figures["page_loads"].values()) > 0 and figures["errors"] == 0
