"""kerasmodels as a user installs it: a wheel, installed outside the repository, runs the demo
and serves the dashboard; its types reach a user's mypy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_browser import chromium_page, free_port, wait_healthy


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """The wheel built from this checkout, installed with ``--no-deps`` into a fresh target
    next to the installed dependencies (``PYTHONPATH`` puts it first), and a project folder
    outside the repository to run it from."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "-w", str(work / "dist"), str(ROOT)], check=True, timeout=300)
    (wheel,) = (work / "dist").glob("kerasmodels-*.whl")
    target = work / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target",
                    str(target), str(wheel)], check=True, timeout=300)
    project = work / "project"
    project.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "CI": "1", "PYTHONUNBUFFERED": "1"}
    return {"wheel": wheel, "target": target, "project": project, "env": env,
            "command": [str(target / "bin" / "kerasmodels")]}


def run(installed: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*installed["command"], *args], cwd=installed["project"],
                          env=installed["env"], capture_output=True, text=True, timeout=timeout)


def test_the_wheel_holds_the_dashboard_and_the_types(installed):
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    assert {"kerasmodels/py.typed", "kerasmodels/dashboard/app.py",
            "kerasmodels/dashboard/common.py", "kerasmodels/dashboard/views/compare.py",
            "kerasmodels/dashboard/views/playground.py"} <= names
    where = subprocess.run([sys.executable, "-c", "import kerasmodels; print(kerasmodels.__file__)"],
                           cwd=installed["project"], env=installed["env"], capture_output=True,
                           text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(installed["target"]), where  # the wheel, not the checkout


def test_a_users_mypy_sees_the_types(installed):
    script = installed["project"] / "use.py"
    script.write_text("import kerasmodels as km\n\n"
                      "run = km.load_run('saved_models/x')\n"
                      "reveal_type(run)\n"
                      "reveal_type(km.export_formats()[0].agreement_floor)\n"
                      "km.train('mlp', epochs='ten')\n")
    done = subprocess.run([sys.executable, "-m", "mypy", "--ignore-missing-imports", str(script)],
                          cwd=installed["project"], env=installed["env"],
                          capture_output=True, text=True, timeout=300)
    assert 'Revealed type is "kerasmodels.runs.Run"' in done.stdout, done.stdout
    assert 'Revealed type is "float"' in done.stdout or 'Revealed type is "builtins.float"' \
        in done.stdout, done.stdout
    assert 'Argument "epochs" to "train" has incompatible type "str"' in done.stdout, done.stdout


@pytest.mark.slow
def test_the_installed_wheel_runs_the_demo_and_serves_the_dashboard(installed):
    demo = run(installed, "demo", "--quick", "--no-dashboard", "--runs-dir", "runs")
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "step 5 of 5" in demo.stderr  # the demo's steps are shown
    listed = json.loads(run(installed, "runs", "--runs-dir", "runs", "--json").stdout)
    recipes = sorted(r["recipe"] or "-" for r in listed["runs"])
    assert recipes == ["-", "-", "-", "-", "distill", "qat"] and not listed["broken"]
    cnn = next(r["run"] for r in listed["runs"] if r["arch"] == "cnn" and not r["parent"])
    exported = json.loads((installed["project"] / "runs" / cnn / "exports" / "exports.json")
                          .read_text())  # the demo trained and exported from the wheel
    assert {"tflite-float32", "tflite-int8", "onnx"} <= set(exported["artifacts"])

    port = free_port()
    server = subprocess.Popen([*installed["command"], "dashboard", "--runs-dir", "runs",
                               "--port", str(port), "--headless"],  # the old name still works
                              cwd=installed["project"],
                              env=installed["env"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://localhost:{port}"
        wait_healthy(url, server)
        with chromium_page() as page:
            page.goto(f"{url}/compare")
            page.get_by_role("heading", name="Compare", exact=True).wait_for()
            # the picker starts on the family with the most variants (the CNN's: the demo
            # benchmarked it), so its children's rows are in the table
            page.locator("[role=gridcell]", has_text="qat · tflite-int8").first.wait_for(
                state="attached")
            page.get_by_role("heading", name="latency per runtime", exact=True).wait_for()
    finally:
        server.terminate()
        server.wait(timeout=30)
