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
and the pick. A validation split is small (digits: 270 examples, one of them 0.37 points) and
the sweep compares some thirty artifacts: the one that looks best is often only lucky. So
every row carries the paired difference of its validation score from the parent Keras
model's, on the same examples, with a 95% bootstrap interval (``val_diff``, ``val_diff_low``,
``val_diff_high``), and the pick is the smallest artifact whose interval's lower end is within
``accuracy_budget``; a budget below one validation example is refused (the default is
``DEFAULT_BUDGET`` or one validation example's worth, whichever is more). The test score is
what is reported.

Every row has a ``status``: ``ok``, or why the variant has no artifact (``below floor`` with
the measured agreement, ``cannot hold``, ``converter failed``, ``compression failed``) and its
``reason``; only ``ok`` rows are timed, ranked and picked from.

The variants are the trials of an Optuna study (``kerasmodels.studies``; by default the
runs folder's SQLite file): ``workers=N`` runs N processes on this machine, a shared database
lets other machines join, and a sweep started again runs only the variants it has not
finished.

A target says what is compared (``TARGETS``): ``phone`` (the default) times the TFLite
formats in LiteRT and picks the smallest gzip size; ``micro`` exports every variant for TFLM
(``tflite-micro``: compressed weights where that saves flash), measures its validation score
in TFLM, ranks on flash, arena and TFLM latency, picks the smallest flash and says which board
classes of ``kerasmodels.boards`` each row fits.

>>> result = km.sweep("saved_models/cnn-digits-...", accuracy_budget=0.01)  # doctest: +SKIP
>>> result["pick"]["recipe"], result["pick"]["format"]  # doctest: +SKIP
('distill', 'tflite-int8')
>>> km.sweep("saved_models/cnn-digits-...", target="micro")["pick"]["boards"]  # doctest: +SKIP
['512k-ram-2m-flash', '256k-ram-1m-flash', '64k-ram-256k-flash']
"""

from __future__ import annotations

import hashlib
import json
import math
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kerasmodels.errors import ExportError, HyperparameterError, check_positive
from kerasmodels.layout import EXPORTS, EXPORTS_RECORD, MANIFEST, SEARCHES, SWEEP
from kerasmodels.logs import get_logger
from kerasmodels.measure import LEVEL, RESAMPLES, latencies, paired_interval, pareto_front
from kerasmodels.processes import start_owned, stop
from kerasmodels.runs import Run, load_run, read_json, write_json
from kerasmodels.studies import (
    HEARTBEAT_SECONDS,
    default_storage,
    open_queue,
    open_storage,
    shown,
    work_queue,
)
from kerasmodels.tasks import get_task

LOG = get_logger(__name__)
# the accuracy budget when none is given: one point, or one validation example when more
DEFAULT_BUDGET = 0.01
LOCAL_CALLS = 30  # a variant's first latency, where it is made (timed again at the end)

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
    """The devices a sweep can choose for: a copy of the table ``TARGETS``.

    Returns:
        ``{name: Target}``: ``phone`` (LiteRT, ranked on gzip size) and ``micro`` (TFLM, ranked
        on flash, with the arena and latency beside it); each row names its runtime, its size
        measure and the costs of its Pareto front.

    Examples:
        >>> import kerasmodels as km
        >>> targets = km.sweep_targets()
        >>> sorted(targets), targets["micro"].runtime, targets["micro"].size
        (['micro', 'phone'], 'tflm', 'flash_bytes')
    """
    return dict(TARGETS)


def choose(rows: list[dict[str, Any]], accuracy_budget: float,
           size: str = "gzip_bytes") -> dict[str, Any] | None:
    """The smallest row (on ``size``: gzip bytes, or flash bytes for microcontrollers) whose
    paired difference from the parent on validation (``val_diff``: accuracy, or an anomaly
    run's AUC) is within ``accuracy_budget`` at the lower end of its confidence interval
    (``val_diff_low``): a row that is only lucky on the few examples it differs on does not
    pass. Ties go to the higher validation score. None when no row passes."""
    eligible = [r for r in rows if r["val_diff_low"] >= -accuracy_budget - 1e-9]
    return min(eligible, key=lambda r: (r[size], -r["val_score"])) if eligible else None


def sweep(run: Run | str | Path, *, accuracy_budget: float | None = None,
          recipes: Sequence[dict[str, Any]] | None = None,
          formats: Sequence[str] | None = None, calls: int = 100,
          target: str = "phone", board: str | None = None, workers: int = 1,
          storage: str | None = None, study: str | None = None,
          heartbeat_seconds: float = HEARTBEAT_SECONDS,
          progress: bool = True) -> dict[str, Any]:
    """Run ``recipes`` on ``run``, export and time everything, mark the front, pick one.

    The variants (the parent, then each recipe and option set) are queued once as the trials
    of a study in ``storage``; see the module's text for what a row holds and how the pick
    is made.

    Args:
        run: a classification or anomaly-detection run, or its folder.
        accuracy_budget: how far below the parent's validation score (accuracy, or an anomaly
            run's ROC AUC) the pick may be, at the lower end of the 95% bootstrap interval of
            its paired difference (0.01: one percentage point); at least one validation
            example's worth. Default: ``DEFAULT_BUDGET`` (0.01), or one validation example's
            worth when that is more (a small validation split); ``accuracy_budget`` in the
            result says which.
        recipes: ``{"recipe": name, **options}`` each (default: every recipe row's ``sweep``
            option sets, ``kerasmodels.compression.recipes.default_sweep``).
        formats: rows of the format table run by the target's runtime (default: its
            ``sweep`` rows; quantization-aware children are exported to its integer ones
            only).
        calls: batch-1 latency calls per artifact.
        target: a row of ``TARGETS``: ``phone`` (LiteRT, smallest gzip size) or
            ``micro`` (TFLM, smallest flash; each row says which board classes it fits).
        board: a micro sweep's board class (``kerasmodels.boards.BOARDS``): the pick is
            the smallest flash among the rows that fit it (arena in its RAM, model in its
            flash).
        workers: processes on this machine working on the variants (this one and
            ``workers - 1`` it starts and stops).
        storage: the study's database URL (default: the runs folder's SQLite file,
            ``.searches/searches.db``); a server database lets other machines join.
        study: the study's name (default: from the parent, target, formats and variants, so
            the same sweep started again is the same study).
        heartbeat_seconds: how often a variant being made says it is alive; one silent for
            three of these is failed and made again by the next worker.
        progress: show a bar, one step per variant.

    Returns:
        ``{"parent", "target", "metric", "parent_score", "parent_val_score",
        "accuracy_budget", "val_examples", "interval", "rows", "pick", "failed", "complete",
        "seconds", "study", "storage", "variants", "variants_done"}`` (``parent_accuracy``
        and ``parent_val_accuracy``, or their ``auc``; a micro sweep: ``boards``), also
        written to ``<run>/sweep.json`` (after each variant, ``complete: false``).

    Raises:
        HyperparameterError: a budget outside [0, 1) or below one validation example, a
            format the target's runtime does not run, or a run whose score is not
            higher-is-better (a regression).
        StorageError: a malformed or unreachable storage, or a study made for another sweep.

    Examples:
        A sweep of one recipe and one format, to keep the example short (the default sweeps
        every recipe's option sets in every format of the target):

        >>> import kerasmodels as km
        >>> result = km.sweep(run, recipes=[{"recipe": "cluster", "epochs": 1, "clusters": 8}],
        ...                   formats=["tflite-int8"], calls=5, progress=False)
        >>> result["complete"], result["variants_done"], result["variants"]
        (True, 2, 2)
        >>> sorted({row["recipe"] for row in result["rows"]})
        ['cluster', 'none']
    """
    recipes, formats = _checked(accuracy_budget, recipes, formats, target)
    check_positive("workers", workers, integer=True)
    check_positive("heartbeat_seconds", heartbeat_seconds)
    parent = _checked_parent(run, target, board)
    state = SweepState(parent, formats, accuracy_budget, TARGETS[target], board)
    state.check_budget()  # before the storage: a refused budget writes nothing
    url = default_storage(parent.path.parent) if storage is None else storage
    store = open_storage(url, heartbeat_seconds)  # before any work: a bad URL costs nothing
    variants = [{"recipe": "none"}, *recipes]
    identity = {"kind": "sweep", "parent": parent.id, "target": target, "formats": formats,
                "variants": variants}
    name = study or default_study_name(identity)
    found = open_queue(store, name, identity, [{"variant": i} for i in range(len(variants))])
    state.attach(found, store, url, len(variants))
    return _made_and_ranked(state, variants, workers, heartbeat_seconds, calls, progress)


def _made_and_ranked(state: SweepState, variants: list[dict[str, Any]], workers: int,
                     heartbeat_seconds: float, calls: int, progress: bool) -> dict[str, Any]:
    """The study's variants made here and by ``workers - 1`` helpers, then ranked."""
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = state.bar = tqdm(total=len(variants), desc=f"sweep {state.parent.id}",
                               unit="variant")
    logs = state.parent.path.parent / SEARCHES  # each helper's output, should one fail
    logs.mkdir(parents=True, exist_ok=True)
    helpers = []
    for number in range(2, workers + 1):
        with open(logs / f"{state.study.study_name}-worker-{number}.log", "w") as log:
            helpers.append(start_owned(
                [sys.executable, "-c", HELPER, str(state.parent.path), state.url,
                 state.study.study_name, str(heartbeat_seconds)],
                stdout=log, stderr=subprocess.STDOUT))
    try:
        work_queue(state.study, state.storage, state.objective(variants), heartbeat_seconds,
                   after_trial=state.keep)
        for helper in helpers:
            helper.wait()
        return state.finish(calls)
    finally:
        for helper in helpers:
            stop(helper)
        if bar is not None:
            bar.close()


def _checked_parent(run: Run | str | Path, target: str, board: str | None) -> Run:
    """The run to sweep, or the error its task or the board deserves."""
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
    return parent


# a worker started by a sweep with workers > 1 (argv: parent folder, storage, study, heartbeat)
HELPER = """
import sys
from kerasmodels.compression.sweep import work
work(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]))
"""


def work(run: str | Path, storage: str, study: str, heartbeat_seconds: float) -> int:
    """Make and measure a sweep's variants from its study until none is left (a helper of
    ``sweep`` with ``workers > 1``); the sweep that started it ranks and picks. Returns
    how many variants this process made."""
    import optuna

    store = open_storage(storage, heartbeat_seconds)
    found = optuna.load_study(study_name=study, storage=store)
    attrs = found.user_attrs
    state = SweepState(load_run(run), list(attrs["formats"]), 1.0, TARGETS[attrs["target"]])
    state.study, state.storage, state.url = found, store, storage  # the sweep writes its file
    return work_queue(found, store, state.objective(attrs["variants"]), heartbeat_seconds)


def default_study_name(identity: dict[str, Any]) -> str:
    """``sweep-<parent>-<target>-<8 hex digits of its formats and variants>``."""
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode())
    return f"sweep-{identity['parent']}-{identity['target']}-{digest.hexdigest()[:8]}"


def _checked(accuracy_budget, recipes, formats, target
             ) -> tuple[list[dict[str, Any]], list[str]]:
    """The recipes and formats to sweep, or the error the arguments deserve (before any
    work: a typo is an error now, not a failed row after minutes of work)."""
    from kerasmodels.compression import check_recipe
    from kerasmodels.compression.recipes import default_sweep
    from kerasmodels.formats import format_names, get_format

    if accuracy_budget is not None and (
            isinstance(accuracy_budget, bool) or not isinstance(accuracy_budget, (int, float))
            or not 0 <= accuracy_budget < 1):
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
    """A sweep's variants made and measured (one study trial each), its rows collected from
    the study's finished trials and written to ``<run>/sweep.json`` after each one."""

    def __init__(self, parent: Run, formats: list[str], accuracy_budget: float | None,
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
        self.reference: np.ndarray | None = None  # the parent's Keras outputs on validation
        self.study: Any = None
        self.storage: Any = None
        self.url = ""
        self.bar: Any = None
        test, val = parent.metrics["test"][self.metric], parent.metrics["val"][self.metric]
        self.result: dict[str, Any] = {
            "parent": parent.id, "target": target.name, "metric": self.metric,
            "parent_score": test,
            "parent_val_score": val, f"parent_{self.metric}": test,
            f"parent_val_{self.metric}": val, "chosen_on": "val",
            "accuracy_budget": accuracy_budget, "val_examples": len(self.y_val),
            "interval": {"level": LEVEL, "resamples": RESAMPLES}, "rows": [], "pick": None,
            "complete": False}
        if target.name == "micro":
            from kerasmodels.boards import board_classes

            self.result["boards"] = [row.to_json() for row in board_classes()]
            self.result["board"] = board

    def check_budget(self) -> None:
        """A HyperparameterError when the budget is below one validation example (the sweep
        checks it; a helper ranks nothing, so it does not); an unset budget becomes
        ``DEFAULT_BUDGET`` or one validation example's worth, whichever is more."""
        budget, examples = self.result["accuracy_budget"], len(self.y_val)
        if budget is None:
            one = math.ceil(1e4 / examples) / 1e4  # one example, rounded up to 0.01 points
            self.result["accuracy_budget"] = max(DEFAULT_BUDGET, one)
            return
        if budget < 1 / examples - 1e-12:
            raise HyperparameterError(
                f"accuracy_budget {budget} is below one validation example: the validation "
                f"split has {examples} examples, a resolution of {1 / examples:.4f}; give at "
                f"least {1 / examples:.4f} (or validate on more)")

    def attach(self, study, storage, url: str, variants: int) -> None:
        """Collect the rows of ``study`` (in ``storage`` at ``url``, of ``variants``
        trials)."""
        self.study, self.storage, self.url = study, storage, url
        self.result.update(study=study.study_name, storage=shown(url), variants=variants,
                           variants_done=0)
        self.keep()

    def finished_rows(self) -> list[dict[str, Any]]:
        """The rows of every finished variant, in the order of the variants."""
        import optuna

        done = self.study.get_trials(deepcopy=False,
                                     states=(optuna.trial.TrialState.COMPLETE,))
        latest = {t.params["variant"]: t for t in done}  # a variant made twice: its last
        self.result["variants_done"] = len(latest)
        return [dict(row) for _, trial in sorted(latest.items())
                for row in trial.user_attrs["rows"]]

    def keep(self) -> None:
        """What is measured so far, on disk."""
        if self.study is not None:
            self.result["rows"] = self.finished_rows()
            if self.bar is not None:
                self.bar.update(self.result["variants_done"] - self.bar.n)
        self.result["seconds"] = round(time.perf_counter() - self.started, 1)
        write_json(self.parent.path / SWEEP, self.result)

    def objective(self, variants: list[dict[str, Any]]):
        """A trial's work: make its variant (the parent itself, or a recipe's child) and keep
        its rows in the trial; its value is the best validation score among them."""
        def made(trial) -> float:
            index = trial.suggest_int("variant", 0, len(variants) - 1)
            spec = dict(variants[index])
            if spec["recipe"] == "none":
                rows = self.measure(self.parent)
            else:
                child = self.made_before(index)  # by a trial that died before measuring it
                rows = (self.measure(child) if child is not None
                        else self.compress_and_measure(spec, trial))
            trial.set_user_attr("rows", rows)
            return max((r["val_score"] for r in rows if r["status"] == "ok"), default=0.0)

        return made

    def measure(self, member: Run) -> list[dict[str, Any]]:
        """The member's rows: each artifact measured, each failed format with its reason; a
        format below its floor brings the row that repairs it (``repairs`` in the table)."""
        from kerasmodels.compression.channels import multiply_adds

        wanted = self.integer if member.quantization_aware else self.formats  # QAT: int8 only
        macs = multiply_adds(member.model)
        rows: list[dict[str, Any]] = []
        while wanted:
            wanted = self.measure_formats(member, wanted, macs, rows)
        return rows

    def made_before(self, index: int) -> Run | None:
        """The child of variant ``index`` that a failed trial saved (its worker was killed
        while exporting it), if its folder is on this machine: measured, not trained again."""
        import optuna

        for trial in self.study.get_trials(deepcopy=False,
                                           states=(optuna.trial.TrialState.FAIL,)):
            path = trial.user_attrs.get("child")
            if trial.params.get("variant") == index and path and (
                    Path(path) / MANIFEST).is_file():
                LOG.info("variant %d: measuring %s, made before", index, path)
                return load_run(path)
        return None

    def compress_and_measure(self, options: dict[str, Any], trial=None) -> list[dict[str, Any]]:
        """The child a recipe makes, measured (its folder kept in ``trial``); a recipe that
        fails is a row (Ctrl-C stops)."""
        from kerasmodels.compression import compress

        recipe = options.pop("recipe")
        try:
            child = compress(self.parent, recipe, **options)
            if trial is not None:
                trial.set_user_attr("child", str(child.path.resolve()))
        except Exception as exc:  # noqa: BLE001
            LOG.warning("%s: %s failed: %s", self.parent.id, recipe, exc)
            LOG.debug("%s failed", recipe, exc_info=True)
            return [{"run": None, "recipe": recipe,
                     "options": ", ".join(f"{k}={v}" for k, v in options.items()),
                     "format": None, "status": "compression failed",
                     "reason": f"{type(exc).__name__}: {exc}".splitlines()[0][:300]}]
        return self.measure(child)

    def measure_formats(self, member: Run, wanted: list[str], macs: int,
                        rows: list[dict[str, Any]]) -> list[str]:
        """Export ``member`` to ``wanted`` and add a row per format to ``rows``; returns the
        formats to make next (those repairing a file below its floor)."""
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
            rows.append({**described, "format": fmt, "status": failed["kind"] if failed
                         else "cannot hold", "reason": reason,
                         "top1_agreement": ((failed or {}).get("parity") or {}).get(
                             "top1_agreement")})
        for artifact in artifacts:
            rows.append({**described, **self.measured(artifact, macs)})
        return [f.name for f in export_formats() if f.repairs in below and f.name not in wanted]

    def measured(self, artifact, macs: int) -> dict[str, Any]:
        """An artifact's row: its sizes, accuracies with the paired difference from the
        parent on validation, multiply-adds, latency floor and a first latency (timed again
        at the end, every artifact interleaved)."""
        from kerasmodels.formats import get_format
        from kerasmodels.report import latency_floor_ms
        from kerasmodels.runtime import load_predictor

        model = load_predictor(artifact.path, num_threads=1)
        metric = self.metric
        outputs = model.predict(self.x_val)
        val = self.task.measure(outputs, self.x_val, self.y_val)[metric]
        diff, low, high = self.paired(outputs)
        test = artifact.parity[metric]
        (p50, _), = latencies({0: model.runtime_call(self.example)},
                              calls=LOCAL_CALLS).values()
        floor = latency_floor_ms(macs, get_format(artifact.format).int8_kernels, self.machine)
        return {"format": artifact.format, "status": "ok", "path": str(artifact.path),
                "bytes": artifact.bytes, "gzip_bytes": artifact.gzip_bytes,
                "multiply_adds": macs, "latency_floor_ms": round(floor or 0, 6) or None,
                "val_score": round(val, 6), "test_score": round(test, 6),
                f"val_{metric}": round(val, 6), f"test_{metric}": round(test, 6),
                metric: round(test, 6), "val_diff": round(diff, 6),
                "val_diff_low": round(low, 6), "val_diff_high": round(high, 6),
                "p50_ms": round(p50, 4), "timed_on": socket.gethostname(),
                "top1_agreement": artifact.parity.get("top1_agreement"),
                **({"float_layers": artifact.device["float_layers"]}
                   if artifact.device and "float_layers" in artifact.device else {}),
                **(on_board(artifact.device) if self.target.name == "micro" else {})}

    def paired(self, outputs: np.ndarray) -> tuple[float, float, float]:
        """An artifact's validation score minus the parent Keras model's, on the same
        examples, with its bootstrap interval (the same resamples for every row)."""
        if self.reference is None:
            self.reference = np.asarray(self.parent.model.predict(self.x_val, verbose=0))
        task, y = self.task, np.asarray(self.y_val)
        mine = task.per_example(outputs, self.x_val)
        theirs = task.per_example(self.reference, self.x_val)
        return paired_interval(lambda i: task.from_examples(mine[i], y[i])
                               - task.from_examples(theirs[i], y[i]), len(y))

    def finish(self, calls: int) -> dict[str, Any]:
        """Time every artifact on this machine (interleaved), mark the Pareto front, pick,
        and keep it."""
        from kerasmodels.runtime import load_predictor

        self.keep()
        rows = self.result["rows"]
        measured = [r for r in rows if r["status"] == "ok"]
        here = {i: r for i, r in enumerate(measured) if Path(r["path"]).is_file()}
        runners = {i: load_predictor(r["path"], num_threads=1).runtime_call(self.example)
                   for i, r in here.items()}
        for index, (p50, _) in latencies(runners, calls=calls).items() if runners else ():
            here[index].update(p50_ms=round(p50, 4), timed_on=socket.gethostname())
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
        self.result["pick"] = choose(candidates, self.result["accuracy_budget"], size)
        self.result["failed"] = len(rows) - len(measured)
        self.result["complete"] = self.result["variants_done"] == self.result["variants"]
        self.result["seconds"] = round(time.perf_counter() - self.started, 1)
        write_json(self.parent.path / SWEEP, self.result)
        return self.result


def on_board(device: dict[str, Any]) -> dict[str, Any]:
    """A ``tflite-micro`` row's device columns: flash (and before compression), arena, and the
    board classes it fits."""
    from kerasmodels.boards import fitting

    flash, arena = device["flash_bytes"], device["arena_bytes"]
    before = (device.get("compression") or {}).get("flash_bytes_before", flash)
    return {"flash_bytes": flash, "flash_bytes_uncompressed": before, "arena_bytes": arena,
            "boards": fitting(flash, arena)}


__all__ = ["TARGETS", "Target", "choose", "on_board", "sweep", "sweep_targets", "work"]
