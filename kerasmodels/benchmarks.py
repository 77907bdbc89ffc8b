"""The benchmark table: every run of a family x every exported format x runtime.

Each row measures, through that runtime: test accuracy (or MAE), batch-1 latency (p50, p90)
and batch throughput, next to the model's params, file bytes, gzip bytes and weight sparsity.
Written to ``<root run>/benchmark.json`` and ``benchmark.csv``.

>>> import kerasmodels as km
>>> rows = km.benchmark("saved_models/cnn-digits-...")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import time
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


def latency(predict, example: np.ndarray, calls: int = 200, warmup: int = 10) -> tuple[float, float]:
    """p50 and p90 wall time (ms) of ``predict`` on a batch of one."""
    for _ in range(warmup):
        predict(example)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        predict(example)
        times.append(time.perf_counter() - start)
    p50, p90 = np.percentile(times, [50, 90]) * 1000
    return float(p50), float(p90)


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

    model_file = describe("keras", run.path / "model.keras")
    yield "keras", KerasPredictor(run.model), model_file.bytes, model_file.gzip_bytes
    exports = run.path / "exports" / "exports.json"
    if not exports.exists():
        return
    for fmt, info in read_json(exports).get("artifacts", {}).items():
        if fmt in skip:
            continue
        path = run.path / "exports" / info["path"]
        if fmt.startswith("tflite"):
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
    for member, fmt, predictor, size, packed in jobs:
        key = repr(member.manifest["dataset"])
        data = data_of.setdefault(key, member.dataset())
        x, y = data.test
        outputs = predictor.predict(x)
        p50, p90 = latency(predictor.predict, x[:1], calls=calls)
        rows.append({
            "run": member.id, "variant": member.manifest.get("recipe") or "base",
            "format": fmt, "runtime": predictor.name,
            "threads": getattr(predictor, "num_threads", None),
            "params": member.manifest["arch"].get("params"), "bytes": size,
            "gzip_bytes": packed, "sparsity": round(sparsity(member.model), 4),
            **quality(outputs, y, data.task), "p50_ms": round(p50, 4), "p90_ms": round(p90, 4),
            "throughput": round(throughput(predictor.predict, x), 1),
        })
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    write_json(root.path / "benchmark.json", {"root": root.id, "columns": list(COLUMNS),
                                              "rows": rows})
    with open(root.path / "benchmark.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


__all__ = ["benchmark", "family", "latency", "sparsity", "throughput"]
