"""The benchmark table: every run of a family x every exported format x runtime.

Each row measures, through that runtime: test accuracy (or MAE), batch-1 latency (p50, p90 of
the runtime alone: every variant's ``runtime_call``, timed interleaved by ``latencies``)
and batch throughput (through ``predict``, numpy included), next to the model's params, file
bytes, gzip bytes and weight sparsity. ``flash_bytes`` is what a device stores (the model file;
for tflite-micro the model alone, not its C source); ``ram_bytes`` what running it takes: the
measured tensor arena for TFLM, and for LiteRT and ONNX Runtime the peak resident memory a
fresh process adds while it loads the file and runs one example (``peak_memory``).
``threads`` is the runtime's thread count (TensorFlow's is process-wide: every core unless set).
Written to ``<root run>/benchmark.json`` and ``benchmark.csv``.

>>> import kerasmodels as km
>>> rows = km.benchmark("saved_models/cnn-digits-...")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from kerasmodels.errors import ExportError, HyperparameterError, KerasModelsError, check_positive
from kerasmodels.layout import BENCHMARK, BENCHMARK_CSV, EXPORTS, EXPORTS_RECORD
from kerasmodels.logs import get_logger
from kerasmodels.measure import THROUGHPUT_SECONDS_PER_CALL, latencies, throughput
from kerasmodels.runs import Run, list_runs, load_run, read_json, write_json

LOG = get_logger(__name__)

COLUMNS = ("run", "variant", "format", "runtime", "threads", "params", "bytes", "gzip_bytes",
           "flash_bytes", "ram_bytes", "sparsity", "accuracy", "mae", "auc", "p50_ms", "p90_ms",
           "throughput", "error")
# run in a fresh process: the peak resident memory that loading a model and running one
# example add to a process that has imported numpy and the runtimes (Linux: VmHWM is reset
# through /proc/self/clear_refs just before). argv: model path, example .npy, threads.
MEMORY_PROBE = """
import json, sys
import numpy as np
import ai_edge_litert.interpreter, onnxruntime
from kerasmodels.runtime import load_predictor

def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))

example = np.load(sys.argv[2])
before = status("VmRSS:")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
predictor = load_predictor(sys.argv[1], num_threads=int(sys.argv[3]))
predictor.predict(example)
print(json.dumps({"ram_bytes": status("VmHWM:") - before}))
"""


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


SCORES = ("accuracy", "mae", "auc")  # the columns that hold a task's score (one per row)


def quality(outputs: np.ndarray, x: np.ndarray, y: np.ndarray,
            task: str) -> dict[str, float | None]:
    """The row's score on the test split: its task's (``kerasmodels.tasks``) in its column,
    None in the others."""
    from kerasmodels.tasks import get_task

    row = get_task(task)
    return {column: row.measure(outputs, x, y).get(column) if column == row.score else None
            for column in SCORES}


def sparsity(model) -> float:
    """Fraction of kernel weights that are exactly zero (pruning's effect)."""
    from kerasmodels.modeling import kernel_layers

    kernels = [weight.numpy() for _, weight in kernel_layers(model)]
    total = sum(k.size for k in kernels)
    return float(sum((k == 0).sum() for k in kernels) / total) if total else 0.0


def peak_memory(paths: list[Path], example: np.ndarray, threads: int = 1) -> dict[Path, int | None]:
    """The peak resident memory (bytes) each model file adds to a fresh process that loads it
    and runs ``example`` (one input) with ``threads`` threads; None where it cannot be measured
    (not Linux, or the probe failed). Two probes run at a time."""
    import json
    import subprocess
    import sys
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    if not Path("/proc/self/clear_refs").exists():
        return dict.fromkeys(paths)
    with tempfile.TemporaryDirectory(prefix="kerasmodels-memory-") as scratch:
        np.save(Path(scratch) / "example.npy", example)

        def probe(path: Path) -> int | None:
            result = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(path),
                                     str(Path(scratch) / "example.npy"), str(threads)],
                                    capture_output=True, text=True, timeout=300)
            if result.returncode != 0:
                return None
            return int(json.loads(result.stdout.strip().splitlines()[-1])["ram_bytes"])

        with ThreadPoolExecutor(max_workers=2) as pool:
            return dict(zip(paths, pool.map(probe, paths), strict=True))


def predictors(run: Run, threads: tuple[int, ...], skip: tuple[str, ...] = ()):
    """``(format, predictor, info)`` for the Keras model and each exported file (formats in
    ``skip`` left out); ``info`` has the file's ``path``, ``bytes``, ``gzip_bytes``,
    ``flash_bytes`` and, for TFLM, ``ram_bytes`` (its arena). A format whose export failed,
    or whose file does not load, comes with predictor None and the reason in ``info["error"]``.
    """
    from kerasmodels.exports import describe
    from kerasmodels.runtime import load_predictor
    from kerasmodels.runtime.keras import KerasPredictor

    model_file = describe("keras", run.model_path)
    yield "keras", KerasPredictor(run.model), {"path": run.model_path, "bytes": model_file.bytes,
                                               "gzip_bytes": model_file.gzip_bytes,
                                               "flash_bytes": model_file.bytes}
    exports = run.path / EXPORTS / EXPORTS_RECORD
    if not exports.exists():
        return
    from kerasmodels.formats import format_names, get_format

    record_of = read_json(exports)
    for fmt, failed in record_of.get("failed", {}).items():
        if fmt not in skip and fmt in format_names():
            yield fmt, None, {"path": None, "error": f"{failed['kind']}: {failed['reason']}"}
    for fmt, record in record_of.get("artifacts", {}).items():
        if fmt in skip or fmt not in format_names():
            continue
        row = get_format(fmt)
        device = record.get("device") or {}
        info = {"path": run.path / EXPORTS / record["path"], "bytes": record["bytes"],
                "gzip_bytes": record["gzip_bytes"],
                "flash_bytes": device.get("flash_bytes", record["bytes"]),
                "ram_bytes": device.get("arena_bytes") if row.ram == "arena" else None,
                "ram": row.ram}
        for n in threads if row.threads else (None,):
            try:
                predictor = load_predictor(info["path"], **({} if n is None else
                                                            {"num_threads": n}))
            except KerasModelsError as exc:  # a file that does not load: a row with why
                yield fmt, None, {**info, "error": str(exc)}
                continue
            yield fmt, predictor, info


def benchmark(run: Run | str | Path, *, threads: tuple[int, ...] = (1,), calls: int = 200,
              export_missing: bool = True, progress: bool = True) -> list[dict[str, Any]]:
    """Measure every run of ``run``'s family in every exported format and runtime.

    Each variant (the Keras model and each exported file of the root run and its compressed
    children) is measured through its own runtime: accuracy (or MAE, or an anomaly
    detector's AUC) on the test split, bytes, gzip bytes, flash and RAM (TFLM's measured arena;
    for LiteRT and ONNX Runtime the peak memory a fresh process adds to load and run it),
    batch-1 p50 and p90 latency of the runtime alone (interleaved across variants) and batch
    throughput, with the CPU it ran on.

    Args:
        run: any member of the family, or its folder.
        threads: the runtimes' thread counts to measure (each a row).
        calls: batch-1 latency calls per variant; the throughput window is ``calls`` x 2.5 ms.
        export_missing: export the members that have no exports first (every default format).
        progress: a progress bar, one step per variant.

    Returns:
        The rows (``run``, ``variant``, ``format``, ``runtime``, ``threads``, ``params``,
        ``bytes``, ``gzip_bytes``, ``flash_bytes``, ``ram_bytes``, ``sparsity``,
        ``accuracy``/``mae``/``auc``, ``p50_ms``, ``p90_ms``, ``throughput``, ``error``), also
        written to the root run's ``benchmark.json`` and ``benchmark.csv``.

    Raises:
        RunError: ``run`` is not a run.
        HyperparameterError: a thread count or call count below 1.

    Examples:
        >>> import kerasmodels as km
        >>> _ = km.export(run, ["tflite-int8"])
        >>> rows = km.benchmark(run, calls=5, export_missing=False, progress=False)
        >>> {"keras", "tflite-int8"} <= {row["format"] for row in rows}
        True
        >>> (run.path / "benchmark.csv").is_file()
        True
    """
    check_positive("calls", calls, integer=True)
    if not threads or any(not isinstance(n, int) or n < 1 for n in threads):
        raise HyperparameterError(f"threads must be positive integers, got {threads!r}")
    members = family(load_run(run))
    root = members[0]
    if export_missing:
        _export_missing(members)
    jobs = [(member, *p) for member in members for p in predictors(member, threads)]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), desc=f"benchmark {root.id}", unit="variant")
    table = _Measurements(calls)
    for job in jobs:
        table.measure(*job)
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    rows = table.finish()
    from kerasmodels.report import machine

    write_json(root.path / BENCHMARK, {"root": root.id, "columns": list(COLUMNS),
                                       "machine": machine(), "rows": rows})
    with open(root.path / BENCHMARK_CSV, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def _export_missing(members: list[Run]) -> None:
    """Export the members without exports (every format; the ones that fail are recorded and
    become rows with their reason)."""
    from kerasmodels.exports import export

    for member in members:
        if not (member.path / EXPORTS / EXPORTS_RECORD).exists():
            try:
                export(member, on_error="skip")
            except ExportError as exc:  # none of them can hold it
                LOG.warning("%s: %s", member.id, exc)


class _Measurements:
    """A benchmark's rows: each variant's accuracy and throughput as it is measured, then
    every latency (interleaved) and peak memory at the end."""

    def __init__(self, calls: int):
        self.calls = calls
        self.rows: list[dict[str, Any]] = []
        self.data_of: dict[str, Any] = {}
        self.sparsity_of: dict[str, float] = {}
        self.examples: dict[int, tuple] = {}  # row index -> (predictor, one test example)
        self.probed: dict[Path, str] = {}  # files whose peak memory is measured -> dataset

    def measure(self, member: Run, fmt: str, predictor, info: dict[str, Any]) -> None:
        described = {"run": member.id, "variant": member.record.recipe or "base",
                     "format": fmt, "params": member.record.arch.params}
        if predictor is None:
            self.rows.append({**described, "error": info["error"]})
            return
        key = repr(member.record.dataset)
        data = self.data_of.setdefault(key, member.dataset())
        x, y = data.test
        from kerasmodels.formats import format_names

        heard = fmt in format_names(takes_sound=True)  # sound in: probe clips, no labels
        if heard:
            from kerasmodels.data.audio import probe_sound

            x, y = probe_sound(data.preprocessing), None
        try:
            outputs = predictor.predict(x)
        except Exception as exc:  # noqa: BLE001  (one runtime's failure is a row, not the end)
            self.rows.append({**described, "runtime": predictor.name,
                              "error": f"{type(exc).__name__}: {exc}".splitlines()[0][:300]})
            return
        self.examples[len(self.rows)] = (predictor, x[:1])
        if member.id not in self.sparsity_of:  # one model per run, however many formats
            self.sparsity_of[member.id] = round(sparsity(member.model), 4)
        if info.get("ram") == "peak_rss" and not heard:
            self.probed.setdefault(info["path"], key)
        self.rows.append({
            **described, "runtime": predictor.name,
            "threads": getattr(predictor, "num_threads", None), "bytes": info["bytes"],
            "gzip_bytes": info["gzip_bytes"], "flash_bytes": info["flash_bytes"],
            "ram_bytes": info.get("ram_bytes"), "path": info["path"],
            "sparsity": self.sparsity_of[member.id],
            **(quality(outputs, x, y, data.task) if y is not None else {}),
            "throughput": round(throughput(predictor.predict, x,
                                           seconds=self.calls * THROUGHPUT_SECONDS_PER_CALL), 1),
        })

    def finish(self) -> list[dict[str, Any]]:
        """Latencies (after throughput: a LiteRT interpreter is resized back to a batch of one
        here) and peak memory; each row with the benchmark's columns."""
        rows = self.rows
        runners = {index: predictor.runtime_call(example) for index, (predictor, example)
                   in self.examples.items()}
        for index, (p50, p90) in latencies(runners, calls=self.calls).items():
            rows[index].update(p50_ms=round(p50, 4), p90_ms=round(p90, 4))
        memory: dict[Path, int | None] = {}
        for key in set(self.probed.values()):  # one dataset's files, with one of its examples
            paths = [path for path, of in self.probed.items() if of == key]
            memory.update(peak_memory(paths, self.data_of[key].test[0][:1]))
        for row in rows:
            if row.get("path") in memory:
                row["ram_bytes"] = memory[row["path"]]
        return [{column: row.get(column) for column in COLUMNS} for row in rows]


def compare_family(run: Run | str | Path) -> dict[str, Any]:
    """What a family's comparison shows, from its files alone (the Compare page's table).

    Args:
        run: any member of the family, or its folder.

    Returns:
        ``{"rows", "metric", "pick", "benchmarked", "sweep"}``: the rows of ``benchmark.json``
        plus the sweep's artifacts it has not timed (from ``sweep.json``), each with a
        ``label`` (``variant · format``), ``pareto`` (on the test score, size and latency),
        ``sweep_pick`` and, for the sweep's rows, ``val_diff_95`` (the paired difference from
        the parent on validation with its 95% interval); ``sweep`` says how far the family's
        sweep has got (``complete``, ``variants_done`` of ``variants``) or is None.

    Raises:
        RunError: ``run`` is not a run, or its ``benchmark.json`` is corrupt.

    Examples:
        >>> import kerasmodels as km
        >>> sorted(km.compare_family(run))
        ['benchmarked', 'metric', 'pick', 'rows', 'sweep']
    """
    from kerasmodels.layout import SWEEP
    from kerasmodels.measure import pareto_front
    from kerasmodels.runs import read_json

    root = family(load_run(run))[0]
    bench, sweep = root.path / BENCHMARK, root.path / SWEEP
    rows = [dict(r) for r in read_json(bench)["rows"]] if bench.exists() else []
    swept = read_json(sweep) if sweep.exists() else {}
    seen = {(r["run"], r["format"]) for r in rows}
    for r in swept.get("rows", []):
        if r.get("status", "ok") != "ok":  # a variant the sweep could not make: no artifact
            continue
        if (r["run"], r["format"]) not in seen:
            rows.append({"run": r["run"], "variant": r["recipe"] if r["recipe"] != "none"
                         else "base", "format": r["format"], "runtime": "litert", "threads": 1,
                         "bytes": r["bytes"], "gzip_bytes": r["gzip_bytes"],
                         "flash_bytes": r["bytes"], "accuracy": r.get("test_accuracy"),
                         "auc": r.get("test_auc"),
                         "p50_ms": r.get("p50_ms"), "path": r.get("path")})
    number: dict[tuple[str, str], int] = {}
    for r in sorted({(r["variant"], r["run"]) for r in rows}):
        number[r] = sum(1 for variant, _ in number if variant == r[0]) + 1
    for r in rows:
        n = number[(r["variant"], r["run"])]
        r["label"] = f"{r['variant']}{f' #{n}' if n > 1 else ''} · {r['format']}"
    metric = next((m for m in SCORES if any(r.get(m) is not None for r in rows)), "accuracy")
    scored = [r for r in rows if r.get(metric) is not None and r.get("p50_ms") is not None]
    front = pareto_front(scored, score=metric) if metric != "mae" else [False] * len(scored)
    for r in rows:
        r["pareto"] = False
    for r, on_front in zip(scored, front, strict=True):
        r["pareto"] = on_front
    pick = swept.get("pick")
    chosen = (pick["run"], pick["format"]) if pick else None
    differences = {(r["run"], r["format"]): r for r in swept.get("rows", []) if "val_diff" in r}
    for r in rows:
        r["sweep_pick"] = (r["run"], r["format"]) == chosen
        measured = differences.get((r["run"], r["format"]))
        if measured:
            r["val_diff_95"] = (f"{measured['val_diff']:+.4f} [{measured['val_diff_low']:+.4f}, "
                                f"{measured['val_diff_high']:+.4f}]")
    progress = {key: swept.get(key) for key in ("complete", "variants_done", "variants",
                                                "study", "storage", "accuracy_budget")
                } if swept else None
    return {"rows": rows, "metric": metric, "pick": pick, "benchmarked": bench.exists(),
            "sweep": progress}


__all__ = ["benchmark", "compare_family", "family", "peak_memory", "sparsity"]
