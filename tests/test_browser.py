"""The dashboard in a real browser: Debian's Chromium (Playwright) against a real
``kerasmodels dashboard`` on localhost. Saves a screenshot of every page in a temporary folder;
``bash scripts/refresh_screenshots.sh`` runs these tests with ``KERASMODELS_SCREENSHOTS`` set to
docs/screenshots/ to refresh the docs' (docs/dashboard.md)."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
SHOTS_ENV = "KERASMODELS_SCREENSHOTS"
SHOTS = Path()  # set per module by the screenshots fixture


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the dashboard exited: {process.stdout.read()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"the dashboard did not answer on {url} within {timeout} s")


def start_dashboard(runs_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "kerasmodels", "dashboard", "--runs-dir", str(runs_dir),
         "--port", str(port), "--no-browser"], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    url = f"http://localhost:{port}"
    wait_healthy(url, process)
    return process, url


@contextlib.contextmanager
def chromium_page():
    """A page of Debian's chromium (Playwright), 1400x1000, two minutes per wait."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), "Debian's chromium is needed: bash scripts/setup.sh"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(120_000)
        try:
            yield page
        finally:
            browser.close()


def test_streamlit_run_apps_dashboard_serves_the_packaged_dashboard(dashboard_runs, cnn_run,
                                                                   tmp_path):
    """`streamlit run apps/dashboard.py`, Streamlit's own way to run an app (and how its hosts
    deploy one): the packaged dashboard, every page reachable from its navigation."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "apps/dashboard.py", "--server.port",
         str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env={**os.environ, "KERASMODELS_RUNS_DIR": str(dashboard_runs)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://localhost:{port}"
        wait_healthy(url, process)
        with chromium_page() as page:
            page.goto(url)
            heading(page, "Models").wait_for()
            page.locator("[role=gridcell]", has_text=cnn_run.id).first.wait_for(
                state="attached")  # the runs folder it was given
            page.get_by_role("link", name="Compare").click()
            heading(page, "Compare").wait_for()
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module", autouse=True)
def screenshots(tmp_path_factory) -> Path:
    """A temporary folder, never tracked files (``KERASMODELS_SCREENSHOTS`` names another)."""
    global SHOTS
    wanted = os.environ.get(SHOTS_ENV)
    SHOTS = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    return SHOTS


@pytest.fixture(scope="module")
def server(dashboard_runs, cnn_run):
    assert Path(CHROMIUM).is_file(), "Debian's chromium is needed: bash scripts/setup.sh"
    process, url = start_dashboard(dashboard_runs)
    yield url, dashboard_runs, cnn_run.id
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def page(server):
    with chromium_page() as page:
        yield page


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(1500)  # let charts finish drawing
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    assert (SHOTS / f"{name}.png").stat().st_size > 10_000


def heading(page, text: str):
    return page.get_by_role("heading", name=text, exact=True)


def open_page(page, url: str, path: str, title: str, run: str | None = None) -> None:
    page.goto(f"{url}/{path}" + (f"?run={run}" if run else ""))
    heading(page, title).wait_for()


def test_open_train_find_compare_and_predict(server, page):
    url, runs, cnn_id = server
    open_page(page, url, "", "Models")
    # the table lists it (glide-data-grid keeps its cells in an accessible, hidden grid)
    page.locator("[role=gridcell]", has_text=cnn_id).first.wait_for(state="attached")
    shoot(page, "models")

    page.get_by_role("link", name="Train").click()
    heading(page, "Train").wait_for()
    epochs = page.get_by_role("spinbutton", name="Epochs")
    epochs.fill("2")
    epochs.press("Enter")
    page.get_by_role("button", name="Train", exact=True).click()
    saved = page.get_by_text(re.compile(r"Saved mlp-digits-\d{8}-\d{6}"))
    saved.wait_for(timeout=300_000)
    run_id = re.search(r"mlp-digits-\d{8}-\d{6}", saved.inner_text()).group(0)
    assert (runs / run_id / "model.keras").is_file()
    shoot(page, "train")

    page.get_by_role("link", name="Open it in Models").click()
    heading(page, run_id).wait_for()  # the new run's own section

    open_page(page, url, "compare", "Compare", run=cnn_id)
    heading(page, "latency per runtime").wait_for()
    shoot(page, "compare")

    open_page(page, url, "playground", "Playground", run=cnn_id)
    page.get_by_text("Test example", exact=True).click()
    page.get_by_role("button", name="Random test example").click()
    page.get_by_text(re.compile(r"Prediction for example #\d+: \d")).wait_for()
    page.get_by_text("all variants agree").or_(page.get_by_text("the variants say")).wait_for()
    shoot(page, "playground")


def test_draw_a_digit(server, page):
    url, _, cnn_id = server
    open_page(page, url, "playground", "Playground", run=cnn_id)
    canvas = page.locator("canvas").first
    canvas.wait_for()
    box = canvas.bounding_box()
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + 30)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x, box["y"] + 30 + step * (box["height"] - 60) / 10)
    page.mouse.up()
    page.get_by_text(re.compile(r"Prediction: \d")).wait_for()


def test_lab_and_compress_pages_render(server, page):
    url, _, cnn_id = server
    open_page(page, url, "lab", "Optimizer lab")
    page.locator("canvas, svg.marks").first.wait_for()
    shoot(page, "lab")
    open_page(page, url, "compress", "Compress & export", run=cnn_id)
    page.get_by_role("button", name="Start").wait_for()
    shoot(page, "compress")


def test_bad_uploads_show_messages_and_the_app_keeps_working(server, page, tmp_path):
    url, _, cnn_id = server
    open_page(page, url, "playground", "Playground", run=cnn_id)
    page.get_by_text("Upload an image", exact=True).click()
    text_file = tmp_path / "notes.txt"
    text_file.write_text("this is not an image")
    page.locator("input[type=file]").set_input_files(str(text_file))
    page.get_by_text("not an image this tool can read").wait_for()
    page.get_by_text("Test example", exact=True).click()
    page.get_by_role("button", name="Random test example").click()
    page.get_by_text(re.compile(r"Prediction for example #\d+")).wait_for()

    open_page(page, url, "train", "Train")
    page.get_by_label("Dataset").click()
    page.get_by_role("option", name="Upload a CSV…").click()
    csv = tmp_path / "no-target.csv"
    csv.write_text("a,b,c\n" + "\n".join(f"{i},{i * 2},{i % 3}" for i in range(60)))
    page.locator("input[type=file]").set_input_files(str(csv))
    page.get_by_text(csv.name).wait_for()
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("has no column 'label'").wait_for()


def healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=15) as answer:
        return answer.status == 200


def test_exports_that_crash_underneath_are_messages_and_the_server_lives_on(
        server, page, gru_run, any_length_gru_run, transformer_run):
    """From the Compress page: the GRU's int8 file is made and checked; the any-length GRU's
    int8 conversion kills its worker process, and the page says so while the server keeps
    answering. Compare benchmarks that family (its failed format a row with the reason), and
    the transformer, a run this server only ever loaded, predicts in the Playground."""
    import shutil

    url, runs, _ = server
    for run in (gru_run, any_length_gru_run):
        shutil.copytree(run.path, runs / run.id, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("exports", "benchmark.*", "sweep.json"))
    open_page(page, url, "compress", "Compress & export", run=gru_run.id)
    page.get_by_role("button", name="Start").click()  # the quick formats, int8 among them
    page.get_by_text("Exported 3 file(s)").wait_for()
    assert (runs / gru_run.id / "exports" / "tflite-int8.tflite").is_file()

    open_page(page, url, "compress", "Compress & export", run=any_length_gru_run.id)
    page.get_by_role("button", name="Start").click()
    page.get_by_text(re.compile("tflite-int8: the converter was killed by SIGSEGV")).wait_for()
    page.get_by_text("Exported 2 file(s)").wait_for()  # float32 and ONNX
    shoot(page, "compress-crash")
    assert healthy(url)

    open_page(page, url, "compare", "Compare", run=any_length_gru_run.id)
    page.get_by_role("button", name="Benchmark the family now").click()
    heading(page, "latency per runtime").wait_for()
    page.locator("[role=gridcell]", has_text="converter failed").first.wait_for(state="attached")
    assert healthy(url)

    open_page(page, url, "playground", "Playground", run=transformer_run.id)
    page.get_by_text("Test example", exact=True).click()
    page.get_by_role("button", name="Random test example").click()
    page.get_by_text(re.compile(r"Prediction for example #\d+: \w")).wait_for()
    assert healthy(url)


def test_import_a_model_from_the_browser_and_refuse_a_hostile_file(server, page, tmp_path):
    """The Import page makes a run of an uploaded .keras file through km.import_model; a
    file whose Lambda names pydoc.pipepager (a shell command) is refused with the reason and
    its command never runs."""
    from kerasmodels.backend import keras
    from tests.test_security import appears, append_lambda, rewrite_config

    url, runs, _ = server
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    mine = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(
        keras.layers.Flatten()(inputs)), name="mine")
    mine.save(tmp_path / "mine.keras")
    open_page(page, url, "importing", "Import your model")
    page.locator("input[type=file]").set_input_files(str(tmp_path / "mine.keras"))
    page.get_by_role("button", name="Import", exact=True).click()
    imported = page.get_by_text(re.compile(r"Imported mine-digits-\d{8}-\d{6}-import"))
    imported.wait_for()
    run_id = re.search(r"mine-digits-\d{8}-\d{6}-import", imported.inner_text()).group(0)
    assert (runs / run_id / "model.keras").is_file()
    shoot(page, "import")

    marker = tmp_path / "marker"
    hostile = tmp_path / "evil.keras"
    mine.save(hostile)
    rewrite_config(hostile, append_lambda(marker))
    open_page(page, url, "importing", "Import your model")
    page.locator("input[type=file]").set_input_files(str(hostile))
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_text(re.compile("holds a Lambda layer 'innocent'")).wait_for()
    assert not appears(marker, seconds=2)
    assert healthy(url)
