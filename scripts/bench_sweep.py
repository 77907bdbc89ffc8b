"""Wall time of a full sweep of the digits CNN (``kerasmodels sweep``), and its table.

Trains the default digits CNN first (not timed), then times ``kerasmodels sweep RUN --budget
0.01`` end to end, TensorFlow start-up included. Prints the table and writes
bench-results/sweep.json; the target is under 5 minutes on a 2-core machine.

    .venv/bin/python scripts/bench_sweep.py
    .venv/bin/python scripts/bench_sweep.py --quick     # CI: checks the script works
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerasmodels.report import bench_options, format_table, write_results  # noqa: E402

TARGET_S = 300


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_options(parser, ROOT / "bench-results" / "sweep.json",
                  "a 1-epoch model, the prune recipe only")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as out:
        if args.quick:  # a 1-epoch model and one short recipe, in this process
            import kerasmodels as km

            run = km.train("cnn", "digits", epochs=1, out_dir=out, verbose=0).path
            start = time.perf_counter()
            km.sweep(run, accuracy_budget=0.01, recipes=[{"recipe": "prune", "epochs": 1}],
                     calls=20, progress=False)
        else:
            subprocess.run([sys.executable, "-m", "kerasmodels", "train", "--arch", "cnn",
                            "--out-dir", out, "--quiet"], check=True, cwd=ROOT)
            (run,) = Path(out).iterdir()
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "kerasmodels", "sweep", str(run), "--budget",
                            "0.01"], check=True, cwd=ROOT)
        wall = time.perf_counter() - start
        result = json.loads((run / "sweep.json").read_text())
    columns = ["recipe", "options", "format", "gzip_bytes", "x_smaller", "val_accuracy",
               "val_diff_low", "test_accuracy", "p50_ms", "pareto"]
    print(format_table(result["rows"], columns))
    pick = result["pick"]
    print(f"sweep wall time {wall:.1f} s (target < {TARGET_S} s); pick {pick['recipe']} "
          f"{pick['format']}: {pick['x_smaller']}x smaller, chosen on validation "
          f"{pick['val_accuracy']:.4f} against {result['parent_val_accuracy']:.4f} (interval "
          f"[{pick['val_diff_low']:+.4f}, {pick['val_diff_high']:+.4f}]); test "
          f"{pick['test_accuracy']:.4f} against {result['parent_accuracy']:.4f}")
    write_results(args.out, quick=args.quick, wall_s=round(wall, 1),
                  target_s=TARGET_S, ok=wall < TARGET_S, pick=pick,
                  parent_accuracy=result["parent_accuracy"],
                  parent_val_accuracy=result["parent_val_accuracy"],
                  val_examples=result["val_examples"], interval=result["interval"],
                  rows=result["rows"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
