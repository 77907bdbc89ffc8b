"""Batch-1 latency of Keras against the edge runtimes, in one process.

Models: the digits CNN and the text transformer (trained briefly) and the architecture chapter's
24x24x3 CNN (315,722 parameters, random weights: latency does not depend on them). Runtimes: a
Keras call (eager ``model(x)``), ``model.predict``, the same model under ``tf.function``, LiteRT
(float32, float16, int8) and ONNX Runtime, each with 1 and 2 threads. The edge runtimes are
timed alone (``runtime_call``: set_tensor, invoke, get_tensor; no numpy quantize around it) and
interleaved in rounds, medians reported (``kerasmodels.benchmarks.latencies``). The target: the
best edge runtime >= 100x faster than Keras' inference call, ``model.predict`` (the eager
``model(x)``, cheaper at batch 1, is reported too); ``float32_over_int8`` above 1 means int8 is
faster. Last, ``km.benchmark``'s float32 TFLite figure is checked against a bare LiteRT loop on
the same file (within 1.3x). The CPU's model and SIMD flags are written with the figures.
Prints tables and writes bench-results/runtimes.json.

    .venv/bin/python scripts/bench_runtimes.py [--calls 300] [--threads 1 2]
    .venv/bin/python scripts/bench_runtimes.py --quick      # CI: checks the script works
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

TARGET = 100.0


def models(workdir: Path, quick: bool = False):
    """``(name, keras model, sample inputs)`` for the three benchmark models (one if quick)."""
    import kerasmodels as km

    for arch, dataset in (("cnn", "digits"), ("transformer", "text"))[:1 if quick else 2]:
        run = km.train(arch, dataset, epochs=2, out_dir=workdir, verbose=0)
        yield f"{arch}/{dataset}", run.model, run.dataset().train[0][:200]
    if quick:
        return
    chapter = km.build_model("cnn", input_shape=(24, 24, 3), num_classes=10)
    sample = np.random.RandomState(0).rand(200, 24, 24, 3).astype("float32")
    yield "cnn/24x24x3 (chapter)", chapter, sample


def runtimes(model, sample: np.ndarray, workdir: Path, threads: tuple[int, ...]):
    """``(runtime, zero-argument call)`` pairs, each running the model on one example.

    Keras' own entry points (``model.predict``, an eager ``model(x)``) are timed as a user
    calls them; every other runtime is timed alone (``runtime_call``: the input already in the
    tensor's dtype, no numpy around it)."""
    from kerasmodels.backend import tf
    from kerasmodels.exports.onnx import convert as to_onnx
    from kerasmodels.exports.tflite import convert as to_tflite
    from kerasmodels.runtime.keras import KerasPredictor
    from kerasmodels.runtime.litert import LiteRTModel
    from kerasmodels.runtime.onnx import OnnxPredictor

    example = sample[:1]
    tensor = tf.constant(example)
    yield "keras predict", lambda: model.predict(example, verbose=0)
    yield "keras call (eager)", lambda: model(tensor, training=False)
    yield "keras tf.function", KerasPredictor(model).runtime_call(example)
    for fmt in ("tflite-float32", "tflite-float16", "tflite-int8"):
        path = workdir / f"{model.name}-{fmt}.tflite"
        path.write_bytes(to_tflite(model, fmt, sample))
        for n in threads:
            yield f"litert {fmt.removeprefix('tflite-')} x{n}", \
                LiteRTModel(path, num_threads=n).runtime_call(example)
    path = workdir / f"{model.name}.onnx"
    path.write_bytes(to_onnx(model))
    for n in threads:
        yield f"onnxruntime x{n}", OnnxPredictor(path, num_threads=n).runtime_call(example)


def independent_loop_ms(path: Path, example: np.ndarray, calls: int) -> float:
    """Median ms of a bare ai-edge-litert loop (set_tensor, invoke, get_tensor) on ``path``:
    no kerasmodels code, the yardstick the benchmark's runtime timer is checked against."""
    import time

    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    detail, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    x = example.astype(detail["dtype"])
    times = []
    for _ in range(calls + 10):
        start = time.perf_counter()
        interpreter.set_tensor(detail["index"], x)
        interpreter.invoke()
        interpreter.get_tensor(out["index"])
        times.append(time.perf_counter() - start)
    return float(np.median(times[10:]) * 1000)


def check_benchmark_timer(workdir: Path, calls: int) -> dict:
    """``km.benchmark``'s float32 TFLite latency against :func:`independent_loop_ms` on the
    same file (target: within 1.3x), alternating the two a few times."""
    import json

    import kerasmodels as km

    run = km.train("cnn", "digits", epochs=1, out_dir=workdir / "family", verbose=0)
    km.export(run, ["tflite-float32"])
    path = run.path / "exports" / "tflite-float32.tflite"
    example = run.dataset().test[0][:1]
    ours, bare = [], []
    for _ in range(3):
        km.benchmark(run, calls=calls, export_missing=False, progress=False)
        rows = json.loads((run.path / "benchmark.json").read_text())["rows"]
        ours.append(next(r["p50_ms"] for r in rows if r["format"] == "tflite-float32"))
        bare.append(independent_loop_ms(path, example, calls))
    ratio = float(np.median(ours) / np.median(bare))
    return {"benchmark_p50_ms": float(np.median(ours)), "bare_loop_p50_ms": float(np.median(bare)),
            "ratio": round(ratio, 3), "ok": 1 / 1.3 <= ratio <= 1.3}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="timed calls per runtime")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    bench_options(parser, ROOT / "bench-results" / "runtimes.json",
                  "one model, 20 calls")
    args = parser.parse_args(argv)
    from tqdm.auto import tqdm

    from kerasmodels.measure import latencies
    from kerasmodels.report import describe_machine, machine

    if args.quick:
        args.calls = 20
    rows, summary = [], []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for name, model, sample in models(workdir, quick=args.quick):
            runners = dict(tqdm(list(runtimes(model, sample, workdir, tuple(args.threads))),
                                desc=f"{name}: load", unit="runtime"))
            slow = {k: runners.pop(k) for k in ("keras predict", "keras call (eager)")}
            figures = latencies(slow, calls=max(10, args.calls // 12), per_round=5)
            figures |= latencies(runners, calls=max(20, args.calls))
            model_rows = [{"model": name, "runtime": runtime, "p50_ms": round(p50, 4),
                           "p90_ms": round(p90, 4)} for runtime, (p50, p90) in figures.items()]
            p50 = {r["runtime"]: r["p50_ms"] for r in model_rows}
            edge = {k: v for k, v in p50.items() if k.startswith(("litert", "onnx"))}
            best = min(edge, key=edge.get)
            for row in model_rows:
                row["x_vs_predict"] = round(p50["keras predict"] / row["p50_ms"], 1)
                row["x_vs_eager_call"] = round(p50["keras call (eager)"] / row["p50_ms"], 1)
            rows += model_rows
            speedup = p50["keras predict"] / edge[best]
            one = min(args.threads)
            summary.append({"model": name, "best_edge_runtime": best, "best_p50_ms": edge[best],
                            "keras_predict_p50_ms": p50["keras predict"],
                            "keras_eager_p50_ms": p50["keras call (eager)"],
                            "x_vs_predict": round(speedup, 1),
                            "x_vs_eager_call": round(p50["keras call (eager)"] / edge[best], 1),
                            "float32_over_int8": round(p50[f"litert float32 x{one}"]
                                                       / p50[f"litert int8 x{one}"], 2),
                            "ok": speedup >= TARGET})
            print(format_table(model_rows), flush=True)
        check = check_benchmark_timer(workdir, args.calls)
    print()
    print(f"on {describe_machine()}")
    print(format_table(summary))
    print(f"km.benchmark's float32 TFLite p50 {check['benchmark_p50_ms']:.4f} ms, a bare "
          f"LiteRT loop {check['bare_loop_p50_ms']:.4f} ms: ratio {check['ratio']}")
    from kerasmodels.runtime.keras import tensorflow_threads

    write_results(args.out, calls=args.calls, threads=args.threads, target_speedup=TARGET,
                  tensorflow_threads=tensorflow_threads(),
                  rows=rows, summary=summary, benchmark_timer_check=check, quick=args.quick,
                  cpu=machine()["cpu"])
    return 0 if args.quick or (check["ok"] and all(s["ok"] for s in summary)) else 1


if __name__ == "__main__":
    sys.exit(main())
