"""``train()``: dataset + architecture + optimizer -> a Run on disk.

Interrupted runs resume: progress lives in ``<out_dir>/.partial/<key>/`` (the training state
of :mod:`kerasmodels.resume`, the history so far, TensorBoard logs) until the run is complete,
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
from kerasmodels.data import Dataset, load_dataset
from kerasmodels.errors import (
    HyperparameterError,
    TrainingDivergedError,
)
from kerasmodels.layout import LOGS, MODEL, PARTIAL, RESUME_DIR, WORK_CONFIG
from kerasmodels.logs import get_logger
from kerasmodels.model_files import save_keras_file
from kerasmodels.modeling import compile_for, evaluate, run_name, seed_everything
from kerasmodels.optimizers import make_optimizer
from kerasmodels.options import TRAINING, check_all
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


def train(
    arch: str | Any = DEFAULT_ARCH,
    dataset: str | Dataset = "digits",
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
    **hparams,
) -> Run | None:
    """Train ``arch`` on ``dataset`` and save the run; returns the Run.

    Every option is declared (default, accepted values, meaning) in
    :data:`kerasmodels.options.TRAINING`, which the CLI, the dashboard and the search read too.

    ``arch`` is a registry name (``km.architecture_names()``) or your own uncompiled Keras
    model (tf_keras or Keras 3, Sequential or functional): it is copied (rebuilt as tf_keras
    from Keras 3), checked to fit the dataset, and trained like any architecture; the run
    records where it came from (``source``).

    Unset ``epochs``, ``batch_size`` and ``learning_rate`` take the architecture's defaults
    (``km.get_architecture(arch).training``). ``strategy``: ``minibatch`` (``batch_size``
    examples per step), ``batch`` (full-batch gradient descent: one step per epoch) or
    ``sgd`` (one example per step). ``optimizer``: a name from
    :func:`kerasmodels.optimizers.optimizer_names` with ``optimizer_options`` (``beta_1``,
    ``momentum``, ...). ``schedule``: ``constant``, ``step``, ``exponential``, ``cosine`` or
    ``plateau``. ``regularizer``: ``l1``, ``l2`` or ``l1l2`` on every kernel at
    ``reg_strength``, ramped up linearly over ``reg_warmup_epochs``. ``early_stopping=N``
    stops after N epochs without a better validation loss and keeps the best weights.
    ``resume``: an interrupted run started again continues from its last saved state, which
    is saved at an epoch's end at most every ``checkpoint_every`` seconds (0: every epoch).
    ``on_epoch_end(epoch, logs)`` is called after each epoch (the dashboard's live charts).
    ``distribution``: ``"mirrored"`` (local devices) or ``"multiworker"`` (the cluster in
    ``TF_CONFIG``); ``batch_size`` is then per replica, and only the chief saves the run (the
    other workers return None). See :mod:`kerasmodels.distribute`.

    >>> import kerasmodels as km
    >>> run = km.train("mlp", "digits", epochs=2, out_dir="/tmp/km-doc", verbose=0)
    >>> sorted(run.metrics)
    ['test', 'train', 'val']
    """
    from kerasmodels.distribute import make_distribution

    own = not isinstance(arch, str)
    if own:
        if hparams:
            raise HyperparameterError(f"hyperparameters ({', '.join(hparams)}) go with an "
                                      "architecture name; set them in your model instead")
        family, arch_hparams, defaults = "custom", {}, {}
        from kerasmodels.imports.keras3 import model_config as config_of

        model_config = json.dumps(config_of(arch), sort_keys=True, default=str)
        model_object, arch = arch, run_name(getattr(arch, "name", "") or "model")
    else:
        spec = get_architecture(arch)
        spec.check_hparams(hparams)
        family, arch_hparams, defaults, model_config = spec.family, spec.hparams, spec.training, None
    dist = make_distribution(distribution)  # first: MultiWorkerMirroredStrategy must lead
    epochs = defaults.get("epochs", TRAINING["epochs"].default) if epochs is None else epochs
    learning_rate = (defaults.get("learning_rate", TRAINING["learning_rate"].default)
                     if learning_rate is None else learning_rate)
    check_all(TRAINING, {
        "epochs": epochs, "learning_rate": learning_rate, "strategy": strategy,
        "optimizer": optimizer, "schedule": schedule or "constant",
        "regularizer": regularizer or "none", "reg_strength": reg_strength,
        "reg_warmup_epochs": reg_warmup_epochs, "seed": seed, "early_stopping": early_stopping,
        "checkpoint_every": checkpoint_every}, "training option")
    optimizer_options = dict(optimizer_options or {})
    make_optimizer(optimizer, learning_rate, **optimizer_options)  # validate before any work
    reg = make_regularizer(regularizer, reg_strength)
    data = load_dataset(dataset, **(dataset_options or {}))
    n_train = len(data.train[0])
    batch_size = resolve_batch_size(strategy, batch_size, n_train, defaults.get("batch_size", 32))
    steps_per_epoch = -(-n_train // (batch_size * (dist.replicas if dist else 1)))
    lr_or_schedule, schedule_callbacks = make_schedule(
        schedule, learning_rate, steps_per_epoch=steps_per_epoch, epochs=epochs,
        **(schedule_options or {}))
    config = {
        "arch": arch, "hparams": hparams, "dataset": data.name, "dataset_options": data.options,
        "epochs": epochs, "batch_size": batch_size, "strategy": strategy, "optimizer": optimizer,
        "optimizer_options": optimizer_options, "learning_rate": learning_rate,
        "schedule": schedule, "schedule_options": schedule_options, "regularizer": regularizer,
        "reg_strength": reg_strength if regularizer else None,
        "reg_warmup_epochs": reg_warmup_epochs, "seed": seed, "early_stopping": early_stopping,
        **({"model_config": model_config} if own else {}),
    }
    seed_everything(seed)
    def scope():
        return dist.strategy.scope() if dist else contextlib.nullcontext()

    source = None
    with scope():  # clear errors before anything is written
        if own:
            from kerasmodels.imports import own_model

            model, source = own_model(model_object, data)
        else:
            model = build_model(arch, data, **hparams)
    out_dir = Path(out_dir)
    created_out_dir = not out_dir.exists()
    key = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:12]
    work = out_dir / PARTIAL / f"{arch}-{slug(data.name)}-{key}"
    if dist and not dist.is_chief:  # only the chief writes under out_dir
        work = Path(tempfile.mkdtemp(prefix=f"kerasmodels-worker{dist.task_index}-"))
    multiworker = bool(dist and dist.kind == "multiworker")
    if work.exists() and (not resume or multiworker):  # workers must start from one state
        remove_tree(work)
    if (work / WORK_CONFIG).exists():
        run_id = read_json(work / WORK_CONFIG)["run_id"]
    else:
        work.mkdir(parents=True, exist_ok=True)
        run_id = new_run_id(arch, data.name, out_dir)
        write_json(work / WORK_CONFIG, {**config, "run_id": run_id})

    with scope():
        model = with_kernel_regularizer(model, reg)
        opt = make_optimizer(optimizer, lr_or_schedule, **optimizer_options)
        compile_for(model, data.task, opt)

    history_cb = EpochHistory(work / HISTORY)
    guard = DivergenceGuard(steps_per_epoch)
    guard.watch(model)
    cbs = [guard, *schedule_callbacks]
    if reg is not None and reg_warmup_epochs:
        cbs.append(RegularizationSchedule(
            lambda epoch: reg_strength * min(1.0, (epoch + 1) / reg_warmup_epochs)))
    cbs += [WeightStatistics(), history_cb,
            EpochSummaries(work / LOGS),
            *callbacks]
    if on_epoch_end is not None:
        cbs.append(keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: on_epoch_end(
                epoch, {k: float(v) for k, v in (logs or {}).items()})))
    if early_stopping:
        cbs.append(keras.callbacks.EarlyStopping(patience=early_stopping, restore_best_weights=True))
    start_epoch = 0
    if not multiworker:  # a resume needs every worker's state: multi-worker runs start over
        state = TrainingState(work / RESUME_DIR, stateful_callbacks=cbs,
                              every_seconds=checkpoint_every)
        start_epoch = state.restore(model)
        history_cb.keep_epochs(start_epoch)
        cbs.append(state)
    if start_epoch:
        LOG.info("Resuming %s from epoch %d of %d", run_id, start_epoch, epochs)
    if verbose:
        cbs.append(ProgressBar(epochs, description=run_id, initial=start_epoch))
    (x, y), val = data.train, data.val
    started = time.perf_counter()
    try:
        if dist:
            from kerasmodels.distribute import distributed_dataset

            global_batch = batch_size * dist.replicas
            model.fit(distributed_dataset(x, y, global_batch, shuffle=True, seed=seed),
                      validation_data=distributed_dataset(*val, global_batch, shuffle=False,
                                                          seed=seed),
                      epochs=epochs, initial_epoch=start_epoch, callbacks=cbs, verbose=0)
        elif start_epoch < epochs:
            batches = epoch_batches(x, y, batch_size, seed=seed, first_epoch=start_epoch,
                                    epochs=epochs)
            model.fit(batches, steps_per_epoch=steps_per_epoch, validation_data=val,
                      validation_batch_size=batch_size, epochs=epochs,
                      initial_epoch=start_epoch, callbacks=cbs, verbose=0)
    except tf.errors.InvalidArgumentError as exc:
        if not guard.caught(exc):
            raise
        for callback in cbs:  # fit stopped by raising: close the bar and the summary files
            callback.on_train_end()
    except (tf.errors.UnavailableError, tf.errors.InternalError,
            tf.errors.DeadlineExceededError, tf.errors.CancelledError) as exc:
        if not multiworker:
            raise
        from kerasmodels.distribute import lost_worker

        raise lost_worker(exc) from None
    seconds = time.perf_counter() - started

    if guard.diverged_at is not None:
        discard(work, out_dir if created_out_dir else None)
        epoch, batch = guard.diverged_at
        where = f"epoch {epoch}" + (f", batch {batch}" if batch > 0 else "")
        raise TrainingDivergedError(
            f"training diverged: the loss or weights became NaN/inf at {where} with "
            f"learning_rate={learning_rate}; the run is marked failed and nothing was saved. "
            "Lower the learning rate (try 1e-3) or add a regularizer"
        )

    history = read_json(work / HISTORY) if (work / HISTORY).exists() else {}
    distributed = None
    if dist:
        from kerasmodels.distribute import allreduce_ms, weights_digest

        distributed = {**dist.describe(batch_size), "weights_sha256": weights_digest(model),
                       "allreduce_ms_per_step": round(allreduce_ms(dist, model), 3)}
        LOG.info("worker %d of %d: %d replicas, global batch %d, weights sha256 %s",
                 dist.task_index, dist.workers, dist.replicas, distributed["global_batch"],
                 distributed["weights_sha256"])
    metrics = evaluate(model, data)  # every worker takes part in the collective evaluation
    if dist and not dist.is_chief:
        # saving reads the metrics' sync-on-read variables, an all-reduce every worker must
        # join: the others save to a scratch folder, in step with the chief
        save_keras_file(model, work / MODEL)
        discard(work)
        return None
    manifest = new_manifest(
        run_id,
        arch={"name": arch, "family": family, "hparams": {**arch_hparams, **hparams},
              "params": int(model.count_params())},
        dataset=data,
        metrics=metrics,
        training={
            "optimizer": {"name": optimizer, "config": _plain(keras.optimizers.serialize(opt))},
            "learning_rate": learning_rate,
            "schedule": {"name": schedule or "constant", **(schedule_options or {})},
            "regularizer": ({"name": regularizer, "strength": reg_strength,
                             "warmup_epochs": reg_warmup_epochs} if regularizer else None),
            "strategy": strategy, "epochs": epochs,
            "epochs_run": len(history.get("epoch", [])), "batch_size": batch_size,
            "steps_per_epoch": steps_per_epoch, "seed": seed, "early_stopping": early_stopping,
            "distribution": distributed, "seconds": round(seconds, 3),
            "resumed_from_epoch": start_epoch or None,
        },
        **({"source": source} if source else {}),
    )
    return save_run(model, manifest, history, out_dir, logs=work / LOGS, work=work,
                    dataset=data)


def _plain(value: Any) -> Any:
    """A serialized Keras object as plain JSON values."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if isinstance(v, np.generic) else str(v)))


__all__ = ["STRATEGIES", "train"]
