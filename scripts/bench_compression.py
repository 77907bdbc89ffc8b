"""Every compression recipe on the default digits CNN, and every export format of it.

Trains the default digits CNN, then compresses it with each recipe's defaults (and 2:4
pruning), exports each child to float32 and int8 TFLite (the QAT children to int8 only) and
measures the files through LiteRT on the test split. Then the parent's every format through
``km.benchmark`` (the runtime alone, 1 thread), the distilled student against the same student
trained alone, and QAT against post-training int8 on the sequence LSTM. Prints tables and
writes bench-results/compression.json.

    .venv/bin/python scripts/bench_compression.py
    .venv/bin/python scripts/bench_compression.py --quick     # CI: checks the script works
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerasmodels.report import bench_options, format_table, write_results  # noqa: E402

CASES = [("prune", {}), ("prune", {"structured_2_4": True}), ("cluster", {}), ("distill", {}),
         ("qat", {}), ("prune+qat", {}), ("cluster+qat", {}), ("prune+cluster+qat", {})]
QUICK_CASES = [("prune", {"epochs": 1}), ("qat", {"epochs": 1})]


def through_litert(member, fmt: str) -> dict:
    import kerasmodels as km

    (artifact,) = km.export(member, [fmt])
    return {"gzip_bytes": artifact.gzip_bytes, "accuracy": artifact.parity["accuracy"]}


def recipes(parent, cases) -> list[dict]:
    import kerasmodels as km
    from kerasmodels.layout import QAT_STATE

    rows = [{"recipe": "parent", "options": "", "seconds": None,
             **{f"float32_{k}": v for k, v in through_litert(parent, "tflite-float32").items()},
             **{f"int8_{k}": v for k, v in through_litert(parent, "tflite-int8").items()},
             "params": parent.manifest["arch"]["params"], "sparsity": None}]
    for recipe, options in cases:
        child = km.compress(parent, recipe, **options)
        report = child.manifest["compression"]
        row = {"recipe": recipe, "options": ", ".join(f"{k}={v}" for k, v in options.items()),
               "seconds": report.get("seconds"), "params": child.manifest["arch"]["params"],
               "sparsity": report.get("sparsity")}
        if not (child.path / QAT_STATE).is_file():
            row |= {f"float32_{k}": v for k, v in through_litert(child, "tflite-float32").items()}
        row |= {f"int8_{k}": v for k, v in through_litert(child, "tflite-int8").items()}
        if recipe == "distill":
            row["student_alone_accuracy"] = report["student_alone"]["test"]["accuracy"]
            row["teacher_accuracy"] = parent.metrics["test"]["accuracy"]
        rows.append(row)
        print(format_table([{k: v for k, v in row.items() if k != "sparsity"}]), flush=True)
    baseline = rows[0]["float32_gzip_bytes"]
    for row in rows:
        row["int8_x_smaller"] = round(baseline / row["int8_gzip_bytes"], 1)
    return rows


def formats(parent, names: tuple[str, ...] | None = None, calls: int = 200) -> list[dict]:
    """Every format of the parent (or ``names``): bytes, flash and RAM, agreement, accuracy,
    1-thread latency."""
    import kerasmodels as km
    from kerasmodels.formats import format_names

    artifacts = {a.format: a for a in km.export(parent, names or format_names())}
    bench = {(r["format"]): r for r in km.benchmark(parent, threads=(1,), export_missing=False,
                                                     progress=False, calls=calls)
             if r["run"] == parent.id}
    rows = []
    for fmt, r in bench.items():
        artifact = artifacts.get(fmt)
        rows.append({"format": fmt, "runtime": r["runtime"], "bytes": r["bytes"],
                     "gzip_bytes": r["gzip_bytes"], "flash_bytes": r["flash_bytes"],
                     "ram_bytes": r["ram_bytes"],
                     "top1_agreement": artifact.parity["top1_agreement"] if artifact else None,
                     "accuracy": r["accuracy"], "p50_ms": r["p50_ms"], "threads": r["threads"]})
    return rows


def lstm_qat(out: Path, epochs: int | None, qat_epochs: int) -> dict:
    """QAT against post-training int8 on the sequence LSTM (its LSTM layers stay float)."""
    import kerasmodels as km

    run = km.train("rnn", "sequences", epochs=epochs, out_dir=out, verbose=0)
    ptq = through_litert(run, "tflite-int8")["accuracy"]
    child = km.compress(run, "qat", epochs=qat_epochs)
    qat = through_litert(child, "tflite-int8")["accuracy"]
    return {"keras_accuracy": run.metrics["test"]["accuracy"], "ptq_int8_accuracy": ptq,
            "qat_int8_accuracy": qat, "qat_epochs": qat_epochs,
            "quantized_layers": child.manifest["compression"].get("quantized_layers")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_options(parser, ROOT / "bench-results" / "compression.json",
                  "1-epoch models, two recipes, three formats, no LSTM")
    args = parser.parse_args(argv)
    import kerasmodels as km

    epochs = 1 if args.quick else None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        parent = km.train("cnn", "digits", epochs=epochs, out_dir=out / "cnn", verbose=0)
        rows = recipes(parent, QUICK_CASES if args.quick else CASES)
        from kerasmodels.formats import format_names

        format_rows = formats(parent, format_names(quick=True) if args.quick else None,
                              calls=20 if args.quick else 200)
        lstm = None if args.quick else lstm_qat(out / "rnn", epochs, 3)
        parent_info = {"epochs": parent.manifest["training"]["epochs_run"],
                       "params": parent.manifest["arch"]["params"],
                       "test_accuracy": parent.metrics["test"]["accuracy"],
                       "test_examples": len(parent.dataset().test[1])}
    print()
    print(format_table([{k: v for k, v in r.items() if k != "sparsity"} for r in rows]))
    print(format_table(format_rows))
    if lstm:
        print(f"LSTM: int8 after QAT {lstm['qat_int8_accuracy']:.4f}, post-training "
              f"{lstm['ptq_int8_accuracy']:.4f}")
    write_results(args.out, parent=parent_info, recipes=rows, formats=format_rows, lstm=lstm,
                  quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
