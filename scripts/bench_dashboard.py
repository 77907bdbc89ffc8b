"""Dashboard speed in a real browser: cold start to the first page, and a Playground prediction.

Starts ``kerasmodels dashboard`` on a runs directory holding a trained, exported digits CNN
family (built first, not timed), then drives Debian's Chromium with Playwright:

- cold start: from launching the dashboard process to the Models page rendered in the browser
  (target under 10 s);
- prediction: from clicking "Random test example" in the Playground to the sentence naming
  that example's prediction by every variant (target under 300 ms), median of N clicks.

Prints the figures and writes bench-results/dashboard.json.

    .venv/bin/python scripts/bench_dashboard.py [--clicks 20]
    .venv/bin/python scripts/bench_dashboard.py --quick     # CI: checks the script works
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerasmodels.report import bench_options, write_results  # noqa: E402
from tests.test_browser import CHROMIUM, free_port  # noqa: E402

FIRST_PAGE_TARGET_S, PREDICTION_TARGET_MS = 10.0, 300.0


def build_family(out: Path, quick: bool = False) -> str:
    """The default digits CNN and its distilled student, each exported to float32 and int8
    TFLite and ONNX (one epoch each when ``quick``); returns the CNN's run id."""
    import kerasmodels as km
    from kerasmodels.formats import format_names

    run = km.train("cnn", "digits", out_dir=out, verbose=0, epochs=1 if quick else None)
    student = km.compress(run, "distill", **({"epochs": 1} if quick else {}))
    for member in (run, student):
        km.export(member, format_names(quick=True))
    return run.id


def run_folder(text: str) -> Path:
    path = Path(text).resolve()
    if not (path / "manifest.json").is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a run folder (no manifest.json)")
    return path


def family_option(parser) -> None:
    parser.add_argument("--family", type=run_folder, metavar="RUN_DIR",
                        help="serve this root run's family (its runs folder) instead of building "
                             "one in a temporary folder")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=20)
    family_option(parser)
    bench_options(parser, ROOT / "bench-results" / "dashboard.json",
                  "1-epoch models, 3 clicks")
    args = parser.parse_args(argv)
    if args.quick:
        args.clicks = 3
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as scratch:
        out = str(args.family.parent if args.family else scratch)
        run_id = args.family.name if args.family else build_family(Path(out), quick=args.quick)
        port = free_port()
        url = f"http://localhost:{port}"
        started = time.perf_counter()
        server = subprocess.Popen([sys.executable, "-m", "kerasmodels", "dashboard",
                                   "--runs-dir", out, "--port", str(port), "--no-browser"],
                                  cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                page = browser.new_page()
                page.set_default_timeout(120_000)
                while True:  # the server is not listening yet: retry until it is
                    try:
                        page.goto(url)
                        break
                    except Exception:  # noqa: BLE001
                        if time.perf_counter() - started > 120:
                            raise
                        time.sleep(0.1)
                page.get_by_role("heading", name="Models", exact=True).wait_for()
                page.locator("[role=gridcell]", has_text=run_id).first.wait_for(
                    state="attached")
                first_page_s = time.perf_counter() - started

                page.goto(f"{url}/playground?run={run_id}")
                page.get_by_text("Test example", exact=True).click()
                sentence = page.get_by_text(re.compile(r"Prediction for example #\d+"))
                sentence.wait_for()  # variants loaded and warmed up (cached from here on)
                variants = page.get_by_text(re.compile(r"^\d+ variants")).inner_text()
                times = []
                for _ in range(args.clicks):
                    before = sentence.inner_text()
                    click = time.perf_counter()
                    page.get_by_role("button", name="Random test example").click()
                    page.wait_for_function(
                        "before => [...document.querySelectorAll('p')].some(p => "
                        "p.innerText.startsWith('Prediction for example #') && "
                        "p.innerText !== before)", arg=before, polling="raf")
                    times.append((time.perf_counter() - click) * 1000)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    result = {"first_page_s": round(first_page_s, 2), "first_page_target_s": FIRST_PAGE_TARGET_S,
              "prediction_ms_median": round(statistics.median(times), 1),
              "prediction_ms_p90": round(sorted(times)[int(0.9 * (len(times) - 1))], 1),
              "prediction_target_ms": PREDICTION_TARGET_MS, "clicks": len(times),
              "variants": variants}
    print(f"first page (cold start, process launch to rendered Models page): "
          f"{result['first_page_s']} s (target < {FIRST_PAGE_TARGET_S} s)")
    print(f"Playground prediction, click to every variant's answer: median "
          f"{result['prediction_ms_median']} ms, p90 {result['prediction_ms_p90']} ms over "
          f"{len(times)} clicks (target < {PREDICTION_TARGET_MS} ms); {variants}")
    write_results(args.out, quick=args.quick, **result)
    met = result["first_page_s"] < FIRST_PAGE_TARGET_S and \
        result["prediction_ms_median"] < PREDICTION_TARGET_MS
    return 0 if args.quick or met else 1  # --quick checks the script, not the figure


if __name__ == "__main__":
    sys.exit(main())
