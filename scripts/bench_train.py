"""Wall time of ``kerasmodels train`` with the defaults (TensorFlow start-up included).

Prints a table and writes bench-results/train.json.

    .venv/bin/python scripts/bench_train.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerasmodels.report import format_table, write_results  # noqa: E402

CASES = [("cnn", "digits"), ("mlp", "digits"), ("rnn", "sequences"), ("transformer", "text"),
         ("linear", "regression")]


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for arch, dataset in CASES:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "kerasmodels", "train", "--arch", arch,
                            "--dataset", dataset, "--out-dir", out, "--quiet"], check=True,
                           cwd=ROOT)
            wall = time.perf_counter() - start
            run_dir = max(Path(out).glob(f"{arch}-*"), key=os.path.getmtime)
            m = json.loads((run_dir / "manifest.json").read_text())
            test = m["metrics"]["test"]
            rows.append({"arch": arch, "dataset": dataset, "epochs": m["training"]["epochs_run"],
                         "params": m["arch"]["params"], "wall_s": round(wall, 2),
                         "train_s": m["training"]["seconds"],
                         "test_accuracy": test.get("accuracy"), "test_mae": test.get("mae")})
            print(format_table(rows[-1:]), flush=True)
    print()
    print(format_table(rows))
    write_results(ROOT / "bench-results" / "train.json", rows=rows)

if __name__ == "__main__":
    main()
