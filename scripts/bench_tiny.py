"""MLPerf Tiny's four reference models side by side with their published files.

Each reference model (mlcommons/tiny, ``benchmark/training/``; kerasmodels builds them layer
for layer) is trained on a built-in stand-in at the reference input shape, since the real
datasets cannot be downloaded here: MobileNetV1 (width 0.25) on digits 0 and 1 at 96x96x3 for
visual wake words, ResNet-8 on digits at 32x32x3 for CIFAR-10, DS-CNN on the built-in speech
(49x10 MFCCs, 12 classes) and the dense autoencoder on the built-in machine recordings (640
values). Each is exported as ``tflite-micro`` (full int8, checked against its Keras model), and
the table gives its parameters, multiply-adds, flash bytes beside the published int8 file's
(and the bytes of weights and biases alone, beside the published file's), the arena TFLM needs
(measured), the time per inference in TFLM (reference kernels) and LiteRT (int8, one thread),
the runtime alone, interleaved, medians, and the stand-in's test score (not the real dataset's:
the table says so). Then ``km.sweep`` on each stand-in run with the integer format: the
smallest variant within one point of validation score, and its flash and arena.

Writes bench-results/tiny.json.

    .venv/bin/python scripts/bench_tiny.py           # ~25 minutes on 2 cores
    .venv/bin/python scripts/bench_tiny.py --quick   # CI: ResNet-8 and the autoencoder, 1 epoch,
                                                      # no sweep
    .venv/bin/python scripts/bench_tiny.py --sweeps-from bench-results/tiny.json  # the table
                                                      # again (~10 minutes), the sweeps kept
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerasmodels.report import bench_options, format_table, write_results  # noqa: E402

# The published int8 files (mlcommons/tiny at 1afd2c98, benchmark/training/*/trained_models):
# their bytes, and the bytes of their weights and biases (the flatbuffer's buffers), read once
# from the files; the quality targets are MLPerf Tiny's closed division's.
REFERENCE_COMMIT = "1afd2c9820f795965a6134facd0b4dfae41ef23f"
MODELS = (
    {"task": "visual wake words", "arch": "mobilenet_v1", "dataset": "digits",
     "options": {"image_size": (96, 96), "channels": 3, "classes": [0, 1]}, "epochs": 20,
     "params": 221_794, "file": "visual_wake_words/trained_models/vww_96_int8.tflite",
     "file_bytes": 333_288, "weight_bytes": 219_088, "target": "80% top-1"},
    {"task": "image classification", "arch": "resnet8", "dataset": "digits",
     "options": {"image_size": (32, 32), "channels": 3}, "epochs": 30,
     "params": 78_666, "file": "image_classification/trained_models/pretrainedResnet_quant.tflite",
     "file_bytes": 98_496, "weight_bytes": 78_768, "target": "85% top-1"},
    {"task": "keyword spotting", "arch": "ds_cnn", "dataset": "speech", "options": {},
     "epochs": 30, "params": 24_908,
     "file": "keyword_spotting/trained_models/kws_ref_model.tflite",
     "file_bytes": 53_936, "weight_bytes": 24_392, "target": "90% top-1"},
    {"task": "anomaly detection", "arch": "fc_autoencoder", "dataset": "machines",
     "options": {}, "epochs": 100, "params": 269_992,
     "file": "anomaly_detection/trained_models/ad01_int8.tflite",
     "file_bytes": 276_976, "weight_bytes": 270_896, "target": "AUC 0.85"},
)
QUICK_MODELS = ("resnet8", "fc_autoencoder")


def weight_bytes(path: Path) -> int:
    """The bytes of a ``.tflite`` file's buffers: its weights, biases and constants."""
    from kerasmodels._compat import tflite_schema

    schema = tflite_schema()
    model = schema.Model.GetRootAsModel(path.read_bytes(), 0)
    return sum(model.Buffers(i).DataLength() for i in range(model.BuffersLength()))


def measure(spec: dict, run, timed: dict, index: int) -> dict:
    """The row of one trained model: its micro file and what it costs."""
    import kerasmodels as km
    from kerasmodels.compression.channels import multiply_adds
    from kerasmodels.runtime import micro
    from kerasmodels.runtime.litert import LiteRTModel
    from kerasmodels.tasks import score_of

    (artifact,) = km.export(run, ["tflite-micro"])
    device, metric = artifact.device, score_of(run.record.dataset.task) or "accuracy"
    model_file = artifact.path / micro.MODEL_FILE
    x = run.dataset().test[0][:1]
    timed[(index, "tflm")] = micro.MicroModel(artifact.path).runtime_call(x)
    timed[(index, "litert")] = LiteRTModel(model_file, num_threads=1).runtime_call(x)
    ours = weight_bytes(model_file)
    return {
        "task": spec["task"], "arch": spec["arch"], "input": list(run.input_shape),
        "params": run.record.arch.params, "reference_params": spec["params"],
        "multiply_adds": multiply_adds(run.model),
        "flash_bytes": device["flash_bytes"], "published_bytes": spec["file_bytes"],
        "flash_vs_published": round(device["flash_bytes"] / spec["file_bytes"], 3),
        "weight_bytes": ours, "published_weight_bytes": spec["weight_bytes"],
        "weights_vs_published": round(ours / spec["weight_bytes"], 3),
        "arena_bytes": device["arena_bytes"], "ops": device["ops"],
        "stand_in": run.record.dataset.name, "epochs": run.record.training["epochs_run"],
        "metric": metric, "keras_test": round(run.metrics["test"][metric], 4),
        "int8_test": round(artifact.parity[metric], 4), "target": spec["target"],
        "real_data_quality": "not measured here (no dataset download)",
    }


def swept(spec: dict, run) -> dict:
    """The sweep's smallest int8 variant within the budget, exported for TFLM."""
    import kerasmodels as km

    result = km.sweep(run, formats=["tflite-int8"], calls=20)  # the default budget
    pick = result["pick"]
    out = {"arch": spec["arch"], "metric": result["metric"],
           "parent_val": round(result["parent_val_score"], 4),
           "budget": result["accuracy_budget"], "val_examples": result["val_examples"],
           "variants": sum(1 for r in result["rows"] if r["status"] == "ok"),
           "pick": None}
    if pick is not None:
        (artifact,) = km.export(km.load_run(Path(pick["path"]).parents[1]), ["tflite-micro"])
        out["pick"] = {"recipe": pick["recipe"], "options": pick["options"],
                       "val": round(pick["val_score"], 4), "test": round(pick["test_score"], 4),
                       "val_diff_95": [pick["val_diff"], pick["val_diff_low"],
                                       pick["val_diff_high"]],
                       "flash_bytes": artifact.device["flash_bytes"],
                       "arena_bytes": artifact.device["arena_bytes"]}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--no-sweep", action="store_true", help="the table alone")
    parser.add_argument("--sweeps-from", type=Path, metavar="JSON",
                        help="keep an earlier full run's sweeps (sizes and scores, no times) "
                             "and measure the table again")
    bench_options(parser, ROOT / "bench-results" / "tiny.json",
                  f"{' and '.join(QUICK_MODELS)} for 1 epoch, no sweep, 10 calls")
    args = parser.parse_args(argv)
    if args.quick:
        args.calls = 10

    import kerasmodels as km
    from kerasmodels.measure import latencies

    specs = [m for m in MODELS if not args.quick or m["arch"] in QUICK_MODELS]
    rows, sweeps, timed = [], [], {}
    with tempfile.TemporaryDirectory() as tmp:
        runs = []
        for spec in specs:
            run = km.train(spec["arch"], spec["dataset"], dataset_options=spec["options"],
                           epochs=1 if args.quick else spec["epochs"], out_dir=tmp, verbose=0)
            runs.append(run)
            rows.append(measure(spec, run, timed, len(rows)))
            print(format_table([{k: v for k, v in rows[-1].items() if k != "ops"}]), flush=True)
        for (index, runtime), (p50, _) in latencies(timed, calls=args.calls).items():
            rows[index][f"{runtime}_p50_ms"] = round(p50, 4)
        if args.sweeps_from:
            sweeps = json.loads(args.sweeps_from.read_text())["sweeps"]
        elif not (args.no_sweep or args.quick):
            for spec, run in zip(specs, runs, strict=True):
                sweeps.append(swept(spec, run))
                print(sweeps[-1], flush=True)
    print(format_table([{k: r[k] for k in ("arch", "params", "multiply_adds", "flash_bytes",
                                           "published_bytes", "weights_vs_published",
                                           "arena_bytes", "tflm_p50_ms", "litert_p50_ms")}
                        for r in rows]))
    write_results(args.out, quick=args.quick, reference=f"mlcommons/tiny@{REFERENCE_COMMIT}",
                  calls=args.calls, rows=rows, sweeps=sweeps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
