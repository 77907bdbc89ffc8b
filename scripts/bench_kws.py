"""Keyword spotting end to end: DS-CNN on the built-in speech set, every format, and a
microcontroller.

``km.train("ds_cnn", "speech")`` with its defaults (MLPerf Tiny's reference model and features:
49x10 MFCCs, 12 classes), exported to every TFLite row, ONNX and ``tflite-micro``. Writes each
format's test accuracy and agreement with Keras, the parameters (MLPerf Tiny's reference:
24,908), the int8 file and its flash beside MLPerf Tiny's published ~53 KB, TFLM's measured
arena, TFLM's agreement with LiteRT, and the time per inference of LiteRT (float32, int8) and
TFLM (reference kernels) on one example, the runtime alone, interleaved, medians; and, from the
WAV files of the test speakers, the int8 file's accuracy through ``EdgeModel`` (features by
``features.tflite`` in LiteRT) and the feature model's own time per second of sound.
Writes bench-results/kws.json.

    .venv/bin/python scripts/bench_kws.py           # ~4 minutes on 2 cores
    .venv/bin/python scripts/bench_kws.py --quick   # CI: 3 epochs, 3 formats, 20 calls
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerasmodels.report import bench_options, format_table, write_results  # noqa: E402

FORMATS = ("tflite-float32", "tflite-float16", "tflite-dynamic", "tflite-int8", "tflite-micro",
           "tflite-audio", "onnx")
QUICK_FORMATS = ("tflite-float32", "tflite-int8", "tflite-micro", "tflite-audio")
# MLPerf Tiny's keyword-spotting reference (mlcommons/tiny, benchmark/training/keyword_spotting)
REFERENCE = {"params": 24_908, "int8_kb": 53, "target_top1": 0.90}
QUICK_EPOCHS = 3


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--runs-dir", type=Path,
                        help="keep the trained and exported run there (default: a temporary "
                             "folder, removed)")
    bench_options(parser, ROOT / "bench-results" / "kws.json",
                  f"{QUICK_EPOCHS} epochs, {', '.join(QUICK_FORMATS)}, 20 calls")
    args = parser.parse_args(argv)
    if args.quick:
        args.calls = 20

    import numpy as np

    import kerasmodels as km
    from kerasmodels.data.speech import speech_folder
    from kerasmodels.edge import EdgeModel
    from kerasmodels.layout import FEATURES
    from kerasmodels.measure import latencies
    from kerasmodels.runtime import micro
    from kerasmodels.runtime.litert import LiteRTModel

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        run = km.train("ds_cnn", "speech", out_dir=args.runs_dir or tmp, verbose=0,
                       **({"epochs": QUICK_EPOCHS} if args.quick else {}))
        trained = time.perf_counter() - started
        artifacts = {a.format: a for a in km.export(
            run, list(QUICK_FORMATS if args.quick else FORMATS), on_error="skip")}
        exports = run.path / "exports"
        formats = [{"format": name, "bytes": a.bytes,
                "accuracy": round(a.parity["accuracy"], 4) if "accuracy" in a.parity else None,
                    "agreement": round(a.parity["top1_agreement"], 4)}
                   for name, a in artifacts.items()]
        device = artifacts["tflite-micro"].device
        x = run.dataset().test[0][:1]
        timed = {"litert float32": LiteRTModel(exports / "tflite-float32.tflite", num_threads=1)
                 .runtime_call(x),
                 "litert int8": LiteRTModel(exports / "tflite-int8.tflite", num_threads=1)
                 .runtime_call(x),
                 "tflm int8": micro.MicroModel(artifacts["tflite-micro"].path).runtime_call(x)}
        sound = np.random.RandomState(0).uniform(-0.5, 0.5, (1, 16_000)).astype("float32")
        timed["features (1 s of sound)"] = LiteRTModel(exports / FEATURES, num_threads=1) \
            .runtime_call(sound)
        p50 = {name: round(t, 4) for name, (t, _) in latencies(timed, calls=args.calls).items()}
        # the test speakers' WAV files, through EdgeModel as a device runs them
        root = speech_folder(progress=False)
        edge = EdgeModel(exports / "tflite-int8.tflite")
        names = (root / "testing_list.txt").read_text().split()
        kept = [n for n in names if n.split("/")[0] in edge.labels]
        said = edge.classify([root / n for n in kept])
        wav_accuracy = float(np.mean([s == n.split("/")[0] for s, n in zip(said, kept,
                                                                          strict=True)]))
        metrics = run.metrics["test"]
        features_bytes = (exports / FEATURES).stat().st_size
    int8 = artifacts["tflite-int8"]
    result = {
        "arch": "ds_cnn", "dataset": "speech", "epochs": run.record.training["epochs_run"],
        "train_s": round(trained, 1), "params": run.manifest["arch"]["params"],
        "classes": run.record.dataset.labels, "reference": REFERENCE,
        "keras_test_accuracy": round(metrics["accuracy"], 4),
        "int8_minus_keras_pp": round(100 * (int8.parity["accuracy"] - metrics["accuracy"]), 2),
        "int8_bytes": int8.bytes, "micro_flash_bytes": device["flash_bytes"],
        "micro_arena_bytes": device["arena_bytes"],
        "tflm_litert_agreement": round(device["litert_agreement"], 4),
        "features_bytes": features_bytes, "wav_keywords": len(kept), "wav_int8_accuracy": round(wav_accuracy, 4),
        "formats": formats, "p50_ms": p50, "calls": args.calls,
        **({"run": str(run.path)} if args.runs_dir else {}),
    }
    print(format_table(formats))
    print(format_table([{"runtime": k, "p50_ms": v} for k, v in p50.items()]))
    print(f"params {result['params']:,} (reference {REFERENCE['params']:,}); Keras test "
          f"{result['keras_test_accuracy']:.4f}, int8 {result['int8_minus_keras_pp']:+.2f} pp; "
          f"int8 flash {device['flash_bytes']:,} B, arena {device['arena_bytes']:,} B; TFLM agrees "
          f"with LiteRT on {device['litert_agreement']:.2%}; int8 from WAV files "
          f"{wav_accuracy:.4f} on {len(kept)} keyword clips")
    write_results(args.out, quick=args.quick, **result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
