"""``train()``: dataset + architecture + optimizer -> a Run on disk.

Interrupted runs resume: progress lives in ``<out_dir>/.partial/<key>/`` (the training state
of ``kerasmodels.resume``, the history so far, TensorBoard logs) until the run is complete,
and calling ``train`` again with the same arguments continues from the last epoch, ending with
the very weights an uninterrupted run would have.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kerasmodels.architectures import DEFAULT_ARCH, build_model, get_architecture
from kerasmodels.backend import keras, tf
from kerasmodels.callbacks import (
    DivergenceGuard,
    EpochHistory,
    EpochSummaries,
    ProgressBar,
    RegularizationSchedule,
    WeightStatistics,
)
from kerasmodels.data import DEFAULT_DATASET, Dataset, load_dataset
from kerasmodels.data.stream import validation_batches
from kerasmodels.errors import (
    HyperparameterError,
    TrainingDivergedError,
)
from kerasmodels.layout import LOGS, MODEL, PARTIAL, RESUME_DIR, WORK_CONFIG
from kerasmodels.logs import get_logger
from kerasmodels.model_files import save_keras_file
from kerasmodels.modeling import compile_for, evaluate, run_name, seed_everything
from kerasmodels.optimizers import make_optimizer
from kerasmodels.options import TRAINING, check_all, documented
from kerasmodels.regularizers import make_regularizer, with_kernel_regularizer
from kerasmodels.resume import TrainingState, epoch_batches
from kerasmodels.runs import (
    HISTORY,
    RUNS_DIR,
    Run,
    discard,
    new_manifest,
    new_run_id,
    read_json,
    remove_tree,
    save_run,
    slug,
    write_json,
)
from kerasmodels.schedules import make_schedule

LOG = get_logger(__name__)
STRATEGIES = TRAINING["strategy"].options


def resolve_batch_size(strategy: str, batch_size: int | None, n_train: int, default: int) -> int:
    """``batch``: all the data per step; ``sgd``: one example; ``minibatch``: ``batch_size``."""
    TRAINING["strategy"].check(strategy)
    if strategy == "minibatch":
        return TRAINING["batch_size"].check(default if batch_size is None else batch_size)
    implied = n_train if strategy == "batch" else 1
    if batch_size is not None and batch_size != implied:
        TRAINING["batch_size"].check(batch_size)
        raise HyperparameterError(f"strategy {strategy!r} uses a batch of {implied}; drop "
                                  f"batch_size={batch_size} or use strategy='minibatch'")
    return implied


@dataclass(frozen=True)
class TrainingPlan:
    """One call of ``train``, resolved: every option checked and every default filled in
    (the architecture's training defaults, then ``kerasmodels.options.TRAINING``'s), the
    dataset loaded, before anything is written."""

    arch: str  # the run's architecture: a registry name, or your model's name
    family: str
    hparams: dict[str, Any]
    arch_hparams: dict[str, Any]
    own_model: Any  # your model (None for a registry architecture)
    model_config: str | None
    data: Dataset
    epochs: int
    batch_size: int
    steps_per_epoch: int
    strategy: str
    optimizer: str
    optimizer_options: dict[str, Any]
    learning_rate: float
    schedule: str | None
    schedule_options: dict[str, Any] | None  # as given (part of the call's key)
    regularizer: str | None
    reg_strength: float
    reg_warmup_epochs: int | None
    seed: int
    early_stopping: int | None
    checkpoint_every: float
    dist: Any  # a kerasmodels.distribute.Distribution, or None

    @classmethod
    def resolve(cls, arch, dataset, hparams: dict[str, Any], *, epochs, batch_size, strategy,
                optimizer, learning_rate, optimizer_options, schedule, schedule_options,
                regularizer, reg_strength, reg_warmup_epochs, seed, early_stopping,
                checkpoint_every, dataset_options, distribution) -> TrainingPlan:
        """The plan of a call, or the error its options deserve (before any work)."""
        from kerasmodels.distribute import make_distribution

        own = None if isinstance(arch, str) else arch
        if own is not None:
            if hparams:
                raise HyperparameterError(f"hyperparameters ({', '.join(hparams)}) go with an "
                                          "architecture name; set them in your model instead")
            from kerasmodels.imports.keras3 import model_config as config_of

            family, arch_hparams, defaults = "custom", {}, {}
            model_config = json.dumps(config_of(own), sort_keys=True, default=str)
            arch = run_name(getattr(own, "name", "") or "model")
        else:
            spec = get_architecture(arch)
            spec.check_hparams(hparams)
            family, arch_hparams, defaults, model_config = (spec.family, spec.hparams,
                                                            spec.training, None)
        dist = make_distribution(distribution)  # first: MultiWorkerMirroredStrategy must lead
        epochs = defaults.get("epochs", TRAINING["epochs"].default) if epochs is None else epochs
        learning_rate = (defaults.get("learning_rate", TRAINING["learning_rate"].default)
                         if learning_rate is None else learning_rate)
        check_all(TRAINING, {
            "epochs": epochs, "learning_rate": learning_rate, "strategy": strategy,
            "optimizer": optimizer, "schedule": schedule or "constant",
            "regularizer": regularizer or "none", "reg_strength": reg_strength,
            "reg_warmup_epochs": reg_warmup_epochs, "seed": seed,
            "early_stopping": early_stopping, "checkpoint_every": checkpoint_every},
            "training option")
        optimizer_options = dict(optimizer_options or {})
        make_optimizer(optimizer, learning_rate, **optimizer_options)  # validate before work
        make_regularizer(regularizer, reg_strength)
        data = load_dataset(dataset, **(dataset_options or {}))
        n_train = len(data.train[0])
        batch_size = resolve_batch_size(strategy, batch_size, n_train,
                                        defaults.get("batch_size", 32))
        plan = cls(arch, family, hparams, arch_hparams, own, model_config, data, epochs,
                   batch_size, -(-n_train // (batch_size * (dist.replicas if dist else 1))),
                   strategy, optimizer, optimizer_options, learning_rate, schedule,
                   schedule_options, regularizer, reg_strength, reg_warmup_epochs,
                   seed, early_stopping, checkpoint_every, dist)
        plan.learning_rate_schedule()  # its options checked before any work
        return plan

    def learning_rate_schedule(self) -> tuple[Any, list]:
        """The optimizer's learning rate (a number or a schedule) and the schedule's callbacks."""
        return make_schedule(self.schedule, self.learning_rate,
                             steps_per_epoch=self.steps_per_epoch, epochs=self.epochs,
                             **(self.schedule_options or {}))

    def key(self) -> str:
        """What identifies the call: an interrupted one is resumed by a call with this key."""
        config = {
            "arch": self.arch, "hparams": self.hparams, "dataset": self.data.name,
            "dataset_options": self.data.options, "epochs": self.epochs,
            "batch_size": self.batch_size, "strategy": self.strategy,
            "optimizer": self.optimizer, "optimizer_options": self.optimizer_options,
            "learning_rate": self.learning_rate, "schedule": self.schedule,
            "schedule_options": self.schedule_options,
            "regularizer": self.regularizer,
            "reg_strength": self.reg_strength if self.regularizer else None,
            "reg_warmup_epochs": self.reg_warmup_epochs, "seed": self.seed,
            "early_stopping": self.early_stopping,
            **({"model_config": self.model_config} if self.own_model is not None else {}),
        }
        return json.dumps(config, sort_keys=True, default=str)

    def scope(self):
        return self.dist.strategy.scope() if self.dist else contextlib.nullcontext()

    @property
    def multiworker(self) -> bool:
        return bool(self.dist and self.dist.kind == "multiworker")

    def build(self) -> tuple[Any, dict[str, Any] | None]:
        """The model, seeded (and where it came from, for one of yours)."""
        seed_everything(self.seed)
        with self.scope():  # clear errors before anything is written
            if self.own_model is not None:
                from kerasmodels.imports import own_model

                return own_model(self.own_model, self.data)
            return build_model(self.arch, self.data, **self.hparams), None

    def compile(self, model) -> tuple[Any, Any, list]:
        """``model`` regularized and compiled; its optimizer and the schedule's callbacks."""
        lr_or_schedule, schedule_callbacks = self.learning_rate_schedule()
        with self.scope():
            model = with_kernel_regularizer(
                model, make_regularizer(self.regularizer, self.reg_strength))
            opt = make_optimizer(self.optimizer, lr_or_schedule, **self.optimizer_options)
            compile_for(model, self.data.task, opt)
        return model, opt, schedule_callbacks


@dataclass(frozen=True)
class WorkFolder:
    """Where a run grows until it is complete (``<out_dir>/.partial/<key>/``)."""

    path: Path
    run_id: str
    out_dir: Path
    created_out_dir: bool

    @classmethod
    def open(cls, plan: TrainingPlan, out_dir: str | Path, resume: bool) -> WorkFolder:
        """The call's folder: the one an interrupted call left (``resume``), or a new one."""
        out_dir = Path(out_dir)
        created_out_dir = not out_dir.exists()
        key = hashlib.sha256(plan.key().encode()).hexdigest()[:12]
        work = out_dir / PARTIAL / f"{plan.arch}-{slug(plan.data.name)}-{key}"
        if plan.dist and not plan.dist.is_chief:  # only the chief writes under out_dir
            work = Path(tempfile.mkdtemp(prefix=f"kerasmodels-worker{plan.dist.task_index}-"))
        if work.exists() and (not resume or plan.multiworker):  # workers start from one state
            remove_tree(work)
        if (work / WORK_CONFIG).exists():
            run_id = read_json(work / WORK_CONFIG)["run_id"]
        else:
            work.mkdir(parents=True, exist_ok=True)
            run_id = new_run_id(plan.arch, plan.data.name, out_dir)
            write_json(work / WORK_CONFIG, {**json.loads(plan.key()), "run_id": run_id})
        return cls(work, run_id, out_dir, created_out_dir)


@documented(TRAINING)
def train(
    arch: str | Any = DEFAULT_ARCH,
    dataset: str | Dataset = DEFAULT_DATASET,
    *,
    epochs: int | None = None,
    batch_size: int | None = None,
    strategy: str = TRAINING["strategy"].default,
    optimizer: str = TRAINING["optimizer"].default,
    learning_rate: float | None = None,
    optimizer_options: dict[str, Any] | None = None,
    schedule: str | None = None,
    schedule_options: dict[str, Any] | None = None,
    regularizer: str | None = None,
    reg_strength: float = TRAINING["reg_strength"].default,
    reg_warmup_epochs: int | None = None,
    seed: int = TRAINING["seed"].default,
    out_dir: str | Path = RUNS_DIR,
    early_stopping: int | None = None,
    resume: bool = True,
    checkpoint_every: float = TRAINING["checkpoint_every"].default,
    verbose: int = 1,
    dataset_options: dict[str, Any] | None = None,
    callbacks: list | tuple = (),
    on_epoch_end: Callable[[int, dict[str, float]], None] | None = None,
    distribution: str | None = None,
    **hparams: Any,
) -> Run | None:
    """Train ``arch`` on ``dataset`` and save the run.

    Every option is declared once (default, accepted values, meaning) in ``km.TRAINING``, which
    the CLI, the dashboard and the search read too; the options below without their own text
    come from that table. Unset ``epochs``, ``batch_size`` and ``learning_rate`` take the
    architecture's defaults. A call interrupted (Ctrl-C, a kill, a crash) and made again
    continues from its last saved state and ends with the weights an uninterrupted call gives.

    Args:
        arch: a registered architecture (``km.architecture_names()``), or your own uncompiled
            Keras model (tf_keras or Keras 3): it is copied, checked to fit the dataset, and
            trained like any architecture.
        dataset: a dataset name (``km.load_dataset``) or a Dataset.
        optimizer_options: the optimizer's own options (``{"momentum": 0.9}``, ``{"beta_2":
            0.99}``).
        schedule_options: the schedule's options (``{"decay_rate": 0.5}``).
        out_dir: the runs folder the run is saved in.
        resume: continue an interrupted call with the same arguments from its saved state.
        verbose: 0 silent, 1 a progress bar per epoch.
        dataset_options: options of a dataset given by name (``{"classes": [0, 1]}``).
        callbacks: Keras callbacks added to the fit.
        on_epoch_end: ``f(epoch, logs)`` called after each epoch.
        distribution: ``"mirrored"`` (every local device) or ``"multiworker"`` (the cluster in
            ``TF_CONFIG``, see ``km.launch``); only the chief saves the run.
        **hparams: the architecture's hyperparameters (``km.get_architecture(arch).hparams``).

    Returns:
        The saved Run (its folder under ``out_dir``), or None on a multi-worker run's other
        workers.

    Raises:
        UnknownNameError: an unknown architecture, dataset, optimizer, schedule or
            hyperparameter.
        HyperparameterError: a value an option refuses (the accepted range named).
        InputShapeError: a model of your own whose input or outputs do not fit the dataset.
        TrainingDivergedError: the loss or the weights became NaN or infinite (the epoch and
            step named; nothing is saved).

    Examples:
        >>> import kerasmodels as km
        >>> run = km.train("linear", "digits", epochs=2, verbose=0)
        >>> sorted(run.metrics), run.manifest["training"]["epochs"]
        (['test', 'train', 'val'], 2)
        >>> run.predict(km.load_dataset("digits").test[0][:3]).shape
        (3, 10)
    """
    plan = TrainingPlan.resolve(
        arch, dataset, hparams, epochs=epochs, batch_size=batch_size, strategy=strategy,
        optimizer=optimizer, learning_rate=learning_rate, optimizer_options=optimizer_options,
        schedule=schedule, schedule_options=schedule_options, regularizer=regularizer,
        reg_strength=reg_strength, reg_warmup_epochs=reg_warmup_epochs, seed=seed,
        early_stopping=early_stopping, checkpoint_every=checkpoint_every,
        dataset_options=dataset_options, distribution=distribution)
    model, source = plan.build()
    work = WorkFolder.open(plan, out_dir, resume)
    model, opt, schedule_callbacks = plan.compile(model)
    guard, cbs, start_epoch = _callbacks(plan, work, model, schedule_callbacks, callbacks,
                                         on_epoch_end, verbose)
    seconds = _fit(plan, model, cbs, guard, start_epoch)
    if guard.diverged_at is not None:
        discard(work.path, work.out_dir if work.created_out_dir else None)
        epoch, batch = guard.diverged_at
        where = f"epoch {epoch}" + (f", batch {batch}" if batch > 0 else "")
        raise TrainingDivergedError(
            f"training diverged: the loss or weights became NaN/inf at {where} with "
            f"learning_rate={plan.learning_rate}; the run is marked failed and nothing was "
            "saved. Lower the learning rate (try 1e-3) or add a regularizer")
    return _save(plan, work, model, opt, seconds=seconds, start_epoch=start_epoch,
                 source=source)


def _callbacks(plan: TrainingPlan, work: WorkFolder, model, schedule_callbacks: list,
               callbacks, on_epoch_end, verbose: int) -> tuple[DivergenceGuard, list, int]:
    """The divergence guard, every callback of the fit in order, and the epoch the fit starts
    from (where an interrupted call stopped)."""
    history_cb = EpochHistory(work.path / HISTORY)
    guard = DivergenceGuard(plan.steps_per_epoch)
    guard.watch(model)
    cbs = [guard, *schedule_callbacks]
    if plan.regularizer is not None and plan.reg_warmup_epochs:
        strength, warmup = plan.reg_strength, plan.reg_warmup_epochs
        cbs.append(RegularizationSchedule(
            lambda epoch: strength * min(1.0, (epoch + 1) / warmup)))
    cbs += [WeightStatistics(), history_cb, EpochSummaries(work.path / LOGS), *callbacks]
    if on_epoch_end is not None:
        cbs.append(keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: on_epoch_end(
                epoch, {k: float(v) for k, v in (logs or {}).items()})))
    if plan.early_stopping:
        cbs.append(keras.callbacks.EarlyStopping(patience=plan.early_stopping,
                                                 restore_best_weights=True))
    start_epoch = 0
    if not plan.multiworker:  # a resume needs every worker's state: multi-worker runs restart
        state = TrainingState(work.path / RESUME_DIR, stateful_callbacks=cbs,
                              every_seconds=plan.checkpoint_every)
        start_epoch = state.restore(model)
        history_cb.keep_epochs(start_epoch)
        cbs.append(state)
    if start_epoch:
        LOG.info("Resuming %s from epoch %d of %d", work.run_id, start_epoch, plan.epochs)
    if verbose:
        cbs.append(ProgressBar(plan.epochs, description=work.run_id, initial=start_epoch))
    return guard, cbs, start_epoch


def _fit(plan: TrainingPlan, model, cbs: list, guard: DivergenceGuard,
         start_epoch: int) -> float:
    """Fit from ``start_epoch``; the seconds it took. A diverged loss stops it (the guard
    knows where); a lost worker of a multi-worker run is one clear error."""
    (x, y), val = plan.data.fitting("train"), plan.data.fitting("val")
    started = time.perf_counter()
    try:
        if plan.dist:
            from kerasmodels.distribute import distributed_dataset

            global_batch = plan.batch_size * plan.dist.replicas
            model.fit(distributed_dataset(x, y, global_batch, shuffle=True, seed=plan.seed),
                      validation_data=distributed_dataset(*val, global_batch, shuffle=False,
                                                          seed=plan.seed),
                      epochs=plan.epochs, initial_epoch=start_epoch, callbacks=cbs, verbose=0)
        elif start_epoch < plan.epochs:
            batches = epoch_batches(x, y, plan.batch_size, seed=plan.seed,
                                    first_epoch=start_epoch, epochs=plan.epochs)
            model.fit(batches, steps_per_epoch=plan.steps_per_epoch,
                      validation_data=validation_batches(val, plan.batch_size),
                      validation_batch_size=plan.batch_size, epochs=plan.epochs,
                      initial_epoch=start_epoch, callbacks=cbs, verbose=0)
    except tf.errors.InvalidArgumentError as exc:
        if not guard.caught(exc):
            raise
        for callback in cbs:  # fit stopped by raising: close the bar and the summary files
            callback.on_train_end()
    except (tf.errors.UnavailableError, tf.errors.InternalError,
            tf.errors.DeadlineExceededError, tf.errors.CancelledError) as exc:
        if not plan.multiworker:
            raise
        from kerasmodels.distribute import lost_worker

        raise lost_worker(exc) from None
    return time.perf_counter() - started


def _save(plan: TrainingPlan, work: WorkFolder, model, opt, *, seconds: float,
          start_epoch: int, source: dict[str, Any] | None) -> Run | None:
    """Evaluate and save the run (the chief of a distributed run; the others return None)."""
    history = read_json(work.path / HISTORY) if (work.path / HISTORY).exists() else {}
    distributed, dist = None, plan.dist
    if dist:
        from kerasmodels.distribute import allreduce_ms, weights_digest

        distributed = {**dist.describe(plan.batch_size), "weights_sha256": weights_digest(model),
                       "allreduce_ms_per_step": round(allreduce_ms(dist, model), 3)}
        LOG.info("worker %d of %d: %d replicas, global batch %d, weights sha256 %s",
                 dist.task_index, dist.workers, dist.replicas, distributed["global_batch"],
                 distributed["weights_sha256"])
    metrics = evaluate(model, plan.data)  # every worker takes part in the collective evaluation
    if dist and not dist.is_chief:
        # saving reads the metrics' sync-on-read variables, an all-reduce every worker must
        # join: the others save to a scratch folder, in step with the chief
        save_keras_file(model, work.path / MODEL)
        discard(work.path)
        return None
    regularizer = plan.regularizer
    sections: dict[str, Any] = {"source": source} if source else {}
    manifest = new_manifest(
        work.run_id,
        arch={"name": plan.arch, "family": plan.family,
              "hparams": {**plan.arch_hparams, **plan.hparams},
              "params": int(model.count_params())},
        dataset=plan.data,
        metrics=metrics,
        training={
            "optimizer": {"name": plan.optimizer,
                          "config": _plain(keras.optimizers.serialize(opt))},
            "learning_rate": plan.learning_rate,
            "schedule": {"name": plan.schedule or "constant", **(plan.schedule_options or {})},
            "regularizer": ({"name": regularizer, "strength": plan.reg_strength,
                             "warmup_epochs": plan.reg_warmup_epochs} if regularizer else None),
            "strategy": plan.strategy, "epochs": plan.epochs,
            "epochs_run": len(history.get("epoch", [])), "batch_size": plan.batch_size,
            "steps_per_epoch": plan.steps_per_epoch, "seed": plan.seed,
            "early_stopping": plan.early_stopping, "distribution": distributed,
            "seconds": round(seconds, 3), "resumed_from_epoch": start_epoch or None,
        },
        **sections,
    )
    return save_run(model, manifest, history, work.out_dir, logs=work.path / LOGS,
                    work=work.path, dataset=plan.data)


def _plain(value: Any) -> Any:
    """A serialized Keras object as plain JSON values."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if isinstance(v, np.generic) else str(v)))


__all__ = ["STRATEGIES", "TrainingPlan", "WorkFolder", "train"]
