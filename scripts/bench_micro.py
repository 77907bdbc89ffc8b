"""Microcontrollers: flash, tensor arena, agreement and latency of every model in TFLM.

Each built-in family is trained with its defaults (linear on the regression data, mlp and cnn on
digits, rnn on sequences, transformer on text, MLPerf Tiny's DS-CNN on the built-in speech), and the digits CNN is compressed by every recipe
the sweep makes int8 files from (prune, cluster, qat, prune+cluster+qat, distill). Each is
exported as ``tflite-micro``: flash bytes (the model), the arena TFLM needs (measured by
bisection with TFLM's own interpreter), TFLM's top-1 agreement with LiteRT on the same file,
the test accuracy TFLM gives, and TFLM's time per example (reference kernels, the runtime
alone, interleaved with LiteRT's on the same file, medians). Families TFLM cannot run are listed
with the op it lacks. Writes bench-results/micro.json.

    .venv/bin/python scripts/bench_micro.py           # ~10 minutes on 2 cores
    .venv/bin/python scripts/bench_micro.py --quick   # CI: checks the script works
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerasmodels.report import bench_options, format_table, write_results  # noqa: E402

FAMILIES = (("linear", "regression"), ("mlp", "digits"), ("cnn", "digits"),
            ("rnn", "sequences"), ("transformer", "text"), ("ds_cnn", "speech"))
RECIPES = ("prune", "cluster", "qat", "prune+cluster+qat", "distill")
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
    recipes = () if args.quick else RECIPES
    rows, timed = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        runs = []
        for arch, dataset in families:
            run = km.train(arch, dataset, out_dir=tmp, verbose=0,
                           **({"epochs": 1} if args.quick else {}))
            runs.append((f"{arch}/{dataset}", "none", run))
            if arch == "cnn":
                runs += [(f"{arch}/{dataset}", recipe, km.compress(run, recipe))
                         for recipe in recipes]
        for model, recipe, run in runs:
            row = {"model": model, "recipe": recipe}
            try:
                (artifact,) = km.export(run, ["tflite-micro"])
            except ExportError as exc:
                rows.append({**row, "unsupported": str(exc)})
                print(f"{model} {recipe}: {exc}", flush=True)
                continue
            device = artifact.device
            x = run.dataset().test[0][:1]
            tflm = micro.MicroModel(artifact.path)
            litert = LiteRTModel(artifact.path / micro.MODEL_FILE, num_threads=1)
            timed[(len(rows), "tflm")] = tflm.runtime_call(x)
            timed[(len(rows), "litert")] = litert.runtime_call(x)
            metric = "accuracy" if "accuracy" in artifact.parity else "mae"
            rows.append({**row, "flash_bytes": device["flash_bytes"],
                         "arena_bytes": device["arena_bytes"], "ops": len(device["ops"]),
                         "litert_agreement": round(device["litert_agreement"], 4),
                         "metric": metric, "tflm_test": round(artifact.parity[metric], 4),
                         "fits_256k_ram_1m_flash": device["arena_bytes"] <= RAM_BYTES
                         and device["flash_bytes"] <= FLASH_BYTES})
            print(format_table([rows[-1]]), flush=True)
        for (index, runtime), (p50, _) in latencies(timed, calls=args.calls).items():
            rows[index][f"{runtime}_p50_ms"] = round(p50, 4)
    print(format_table([r for r in rows if "unsupported" not in r]))
    write_results(args.out, quick=args.quick, ram_bytes=RAM_BYTES, flash_bytes=FLASH_BYTES,
                  calls=args.calls, rows=rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
