"""Training cost: wall time of ``kerasmodels train`` and km.train's overhead over ``model.fit``.

1. ``kerasmodels train`` with each architecture's defaults, TensorFlow start-up included.
2. The same model, data, batch size, validation and epochs trained by ``km.train`` (progress
   bar, history, divergence guard, resumable state, TensorBoard summaries, weight statistics)
   and by a plain ``model.fit``, interleaved in one process; the figure is the ratio of the
   plain fit's time to km.train's (1.0: no overhead). The target is at least 0.9.

Prints tables and writes bench-results/train.json.

    .venv/bin/python scripts/bench_train.py [--repeats 5]
    .venv/bin/python scripts/bench_train.py --quick      # CI: checks the script works
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerasmodels.report import bench_options, format_table, write_results  # noqa: E402

CASES = [("cnn", "digits"), ("mlp", "digits"), ("rnn", "sequences"), ("transformer", "text"),
         ("linear", "regression")]
OVERHEAD_CASES = [("cnn", "digits"), ("mlp", "digits")]
TARGET_RATIO = 0.9


def cli_wall_times(out: str, cases, epochs: int | None) -> list[dict]:
    rows = []
    for arch, dataset in cases:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "kerasmodels", "train", "--arch", arch,
                        "--dataset", dataset, "--out-dir", out, "--quiet",
                        *(["--epochs", str(epochs)] if epochs else [])], check=True, cwd=ROOT)
        wall = time.perf_counter() - start
        run_dir = max(Path(out).glob(f"{arch}-*"), key=os.path.getmtime)
        m = json.loads((run_dir / "manifest.json").read_text())
        test = m["metrics"]["test"]
        rows.append({"arch": arch, "dataset": dataset, "epochs": m["training"]["epochs_run"],
                     "params": m["arch"]["params"], "wall_s": round(wall, 2),
                     "train_s": m["training"]["seconds"],
                     "test_accuracy": test.get("accuracy"), "test_mae": test.get("mae")})
        print(format_table(rows[-1:]), flush=True)
    return rows


def plain_fit_seconds(arch: str, dataset: str, epochs: int) -> float:
    """``model.fit`` of the model km.train builds, with its optimizer, batch and validation."""
    import kerasmodels as km
    from kerasmodels.modeling import compile_for, seed_everything
    from kerasmodels.optimizers import make_optimizer

    spec = km.get_architecture(arch)
    data = km.load_dataset(dataset)
    seed_everything(0)
    model = km.build_model(arch, data)
    compile_for(model, data.task, make_optimizer("adam", spec.training.get("learning_rate", 1e-3)))
    batch = spec.training.get("batch_size", 32)
    start = time.perf_counter()
    model.fit(*data.train, batch_size=batch, validation_data=data.val,
              validation_batch_size=batch, epochs=epochs, shuffle=True, verbose=0)
    return time.perf_counter() - start


def km_train_seconds(arch: str, dataset: str, epochs: int, out: str) -> float:
    """km.train's own timing of its ``fit`` (the manifest's ``training.seconds``)."""
    import kerasmodels as km

    run = km.train(arch, dataset, epochs=epochs, optimizer="adam", out_dir=out, verbose=1,
                   resume=False)
    return float(run.manifest["training"]["seconds"])


def overhead(out: str, cases, epochs: int, repeats: int) -> list[dict]:
    """Interleaved: km.train and plain fit alternate (which goes first alternates too)."""
    from tqdm.auto import tqdm

    rows = []
    for arch, dataset in cases:
        plain_fit_seconds(arch, dataset, 1)  # warm up TensorFlow and the dataset cache
        km_times, plain_times = [], []
        for i in tqdm(range(repeats), desc=f"{arch}/{dataset}: km.train vs model.fit"):
            order = [("km", km_times), ("plain", plain_times)]
            for kind, times in (order if i % 2 == 0 else order[::-1]):
                times.append(km_train_seconds(arch, dataset, epochs, out) if kind == "km"
                             else plain_fit_seconds(arch, dataset, epochs))
        km_s, plain_s = statistics.median(km_times), statistics.median(plain_times)
        ratio = plain_s / km_s
        rows.append({"arch": arch, "dataset": dataset, "epochs": epochs, "repeats": repeats,
                     "km_train_fit_s": round(km_s, 3), "plain_fit_s": round(plain_s, 3),
                     "plain_over_km": round(ratio, 3), "ok": ratio >= TARGET_RATIO})
        print(format_table(rows[-1:]), flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="interleaved pairs per model")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per overhead fit")
    bench_options(parser, ROOT / "bench-results" / "train.json",
                  "one architecture, 1 epoch, one pair")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.epochs = 1, 1
    with tempfile.TemporaryDirectory() as out:
        rows = cli_wall_times(out, CASES[:1] if args.quick else CASES,
                              1 if args.quick else None)
        ratios = overhead(out, OVERHEAD_CASES[:1] if args.quick else OVERHEAD_CASES,
                          args.epochs, args.repeats)
    print()
    print(format_table(rows))
    print(format_table(ratios))
    write_results(args.out, rows=rows, overhead=ratios, target_ratio=TARGET_RATIO,
                  quick=args.quick)
    return 0 if args.quick or all(r["ok"] for r in ratios) else 1


if __name__ == "__main__":
    sys.exit(main())
