"""Microcontrollers: flash, tensor arena, agreement and latency of every model in TFLM.

Each built-in family is trained with its defaults (linear on the regression data, mlp and cnn on
digits, rnn on sequences, transformer on text, MLPerf Tiny's DS-CNN on the built-in speech), and the digits CNN is compressed by every recipe
the sweep makes int8 files from (prune, cluster 16 and 8, qat, prune+cluster+qat, distill). Each
is exported as ``tflite-micro``: flash bytes (the model, its weights compressed by TFLM's
compressor where that saves flash), the flash before compression, the arena TFLM needs
(measured by bisection with TFLM's own interpreter; compressed weights are decoded into it),
TFLM's top-1 agreement with LiteRT, the test accuracy TFLM gives, and TFLM's time per example
(reference kernels, the runtime alone, interleaved, medians) with the same child exported
without compression beside it (what decoding costs; LiteRT times that uncompressed file, it has
no DECODE op). Families TFLM cannot run are listed with the op it lacks. Then the micro
frontier: ``km.sweep(cnn, target="micro")`` over the sweep's recipes, ranked on flash, arena
and TFLM latency, with the board classes each variant fits. Writes bench-results/micro.json.

    .venv/bin/python scripts/bench_micro.py           # ~15 minutes on 2 cores
    .venv/bin/python scripts/bench_micro.py --quick   # CI: checks the script works
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerasmodels.report import bench_options, format_table, write_results  # noqa: E402

FAMILIES = (("linear", "regression"), ("mlp", "digits"), ("cnn", "digits"),
            ("rnn", "sequences"), ("transformer", "text"), ("ds_cnn", "speech"))
RECIPES = ({"recipe": "prune"}, {"recipe": "cluster"}, {"recipe": "cluster", "clusters": 8},
           {"recipe": "qat"}, {"recipe": "prune+cluster+qat"}, {"recipe": "distill"})
QUICK_RECIPES = ({"recipe": "cluster", "clusters": 8, "epochs": 1},)
# a typical small microcontroller (Cortex-M4/M7 class)
RAM_BYTES, FLASH_BYTES = 256 * 1024, 1024 * 1024


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    bench_options(parser, ROOT / "bench-results" / "micro.json",
                  "the MLP alone, 1 epoch, no compression, 20 calls")
    args = parser.parse_args(argv)
    if args.quick:
        args.calls = 20

    import kerasmodels as km
    from kerasmodels.errors import ExportError
    from kerasmodels.measure import latencies
    from kerasmodels.runtime import micro
    from kerasmodels.runtime.litert import LiteRTModel

    families = (("mlp", "digits"),) if args.quick else FAMILIES
    recipes = QUICK_RECIPES if args.quick else RECIPES
    rows, timed = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        runs, swept = [], None
        for arch, dataset in families:
            run = km.train(arch, dataset, out_dir=tmp, verbose=0,
                           **({"epochs": 1} if args.quick else {}))
            runs.append((f"{arch}/{dataset}", "none", run))
            if arch == ("mlp" if args.quick else "cnn"):
                swept = run
                for spec in recipes:
                    options = {k: v for k, v in spec.items() if k != "recipe"}
                    child = km.compress(run, spec["recipe"], **options)
                    described = spec["recipe"] + "".join(
                        f" {k}={v}" for k, v in options.items() if k != "epochs")
                    runs.append((f"{arch}/{dataset}", described, child))
        for model, recipe, run in runs:
            row = {"model": model, "recipe": recipe}
            try:
                (artifact,) = km.export(run, ["tflite-micro"])
            except ExportError as exc:
                rows.append({**row, "unsupported": str(exc)})
                print(f"{model} {recipe}: {exc}", flush=True)
                continue
            device = artifact.device
            report = device.get("compression") or {}
            x = run.dataset().test[0][:1]
            plain = artifact.path
            if report.get("tensors"):  # the same child without compression, beside it
                plain = Path(tmp) / "plain" / run.id
                shutil.copytree(run.path, plain, ignore=shutil.ignore_patterns("exports"))
                (uncompressed,) = km.export(plain, ["tflite-micro"], compress_weights=False)
                plain = uncompressed.path
                timed[(len(rows), "tflm_uncompressed")] = micro.MicroModel(plain).runtime_call(x)
            timed[(len(rows), "tflm")] = micro.MicroModel(artifact.path).runtime_call(x)
            litert = LiteRTModel(plain / micro.MODEL_FILE, num_threads=1)
            timed[(len(rows), "litert")] = litert.runtime_call(x)
            metric = "accuracy" if "accuracy" in artifact.parity else "mae"
            rows.append({**row, "flash_bytes": device["flash_bytes"],
                         "flash_bytes_uncompressed": report.get("flash_bytes_before",
                                                                device["flash_bytes"]),
                         "compressed_tensors": len(report.get("tensors", [])),
                         "index_bits": sorted({t["bits"] for t in report.get("tensors", [])}),
                         "arena_bytes": device["arena_bytes"],
                         "arena_bytes_uncompressed": device.get("arena_bytes_uncompressed",
                                                                device["arena_bytes"]),
                         "ops": len(device["ops"]),
                         "litert_agreement": round(device["litert_agreement"], 4)
                         if "litert_agreement" in device else None,
                         "litert_max_abs_diff": round(device["litert_max_abs_diff"], 6),
                         "metric": metric, "tflm_test": round(artifact.parity[metric], 4),
                         "fits_256k_ram_1m_flash": device["arena_bytes"] <= RAM_BYTES
                         and device["flash_bytes"] <= FLASH_BYTES})
            print(format_table([rows[-1]]), flush=True)
        for (index, runtime), (p50, _) in latencies(timed, calls=args.calls).items():
            rows[index][f"{runtime}_p50_ms"] = round(p50, 4)
        frontier = km.sweep(swept, target="micro", calls=args.calls, progress=not args.quick,
                            # quick: the parent alone, trained one epoch (its int8 file's
                            # interval is wide)
                            accuracy_budget=0.05 if args.quick else 0.01,
                            **({"recipes": []} if args.quick else {}))
    print(format_table([r for r in rows if "unsupported" not in r]))
    keep = ("recipe", "options", "status", "reason", "flash_bytes", "flash_bytes_uncompressed",
            "arena_bytes", "p50_ms", "val_score", "test_score", "pareto", "boards")
    frontier = {**{k: v for k, v in frontier.items() if k not in ("rows", "pick")},
                "rows": [{k: r.get(k) for k in keep} for r in frontier["rows"]],
                "pick": {k: frontier["pick"].get(k) for k in keep} if frontier["pick"]
                else None}
    write_results(args.out, quick=args.quick, ram_bytes=RAM_BYTES, flash_bytes=FLASH_BYTES,
                  calls=args.calls, rows=rows, frontier=frontier)
    return 0


if __name__ == "__main__":
    sys.exit(main())
