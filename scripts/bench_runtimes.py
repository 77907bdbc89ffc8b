"""Batch-1 latency of Keras against the edge runtimes, in one process.

Models: the digits CNN and the text transformer (trained briefly) and the architecture chapter's
24x24x3 CNN (315,722 parameters, random weights: latency does not depend on them). Runtimes: a
Keras call (eager ``model(x)``), ``model.predict``, the same model under ``tf.function``, LiteRT
(float32, float16, int8; 1 and 2 threads) and ONNX Runtime. Prints a table and writes
bench-results/runtimes.json. The target: the best edge runtime >= 100x faster than Keras'
inference call, ``model.predict`` (the eager ``model(x)``, cheaper at batch 1, is reported too);
``int8_vs_float32`` is the int8 latency over the float32 one (above 1: int8 is slower).

    .venv/bin/python scripts/bench_runtimes.py [--calls 300]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerasmodels.report import format_table, write_results  # noqa: E402

TARGET = 100.0


def models(workdir: Path):
    """``(name, keras model, sample inputs)`` for the three benchmark models."""
    import kerasmodels as km

    for arch, dataset in (("cnn", "digits"), ("transformer", "text")):
        run = km.train(arch, dataset, epochs=2, out_dir=workdir, verbose=0)
        yield f"{arch}/{dataset}", run.model, run.dataset().train[0][:200]
    chapter = km.build_model("cnn", input_shape=(24, 24, 3), num_classes=10)
    sample = np.random.RandomState(0).rand(200, 24, 24, 3).astype("float32")
    yield "cnn/24x24x3 (chapter)", chapter, sample


def runtimes(model, sample: np.ndarray, workdir: Path):
    """``(runtime, predict)`` pairs, each taking a batch of one."""
    from kerasmodels.backend import tf
    from kerasmodels.edge import LiteRTModel
    from kerasmodels.exports.onnx import convert as to_onnx
    from kerasmodels.exports.tflite import convert as to_tflite
    from kerasmodels.runtime.onnx import OnnxPredictor

    compiled = tf.function(lambda x: model(x, training=False))
    yield "keras call (eager)", lambda x: model(x, training=False)
    yield "keras predict", lambda x: model.predict(x, verbose=0)
    yield "keras tf.function", lambda x: compiled(tf.constant(x))
    for fmt in ("tflite-float32", "tflite-float16", "tflite-int8"):
        path = workdir / f"{model.name}-{fmt}.tflite"
        path.write_bytes(to_tflite(model, fmt, sample))
        for threads in (1, 2):
            yield f"litert {fmt.removeprefix('tflite-')} x{threads}", \
                LiteRTModel(path, num_threads=threads).predict
    path = workdir / f"{model.name}.onnx"
    path.write_bytes(to_onnx(model))
    yield "onnxruntime x1", OnnxPredictor(path, num_threads=1).predict


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="timed calls per runtime")
    parser.add_argument("--out", default=str(ROOT / "bench-results" / "runtimes.json"))
    args = parser.parse_args(argv)
    from tqdm.auto import tqdm

    from kerasmodels.benchmarks import latency

    rows, summary = [], []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for name, model, sample in models(workdir):
            example = sample[:1]
            model_rows = []
            for runtime, predict in tqdm(list(runtimes(model, sample, workdir)), desc=name,
                                         unit="runtime"):
                calls = min(args.calls, 50) if runtime == "keras predict" else args.calls
                p50, p90 = latency(predict, example, calls=calls)
                model_rows.append({"model": name, "runtime": runtime, "p50_ms": round(p50, 4),
                                   "p90_ms": round(p90, 4)})
            p50 = {r["runtime"]: r["p50_ms"] for r in model_rows}
            edge = {k: v for k, v in p50.items() if k.startswith(("litert", "onnx"))}
            best = min(edge, key=edge.get)
            for row in model_rows:
                row["x_vs_predict"] = round(p50["keras predict"] / row["p50_ms"], 1)
                row["x_vs_eager_call"] = round(p50["keras call (eager)"] / row["p50_ms"], 1)
            rows += model_rows
            speedup = p50["keras predict"] / edge[best]
            summary.append({"model": name, "best_edge_runtime": best, "best_p50_ms": edge[best],
                            "keras_predict_p50_ms": p50["keras predict"],
                            "keras_eager_p50_ms": p50["keras call (eager)"],
                            "x_vs_predict": round(speedup, 1),
                            "x_vs_eager_call": round(p50["keras call (eager)"] / edge[best], 1),
                            "int8_vs_float32": round(p50["litert int8 x1"]
                                                     / p50["litert float32 x1"], 2),
                            "ok": speedup >= TARGET})
            print(format_table(model_rows), flush=True)
    print()
    print(format_table(summary))
    write_results(args.out, calls=args.calls, target_speedup=TARGET, rows=rows, summary=summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
