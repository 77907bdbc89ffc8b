"""L1 against L2 on the digits MLP: sparsity, weight norm and accuracy of the first layer.

Trains the digits MLP three times from the same seed (no regularizer, L1, L2 at the same
strength) and reports, for the first dense layer, the share of weights with |w| < 1e-3, the
kernel's L2 norm and the test accuracy. Prints a table and writes
bench-results/regularizers.json.

    .venv/bin/python scripts/bench_regularizers.py [--epochs 8] [--strength 3e-3]
    .venv/bin/python scripts/bench_regularizers.py --quick     # CI: checks the script works
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerasmodels.report import bench_options, format_table, write_results  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--strength", type=float, default=3e-3)
    bench_options(parser, ROOT / "bench-results" / "regularizers.json",
                  "1 epoch")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs = 1
    import kerasmodels as km

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("none", "l1", "l2"):
            run = km.train("mlp", "digits", epochs=args.epochs, out_dir=tmp, verbose=0,
                           regularizer=None if name == "none" else name,
                           reg_strength=args.strength)
            kernel = run.model.get_layer("dense_0").kernel.numpy()
            rows.append({"regularizer": name, "layer": "dense_0",
                         "shape": "x".join(map(str, kernel.shape)),
                         "near_zero": round(float((np.abs(kernel) < 1e-3).mean()), 4),
                         "l2_norm": round(float(np.sqrt((kernel ** 2).sum())), 3),
                         "test_accuracy": round(run.metrics["test"]["accuracy"], 4)})
    print(format_table(rows))
    write_results(args.out, epochs=args.epochs, strength=args.strength, rows=rows,
                  quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
