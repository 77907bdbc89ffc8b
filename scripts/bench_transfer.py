"""Image transfer against scratch: a CNN trained on some classes, fine-tuned to the others.

The source CNN trains on the ``--source`` classes (digits 0-4 by default) with its default
budget; then, for each labelled fraction of the ``--target`` classes (5-9) and each seed,
``km.finetune(..., compare_scratch=True)`` trains the transferred model and the same CNN from
scratch on the same labels for the same epochs, and both test accuracies are kept. Prints
the mean and spread over seeds and writes bench-results/transfer.json.

    .venv/bin/python scripts/bench_transfer.py                   # digits 0-4 -> 5-9, built in
    .venv/bin/python scripts/bench_transfer.py --dataset mnist   # the classic pair (downloads)
    .venv/bin/python scripts/bench_transfer.py --dataset mnist --path mnist.npz
    .venv/bin/python scripts/bench_transfer.py --quick           # CI: checks the script works
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


def classes(text: str) -> list[int]:
    return [int(c) for c in text.split(",")]


def shown(rows: list[dict]) -> list[dict]:
    return [{**r, "gain_pp": f"{r['gain_pp']:+.1f}"} for r in rows]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--path", help="a local copy of an online dataset (mnist.npz, ...)")
    parser.add_argument("--source", type=classes, default=[0, 1, 2, 3, 4])
    parser.add_argument("--target", type=classes, default=[5, 6, 7, 8, 9])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.05, 0.1, 0.25])
    parser.add_argument("--freeze", nargs="+", default=["encoder", "none"])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seeds", type=int, default=3)
    bench_options(parser, ROOT / "bench-results" / "transfer.json",
                  "one fraction, one seed, 1 epoch")
    args = parser.parse_args(argv)
    if args.quick:
        args.fractions, args.freeze, args.epochs, args.seeds = [0.1], ["encoder"], 1, 1

    import kerasmodels as km

    options = {"path": args.path} if args.path else {}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        source = km.train("cnn", args.dataset, dataset_options={**options,
                          "classes": args.source}, out_dir=tmp, verbose=0,
                          epochs=1 if args.quick else None)
        print(f"source: cnn on {args.dataset} classes {args.source}: test accuracy "
              f"{source.metrics['test']['accuracy']:.4f}")
        for fraction in args.fractions:
            scratch: list[float] = []  # same labels, seed and epochs whatever is frozen: once
            for freeze in args.freeze:
                tuned, labels = [], 0
                for seed in range(args.seeds):
                    run = km.finetune(source, args.dataset, freeze=freeze, epochs=args.epochs,
                                      labelled_fraction=fraction, seed=seed,
                                      dataset_options={**options, "classes": args.target},
                                      compare_scratch=len(scratch) < args.seeds, out_dir=tmp)
                    record = run.manifest["finetune"]
                    tuned.append(run.metrics["test"]["accuracy"])
                    if "scratch" in record:
                        scratch.append(record["scratch"]["test"]["accuracy"])
                    labels = record["labelled_examples"]
                rows.append({"fraction": fraction, "labels": labels, "freeze": freeze,
                             "fine_tuned": round(float(np.mean(tuned)), 4),
                             "fine_tuned_sd": round(float(np.std(tuned)), 4),
                             "scratch": round(float(np.mean(scratch)), 4),
                             "scratch_sd": round(float(np.std(scratch)), 4),
                             "gain_pp": round(100 * float(np.mean(tuned) - np.mean(scratch)), 1)})
                print(format_table(shown(rows[-1:])), flush=True)
    print(format_table(shown(rows)))
    wins = sum(r["gain_pp"] > 0 for r in rows)
    print(f"transfer beats scratch in {wins} of {len(rows)} settings "
          f"({args.seeds} seeds each, {args.epochs} epochs, same labels for both)")
    write_results(args.out, quick=args.quick, dataset=args.dataset,
                  source_classes=args.source, target_classes=args.target, epochs=args.epochs,
                  seeds=args.seeds, source_accuracy=source.metrics["test"]["accuracy"],
                  rows=rows, transfer_wins=wins)
    return 0


if __name__ == "__main__":
    sys.exit(main())
