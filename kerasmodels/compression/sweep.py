"""The sweep: compress a run every way, export every child, and pick the best edge model.

Each recipe makes a child run; the parent and every child are exported to the TFLite formats
(a quantization-aware-trained child to int8 only, which is what it was trained for),
and each artifact's accuracy (measured through LiteRT at export), raw and gzip size, batch-1
latency, multiply-adds with the latency floor they imply on this CPU, and ``x_smaller`` (the
parent's float32 TFLite gzip size over this one's) form one row. Every row
carries its accuracy on the validation split (``val_accuracy``) and on the test split
(``test_accuracy``, also ``accuracy``). Choices are made on validation, never on test: the Pareto
front (no other row at least as good on validation accuracy, raw bytes, gzip bytes and latency)
and the pick,
the smallest artifact whose validation accuracy is within ``accuracy_budget`` of the parent's
Keras validation accuracy. The test accuracy is what is reported.

>>> result = km.sweep("saved_models/cnn-digits-...", accuracy_budget=0.01)  # doctest: +SKIP
>>> result["pick"]["recipe"], result["pick"]["format"]  # doctest: +SKIP
('distill', 'tflite-int8')
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kerasmodels.errors import ExportError, HyperparameterError
from kerasmodels.layout import EXPORTS, SWEEP
from kerasmodels.logs import get_logger
from kerasmodels.measure import latencies, pareto_front
from kerasmodels.runs import Run, load_run, read_json, write_json

LOG = get_logger(__name__)



def choose(rows: list[dict[str, Any]], parent_val_accuracy: float,
           accuracy_budget: float) -> dict[str, Any] | None:
    """The smallest row (gzip bytes) whose validation accuracy is within ``accuracy_budget`` of
    the parent's; ties go to the higher validation accuracy. None when no row is."""
    eligible = [r for r in rows
                if r["val_accuracy"] >= parent_val_accuracy - accuracy_budget - 1e-9]
    return min(eligible, key=lambda r: (r["gzip_bytes"], -r["val_accuracy"])) if eligible else None


def sweep(run: Run | str | Path, *, accuracy_budget: float = 0.005,
          recipes: Sequence[dict[str, Any]] | None = None,
          formats: Sequence[str] | None = None, calls: int = 100,
          progress: bool = True) -> dict[str, Any]:
    """Run ``recipes`` on ``run``, export and time everything, mark the front, pick one.

    Args:
        run: a classification run, or its folder.
        accuracy_budget: how far below the parent's validation accuracy the pick may be
            (0.01: one percentage point).
        recipes: ``{"recipe": name, **options}`` each (default: every recipe row's ``sweep``
            option sets, :func:`kerasmodels.compression.recipes.default_sweep`).
        formats: rows of the format table timed in LiteRT (default: its ``sweep`` rows;
            quantization-aware children are exported to its integer ones only).
        calls: batch-1 latency calls per artifact.
        progress: show a bar, one step per variant.

    Returns:
        ``{"parent", "parent_accuracy", "parent_val_accuracy", "accuracy_budget", "rows",
        "pick", "failed", "complete", "seconds"}``, also written to ``<run>/sweep.json``.
        Every row has a ``status``: ``ok``, or why the variant has no artifact (``below
        floor`` with the measured agreement, ``cannot hold``, ``converter failed``,
        ``compression failed``) and its ``reason``. Only ``ok`` rows are timed, ranked and
        picked from.

    Raises:
        HyperparameterError: a budget outside [0, 1), a format LiteRT does not run, or a run
            that is not a classification.

    A variant that fails is a row, not the end of the sweep; ``sweep.json`` is rewritten after
    each variant (``complete: false``), so a sweep that is interrupted keeps what it measured.

    Example:
        >>> result = km.sweep(run, accuracy_budget=0.01)  # doctest: +SKIP
        >>> result["pick"]["recipe"], result["pick"]["format"]  # doctest: +SKIP
        ('distill', 'tflite-int8')
    """
    from kerasmodels.compression import compress
    from kerasmodels.exports import export
    from kerasmodels.layout import EXPORTS_RECORD
    from kerasmodels.runtime.litert import LiteRTModel

    if isinstance(accuracy_budget, bool) or not isinstance(accuracy_budget, (int, float)) \
            or not 0 <= accuracy_budget < 1:
        raise HyperparameterError(f"accuracy_budget must be in [0, 1), got {accuracy_budget!r}: "
                                  "0.01 accepts one percentage point less than the parent")
    from kerasmodels.formats import export_formats, format_names, get_format

    formats = list(format_names(sweep=True) if formats is None else formats)
    for name in formats:
        if get_format(name).runtime != "litert":
            raise HyperparameterError(f"the sweep times every artifact in LiteRT: {name} is run "
                                      f"by {get_format(name).runtime}; choose among "
                                      f"{', '.join(format_names(runtime='litert'))}")
    from kerasmodels.compression import check_recipe
    from kerasmodels.compression.recipes import default_sweep

    recipes = default_sweep() if recipes is None else list(recipes)
    for spec in recipes:  # a typo is an error now, not a failed row after minutes of work
        if not isinstance(spec, dict) or "recipe" not in spec:
            raise HyperparameterError(f"each recipe is {{'recipe': name, **options}}, got "
                                      f"{spec!r}")
        check_recipe(spec["recipe"], {k: v for k, v in spec.items() if k != "recipe"})
    integer = [name for name in formats if get_format(name).integer]
    baseline_format = next((name for name in formats if get_format(name).lossless), None)
    parent = load_run(run)
    if parent.manifest["dataset"].get("task") != "classification":
        raise HyperparameterError("the sweep ranks by accuracy: it needs a classification run")
    started = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(recipes) + 1, desc=f"sweep {parent.id}", unit="variant")
    data = parent.dataset()
    x = data.test[0][:1]
    x_val, y_val = data.val
    from kerasmodels.compression.channels import multiply_adds
    from kerasmodels.report import latency_floor_ms, machine

    info = machine()
    result: dict[str, Any] = {
        "parent": parent.id, "parent_accuracy": parent.metrics["test"]["accuracy"],
        "parent_val_accuracy": parent.metrics["val"]["accuracy"], "chosen_on": "val",
        "accuracy_budget": accuracy_budget, "rows": [], "pick": None, "complete": False}
    rows: list[dict[str, Any]] = result["rows"]
    timed: dict[int, Any] = {}

    def measure(member: Run) -> None:
        """The member's rows: each artifact measured, each failed format with its reason; a
        format below its floor brings the row that repairs it (``repairs`` in the table)."""
        wanted = integer if member.quantization_aware else formats  # QAT: made for int8 only
        macs = multiply_adds(member.model)
        while wanted:
            wanted = measure_formats(member, wanted, macs)

    def measure_formats(member: Run, wanted: list[str], macs: int) -> list[str]:
        recipe = member.manifest.get("recipe") or "none"
        options = member.manifest.get("compression", {}).get("options", {})
        described = {"run": member.id, "recipe": recipe,
                     "options": ", ".join(f"{k}={v}" for k, v in options.items())}
        try:
            artifacts = export(member, wanted, on_error="skip")
        except ExportError as exc:  # no wanted format can hold it: each is named below
            LOG.info("%s: %s", member.id, exc)
            artifacts = []
        record = read_json(member.path / EXPORTS / EXPORTS_RECORD) \
            if (member.path / EXPORTS / EXPORTS_RECORD).exists() else {}
        made = {artifact.format for artifact in artifacts}
        below = set()
        for fmt in wanted:
            if fmt in made:
                continue
            failed = record.get("failed", {}).get(fmt)
            reason = failed["reason"] if failed else record.get("unsupported", {}).get(
                fmt, "not exported")
            if failed and failed["kind"] == "below floor":
                below.add(fmt)
            rows.append({**described, "format": fmt, "status": failed["kind"] if failed
                         else "cannot hold", "reason": reason,
                         "top1_agreement": ((failed or {}).get("parity") or {}).get(
                             "top1_agreement")})
        for artifact in artifacts:
            model = LiteRTModel(artifact.path, num_threads=1)
            val_accuracy = float((model.predict(x_val).argmax(-1) == y_val).mean())
            timed[len(rows)] = model.runtime_call(x)
            rows.append({**described, "format": artifact.format, "status": "ok",
                         "path": str(artifact.path), "bytes": artifact.bytes,
                         "gzip_bytes": artifact.gzip_bytes,
                         "multiply_adds": macs,
                         "latency_floor_ms": round(latency_floor_ms(
                             macs, get_format(artifact.format).int8_kernels, info) or 0, 6)
                         or None,
                         "val_accuracy": round(val_accuracy, 6),
                         "test_accuracy": round(artifact.parity["accuracy"], 6),
                         "accuracy": round(artifact.parity["accuracy"], 6),
                         "top1_agreement": artifact.parity.get("top1_agreement"),
                         **({"float_layers": artifact.device["float_layers"]}
                            if artifact.device and "float_layers" in artifact.device else {})})
        return [f.name for f in export_formats() if f.repairs in below and f.name not in wanted]

    def keep() -> None:  # what is measured so far, on disk
        result["seconds"] = round(time.perf_counter() - started, 1)
        write_json(parent.path / SWEEP, result)

    measure(parent)
    keep()
    for spec in recipes:
        options = dict(spec)
        recipe = options.pop("recipe")
        try:
            child = compress(parent, recipe, **options)
        except Exception as exc:  # noqa: BLE001  (a recipe that fails is a row; Ctrl-C stops)
            LOG.warning("%s: %s failed: %s", parent.id, recipe, exc)
            LOG.debug("%s failed", recipe, exc_info=True)
            rows.append({"run": None, "recipe": recipe,
                         "options": ", ".join(f"{k}={v}" for k, v in options.items()),
                         "format": None, "status": "compression failed",
                         "reason": f"{type(exc).__name__}: {exc}".splitlines()[0][:300]})
        else:
            measure(child)
        keep()
        if bar is not None:
            bar.update()
    for index, (p50, _) in latencies(timed, calls=calls).items() if timed else ():
        rows[index]["p50_ms"] = round(p50, 4)  # the runtime alone, every artifact interleaved
    if bar is not None:
        bar.update()
        bar.close()
    measured = [r for r in rows if r["status"] == "ok"]
    baseline = next((r["gzip_bytes"] for r in measured if r["run"] == parent.id
                     and r["format"] == baseline_format), None)
    for row in rows:
        row["pareto"] = False
    for row, on_front in zip(measured, pareto_front(measured), strict=True):
        row["pareto"] = on_front
        row["x_smaller"] = round(baseline / row["gzip_bytes"], 2) if baseline else None
    result["pick"] = choose(measured, result["parent_val_accuracy"], accuracy_budget)
    result["failed"] = len(rows) - len(measured)
    result["complete"] = True
    keep()
    return result


__all__ = ["choose", "sweep"]
