"""The benchmark table: every run of a family x every exported format x runtime.

Each row measures, through that runtime: test accuracy (or MAE), batch-1 latency (p50, p90 of
the runtime alone: every variant's ``runtime_call``, timed interleaved by :func:`latencies`)
and batch throughput (through ``predict``, numpy included), next to the model's params, file
bytes, gzip bytes and weight sparsity. ``threads`` is the runtime's thread count (TensorFlow's
is process-wide: every core unless set).
Written to ``<root run>/benchmark.json`` and ``benchmark.csv``.

>>> import kerasmodels as km
>>> rows = km.benchmark("saved_models/cnn-digits-...")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from kerasmodels.errors import HyperparameterError, check_positive
from kerasmodels.runs import Run, list_runs, load_run, read_json, write_json

COLUMNS = ("run", "variant", "format", "runtime", "threads", "params", "bytes", "gzip_bytes",
           "sparsity", "accuracy", "mae", "p50_ms", "p90_ms", "throughput")


def family(run: Run) -> list[Run]:
    """The root of ``run``'s family (follow ``parent``) and all its descendants, root first."""
    runs = {r.id: r for r in list_runs(run.path.parent)}
    runs.setdefault(run.id, run)

    def root_of(r: Run) -> str:
        seen = set()
        while r.parent and r.parent in runs and r.id not in seen:
            seen.add(r.id)
            r = runs[r.parent]
        return r.id

    root = root_of(run)
    members = [r for r in runs.values() if root_of(r) == root]
    return sorted(members, key=lambda r: (r.id != root, r.id))


def latencies(runners: dict[Any, Callable[[], Any]], *, calls: int = 200, per_round: int = 10,
              warmup: int = 5) -> dict[Any, tuple[float, float]]:
    """p50 and p90 wall time (ms) of ``calls`` calls of each zero-argument runner, interleaved.

    Every round times ``per_round`` calls of each runner in turn (the order rotates between
    rounds), so that a noisy neighbour or a frequency change hits all of them alike; the
    figures are medians over all rounds. Pass each predictor's ``runtime_call(example)`` to
    time the runtime alone, not the numpy around it.

    >>> figures = latencies({"noop": lambda: None}, calls=6, per_round=3)
    >>> sorted(figures)
    ['noop']
    """
    check_positive("calls", calls, integer=True)
    check_positive("per_round", per_round, integer=True)
    keys = list(runners)
    for key in keys:
        for _ in range(warmup):
            runners[key]()
    samples: dict[Any, list[float]] = {key: [] for key in keys}
    clock = time.perf_counter
    for r in range(-(-calls // per_round)):
        for key in keys[r % len(keys):] + keys[:r % len(keys)]:
            run, times = runners[key], samples[key]
            for _ in range(per_round):
                start = clock()
                run()
                times.append(clock() - start)
    return {key: tuple(float(v) for v in np.percentile(times, [50, 90]) * 1000)
            for key, times in samples.items()}


def throughput(predict, x: np.ndarray, seconds: float = 0.5) -> float:
    """Examples per second of ``predict`` over the whole batch ``x``, repeated for ``seconds``."""
    predict(x)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        predict(x)
        count += len(x)
    return count / (time.perf_counter() - start)


def quality(outputs: np.ndarray, y: np.ndarray, task: str) -> dict[str, float | None]:
    if task == "classification":
        return {"accuracy": float((outputs.argmax(-1) == y).mean()), "mae": None}
    return {"accuracy": None, "mae": float(np.abs(outputs.ravel() - y.ravel()).mean())}


def sparsity(model) -> float:
    """Fraction of kernel weights that are exactly zero (pruning's effect)."""
    from kerasmodels.callbacks import kernel_layers

    kernels = [weight.numpy() for _, weight in kernel_layers(model)]
    total = sum(k.size for k in kernels)
    return float(sum((k == 0).sum() for k in kernels) / total) if total else 0.0


def predictors(run: Run, threads: tuple[int, ...], skip: tuple[str, ...] = ()):
    """``(format, predictor, bytes, gzip_bytes)`` for the Keras model and each exported file
    (formats in ``skip`` left out)."""
    from kerasmodels.exports import describe
    from kerasmodels.runtime import load_predictor
    from kerasmodels.runtime.keras import KerasPredictor

    model_file = describe("keras", run.model_path)
    yield "keras", KerasPredictor(run.model), model_file.bytes, model_file.gzip_bytes
    exports = run.path / "exports" / "exports.json"
    if not exports.exists():
        return
    for fmt, info in read_json(exports).get("artifacts", {}).items():
        if fmt in skip:
            continue
        path = run.path / "exports" / info["path"]
        if fmt.startswith(("tflite", "onnx")) and fmt != "tflite-micro":  # threads settable
            for n in threads:
                yield fmt, load_predictor(path, num_threads=n), info["bytes"], info["gzip_bytes"]
        else:
            yield fmt, load_predictor(path), info["bytes"], info["gzip_bytes"]


def benchmark(run: Run | str | Path, *, threads: tuple[int, ...] = (1,), calls: int = 200,
              export_missing: bool = True, progress: bool = True) -> list[dict[str, Any]]:
    """Measure every run of ``run``'s family in every exported format and runtime.

    Runs without exports are exported first (all formats) when ``export_missing``. Returns the
    rows and writes them to the root run's ``benchmark.json`` and ``benchmark.csv``.
    """
    check_positive("calls", calls, integer=True)
    if not threads or any(not isinstance(n, int) or n < 1 for n in threads):
        raise HyperparameterError(f"threads must be positive integers, got {threads!r}")
    root = load_run(run)
    members = family(root)
    root = members[0]
    if export_missing:
        from kerasmodels.exports import export

        for member in members:
            if not (member.path / "exports" / "exports.json").exists():
                export(member)
    jobs = [(member, *p) for member in members for p in predictors(member, threads)]
    rows = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), desc=f"benchmark {root.id}", unit="variant")
    data_of: dict[str, Any] = {}
    sparsity_of: dict[str, float] = {}
    examples = {}  # row index -> (predictor, one test example)
    for member, fmt, predictor, size, packed in jobs:
        key = repr(member.manifest["dataset"])
        data = data_of.setdefault(key, member.dataset())
        x, y = data.test
        outputs = predictor.predict(x)
        examples[len(rows)] = (predictor, x[:1])
        if member.id not in sparsity_of:  # one model per run, however many formats
            sparsity_of[member.id] = round(sparsity(member.model), 4)
        rows.append({
            "run": member.id, "variant": member.manifest.get("recipe") or "base",
            "format": fmt, "runtime": predictor.name,
            "threads": getattr(predictor, "num_threads", None),
            "params": member.manifest["arch"].get("params"), "bytes": size,
            "gzip_bytes": packed, "sparsity": sparsity_of[member.id],
            **quality(outputs, y, data.task),
            "throughput": round(throughput(predictor.predict, x), 1),
        })
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    # after throughput: a LiteRT interpreter is resized back to a batch of one here
    runners = {index: predictor.runtime_call(example) for index, (predictor, example)
               in examples.items()}
    for index, (p50, p90) in latencies(runners, calls=calls).items():
        rows[index].update(p50_ms=round(p50, 4), p90_ms=round(p90, 4))
    rows = [{column: row.get(column) for column in COLUMNS} for row in rows]
    from kerasmodels.report import machine

    write_json(root.path / "benchmark.json", {"root": root.id, "columns": list(COLUMNS),
                                              "machine": machine(), "rows": rows})
    with open(root.path / "benchmark.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


__all__ = ["benchmark", "family", "latencies", "sparsity", "throughput"]
