"""The sweep: compress a run every way, export every child, and pick the best edge model.

Each recipe makes a child run; the parent and every child are exported to the TFLite formats
(a quantization-aware-trained child to int8 only, which is what it was trained for),
and each artifact's accuracy (measured through LiteRT at export), raw and gzip size, batch-1
latency, multiply-adds with the latency floor they imply on this CPU, and ``x_smaller`` (the
parent's float32 TFLite gzip size over this one's) form one row. Every row
carries its accuracy on the validation split (``val_accuracy``) and on the test split
(``test_accuracy``, also ``accuracy``); a row of an anomaly-detection run carries the ROC AUC
of its anomaly score instead (``val_auc``, ``test_auc``, ``auc``), and every row its task's
score as ``val_score`` and ``test_score`` (the result's ``metric`` names it,
``kerasmodels.tasks``). Choices are made on validation, never on test: the Pareto
front (no other row at least as good on validation score, raw bytes, gzip bytes and latency)
and the pick,
the smallest artifact whose validation score is within ``accuracy_budget`` of the parent's
Keras validation score. The test score is what is reported.

A target says what is compared (:data:`TARGETS`): ``phone`` (the default) times the TFLite
formats in LiteRT and picks the smallest gzip size; ``micro`` exports every variant for TFLM
(``tflite-micro``: compressed weights where that saves flash), measures its validation score
in TFLM, ranks on flash, arena and TFLM latency, picks the smallest flash and says which board
classes of :mod:`kerasmodels.boards` each row fits.

>>> result = km.sweep("saved_models/cnn-digits-...", accuracy_budget=0.01)  # doctest: +SKIP
>>> result["pick"]["recipe"], result["pick"]["format"]  # doctest: +SKIP
('distill', 'tflite-int8')
>>> km.sweep("saved_models/cnn-digits-...", target="micro")["pick"]["boards"]  # doctest: +SKIP
['512k-ram-2m-flash', '256k-ram-1m-flash', '64k-ram-256k-flash']
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerasmodels.errors import ExportError, HyperparameterError
from kerasmodels.layout import EXPORTS, EXPORTS_RECORD, SWEEP
from kerasmodels.logs import get_logger
from kerasmodels.measure import latencies, pareto_front
from kerasmodels.runs import Run, load_run, read_json, write_json
from kerasmodels.tasks import get_task

LOG = get_logger(__name__)



SWEPT_TASKS = ("classification", "anomaly")  # tasks whose score is higher-is-better


@dataclass(frozen=True)
class Target:
    """What a sweep compares: the formats of one runtime, and what it ranks them on."""

    name: str
    device: str
    runtime: str  # the swept rows of the format table run by this runtime
    size: str  # the pick is the smallest on this column
    costs: tuple[str, ...]  # the Pareto front's costs (besides the validation score)


TARGETS = {target.name: target for target in (
    Target("phone", "phones, desktops: the TFLite files LiteRT runs", "litert", "gzip_bytes",
           ("bytes", "gzip_bytes", "p50_ms")),
    Target("micro", "microcontrollers: tflite-micro run by TFLM", "tflm", "flash_bytes",
           ("flash_bytes", "arena_bytes", "p50_ms")),
)}


def sweep_targets() -> dict[str, Target]:
    """The targets a sweep can compare for (a copy of :data:`TARGETS`)."""
    return dict(TARGETS)


def choose(rows: list[dict[str, Any]], parent_val_score: float,
           accuracy_budget: float, size: str = "gzip_bytes") -> dict[str, Any] | None:
    """The smallest row (on ``size``: gzip bytes, or flash bytes for microcontrollers) whose
    validation score (``val_score``: accuracy, or an anomaly run's AUC) is within
    ``accuracy_budget`` of the parent's; ties go to the higher validation score. None when
    no row is."""
    eligible = [r for r in rows
                if r["val_score"] >= parent_val_score - accuracy_budget - 1e-9]
    return min(eligible, key=lambda r: (r[size], -r["val_score"])) if eligible else None


def sweep(run: Run | str | Path, *, accuracy_budget: float = 0.005,
          recipes: Sequence[dict[str, Any]] | None = None,
          formats: Sequence[str] | None = None, calls: int = 100,
          target: str = "phone", board: str | None = None,
          progress: bool = True) -> dict[str, Any]:
    """Run ``recipes`` on ``run``, export and time everything, mark the front, pick one.

    Args:
        run: a classification or anomaly-detection run, or its folder.
        accuracy_budget: how far below the parent's validation score (accuracy, or an anomaly
            run's ROC AUC) the pick may be (0.01: one percentage point).
        recipes: ``{"recipe": name, **options}`` each (default: every recipe row's ``sweep``
            option sets, :func:`kerasmodels.compression.recipes.default_sweep`).
        formats: rows of the format table run by the target's runtime (default: its
            ``sweep`` rows; quantization-aware children are exported to its integer ones
            only).
        calls: batch-1 latency calls per artifact.
        target: a row of :data:`TARGETS`: ``phone`` (LiteRT, smallest gzip size) or
            ``micro`` (TFLM, smallest flash; each row says which board classes it fits).
        board: a micro sweep's board class (:data:`kerasmodels.boards.BOARDS`): the pick is
            the smallest flash among the rows that fit it (arena in its RAM, model in its
            flash).
        progress: show a bar, one step per variant.

    Returns:
        ``{"parent", "target", "metric", "parent_score", "parent_val_score",
        "accuracy_budget", "rows", "pick", "failed", "complete", "seconds"}`` (a micro sweep:
        also ``boards``, the table its rows' ``boards`` name) (with ``parent_accuracy`` and
        ``parent_val_accuracy``, or ``parent_auc`` and ``parent_val_auc``), also written to
        ``<run>/sweep.json``.
        Every row has a ``status``: ``ok``, or why the variant has no artifact (``below
        floor`` with the measured agreement, ``cannot hold``, ``converter failed``,
        ``compression failed``) and its ``reason``. Only ``ok`` rows are timed, ranked and
        picked from.

    Raises:
        HyperparameterError: a budget outside [0, 1), a format LiteRT does not run, or a run
            whose score is not higher-is-better (a regression).

    A variant that fails is a row, not the end of the sweep; ``sweep.json`` is rewritten after
    each variant (``complete: false``), so a sweep that is interrupted keeps what it measured.

    Example:
        >>> result = km.sweep(run, accuracy_budget=0.01)  # doctest: +SKIP
        >>> result["pick"]["recipe"], result["pick"]["format"]  # doctest: +SKIP
        ('distill', 'tflite-int8')
    """
    recipes, formats = _checked(accuracy_budget, recipes, formats, target)
    if board is not None:
        from kerasmodels.boards import get_board

        get_board(board)
        if target != "micro":
            raise HyperparameterError(f"board is a micro sweep's option: sweep with "
                                      f"target='micro', or leave board out (got target "
                                      f"{target!r})")
    parent = load_run(run)
    if parent.record.dataset.task not in SWEPT_TASKS:
        raise HyperparameterError(f"the sweep ranks by accuracy or AUC: it needs a "
                                  f"classification or anomaly run, not a "
                                  f"{parent.record.dataset.task} one")
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(recipes) + 1, desc=f"sweep {parent.id}", unit="variant")
    state = SweepState(parent, formats, accuracy_budget, TARGETS[target], board)
    state.measure(parent)
    for spec in recipes:
        state.compress_and_measure(dict(spec))
        if bar is not None:
            bar.update()
    result = state.finish(calls)
    if bar is not None:
        bar.update()
        bar.close()
    return result


def _checked(accuracy_budget, recipes, formats, target
             ) -> tuple[list[dict[str, Any]], list[str]]:
    """The recipes and formats to sweep, or the error the arguments deserve (before any
    work: a typo is an error now, not a failed row after minutes of work)."""
    from kerasmodels.compression import check_recipe
    from kerasmodels.compression.recipes import default_sweep
    from kerasmodels.formats import format_names, get_format

    if isinstance(accuracy_budget, bool) or not isinstance(accuracy_budget, (int, float)) \
            or not 0 <= accuracy_budget < 1:
        raise HyperparameterError(f"accuracy_budget must be in [0, 1), got {accuracy_budget!r}: "
                                  "0.01 accepts one percentage point less than the parent")
    if target not in TARGETS:
        from kerasmodels.errors import UnknownNameError

        raise UnknownNameError("sweep target", target, list(TARGETS))
    runtime = TARGETS[target].runtime
    formats = list(format_names(sweep=True, runtime=runtime) if formats is None else formats)
    for name in formats:
        if get_format(name).runtime != runtime:
            raise HyperparameterError(f"a {target} sweep times every artifact in {runtime}: "
                                      f"{name} is run by {get_format(name).runtime}; choose "
                                      f"among {', '.join(format_names(runtime=runtime))}, or "
                                      f"sweep another target ({', '.join(TARGETS)})")
    recipes = default_sweep() if recipes is None else list(recipes)
    for spec in recipes:
        if not isinstance(spec, dict) or "recipe" not in spec:
            raise HyperparameterError(f"each recipe is {{'recipe': name, **options}}, got "
                                      f"{spec!r}")
        check_recipe(spec["recipe"], {k: v for k, v in spec.items() if k != "recipe"})
    return recipes, formats


class SweepState:
    """What a sweep has measured so far, written to ``<run>/sweep.json`` after each variant."""

    def __init__(self, parent: Run, formats: list[str], accuracy_budget: float,
                 target: Target = TARGETS["phone"], board: str | None = None):
        from kerasmodels.formats import get_format
        from kerasmodels.report import machine

        self.parent, self.formats, self.target, self.board = parent, formats, target, board
        self.integer = [name for name in formats if get_format(name).integer]
        # x_smaller is against the parent's file in the lossless format (phones) or the only one
        self.baseline_format = next((n for n in formats if get_format(n).lossless),
                                    formats[0] if target.name != "phone" else None)
        data = parent.dataset()
        self.task = get_task(data.task)
        self.metric = self.task.score
        self.example, (self.x_val, self.y_val) = data.test[0][:1], data.val
        self.machine = machine()
        self.started = time.perf_counter()
        test, val = parent.metrics["test"][self.metric], parent.metrics["val"][self.metric]
        self.result: dict[str, Any] = {
            "parent": parent.id, "target": target.name, "metric": self.metric,
            "parent_score": test,
            "parent_val_score": val, f"parent_{self.metric}": test,
            f"parent_val_{self.metric}": val, "chosen_on": "val",
            "accuracy_budget": accuracy_budget, "rows": [], "pick": None, "complete": False}
        if target.name == "micro":
            from kerasmodels.boards import board_classes

            self.result["boards"] = [row.to_json() for row in board_classes()]
            self.result["board"] = board
        self.rows: list[dict[str, Any]] = self.result["rows"]
        self.timed: dict[int, Any] = {}

    def keep(self) -> None:
        """What is measured so far, on disk."""
        self.result["seconds"] = round(time.perf_counter() - self.started, 1)
        write_json(self.parent.path / SWEEP, self.result)

    def measure(self, member: Run) -> None:
        """The member's rows: each artifact measured, each failed format with its reason; a
        format below its floor brings the row that repairs it (``repairs`` in the table)."""
        from kerasmodels.compression.channels import multiply_adds

        wanted = self.integer if member.quantization_aware else self.formats  # QAT: int8 only
        macs = multiply_adds(member.model)
        while wanted:
            wanted = self.measure_formats(member, wanted, macs)
        self.keep()

    def compress_and_measure(self, options: dict[str, Any]) -> None:
        """The child a recipe makes, measured; a recipe that fails is a row (Ctrl-C stops)."""
        from kerasmodels.compression import compress

        recipe = options.pop("recipe")
        try:
            child = compress(self.parent, recipe, **options)
        except Exception as exc:  # noqa: BLE001
            LOG.warning("%s: %s failed: %s", self.parent.id, recipe, exc)
            LOG.debug("%s failed", recipe, exc_info=True)
            self.rows.append({"run": None, "recipe": recipe,
                              "options": ", ".join(f"{k}={v}" for k, v in options.items()),
                              "format": None, "status": "compression failed",
                              "reason": f"{type(exc).__name__}: {exc}".splitlines()[0][:300]})
            self.keep()
        else:
            self.measure(child)

    def measure_formats(self, member: Run, wanted: list[str], macs: int) -> list[str]:
        """Export ``member`` to ``wanted`` and add a row per format; returns the rows to make
        next (those repairing a file below its floor)."""
        from kerasmodels.exports import export
        from kerasmodels.formats import export_formats

        recipe = member.record.recipe or "none"
        options = member.record.compression.get("options", {})
        described = {"run": member.id, "recipe": recipe,
                     "options": ", ".join(f"{k}={v}" for k, v in options.items())}
        try:
            artifacts = export(member, wanted, on_error="skip")
        except ExportError as exc:  # no wanted format can hold it: each is named below
            LOG.info("%s: %s", member.id, exc)
            artifacts = []
        record_path = member.path / EXPORTS / EXPORTS_RECORD
        record = read_json(record_path) if record_path.exists() else {}
        made = {artifact.format for artifact in artifacts}
        below = set()
        for fmt in (f for f in wanted if f not in made):
            failed = record.get("failed", {}).get(fmt)
            reason = failed["reason"] if failed else record.get("unsupported", {}).get(
                fmt, "not exported")
            if failed and failed["kind"] == "below floor":
                below.add(fmt)
            self.rows.append({**described, "format": fmt, "status": failed["kind"] if failed
                              else "cannot hold", "reason": reason,
                              "top1_agreement": ((failed or {}).get("parity") or {}).get(
                                  "top1_agreement")})
        for artifact in artifacts:
            self.rows.append({**described, **self.measured(artifact, macs)})
        return [f.name for f in export_formats() if f.repairs in below and f.name not in wanted]

    def measured(self, artifact, macs: int) -> dict[str, Any]:
        """An artifact's row: its sizes, accuracies, multiply-adds and latency floor (its
        latency is timed at the end, every artifact interleaved)."""
        from kerasmodels.formats import get_format
        from kerasmodels.report import latency_floor_ms
        from kerasmodels.runtime import load_predictor

        model = load_predictor(artifact.path, num_threads=1)
        metric = self.metric
        val = self.task.measure(model.predict(self.x_val), self.x_val, self.y_val)[metric]
        test = artifact.parity[metric]
        self.timed[len(self.rows)] = model.runtime_call(self.example)
        floor = latency_floor_ms(macs, get_format(artifact.format).int8_kernels, self.machine)
        return {"format": artifact.format, "status": "ok", "path": str(artifact.path),
                "bytes": artifact.bytes, "gzip_bytes": artifact.gzip_bytes,
                "multiply_adds": macs, "latency_floor_ms": round(floor or 0, 6) or None,
                "val_score": round(val, 6), "test_score": round(test, 6),
                f"val_{metric}": round(val, 6), f"test_{metric}": round(test, 6),
                metric: round(test, 6),
                "top1_agreement": artifact.parity.get("top1_agreement"),
                **({"float_layers": artifact.device["float_layers"]}
                   if artifact.device and "float_layers" in artifact.device else {}),
                **(on_board(artifact.device) if self.target.name == "micro" else {})}

    def finish(self, calls: int) -> dict[str, Any]:
        """Time every artifact (interleaved), mark the Pareto front, pick, and keep it."""
        rows = self.rows
        for index, (p50, _) in latencies(self.timed, calls=calls).items() if self.timed else ():
            rows[index]["p50_ms"] = round(p50, 4)  # the runtime alone
        measured = [r for r in rows if r["status"] == "ok"]
        size = self.target.size
        baseline = next((r[size] for r in measured if r["run"] == self.parent.id
                         and r["format"] == self.baseline_format), None)
        for row in rows:
            row["pareto"] = False
        front = pareto_front(measured, score="val_score", costs=self.target.costs)
        for row, on_front in zip(measured, front, strict=True):
            row["pareto"] = on_front
            row["x_smaller"] = round(baseline / row[size], 2) if baseline else None
        candidates = [r for r in measured if self.board is None or self.board in r["boards"]]
        self.result["pick"] = choose(candidates, self.result["parent_val_score"],
                                     self.result["accuracy_budget"], size)
        self.result["failed"] = len(rows) - len(measured)
        self.result["complete"] = True
        self.keep()
        return self.result


def on_board(device: dict[str, Any]) -> dict[str, Any]:
    """A ``tflite-micro`` row's device columns: flash (and before compression), arena, and the
    board classes it fits."""
    from kerasmodels.boards import fitting

    flash, arena = device["flash_bytes"], device["arena_bytes"]
    before = (device.get("compression") or {}).get("flash_bytes_before", flash)
    return {"flash_bytes": flash, "flash_bytes_uncompressed": before, "arena_bytes": arena,
            "boards": fitting(flash, arena)}


__all__ = ["TARGETS", "Target", "choose", "on_board", "sweep", "sweep_targets"]
