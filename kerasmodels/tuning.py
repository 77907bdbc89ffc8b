"""Hyperparameter search with Optuna: every trial is a run.

TPE proposes width and depth, optimizer, learning rate, schedule, regularizer and strength;
the median pruner stops a trial whose validation curve falls below the median of the earlier
trials at the same epoch (the run is still saved, with the epochs it ran). The first trial is
the architecture's defaults, so the search is measured against them. (keras-tuner does not
take tf_keras models, hence Optuna. The module is `tuning`, not `search`, so that importing it
does not shadow the function `km.search`.)

>>> result = km.search("mlp", "digits", trials=20, epochs=10)  # doctest: +SKIP
>>> result.best_run.metrics["val"]["accuracy"], result.best_params  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerasmodels.architectures import FAMILIES, QUICK_ARCH, family_of, get_architecture
from kerasmodels.data import DEFAULT_DATASET
from kerasmodels.errors import HyperparameterError, check_positive
from kerasmodels.layout import MANIFEST, RUNS_DIR, SEARCHES
from kerasmodels.options import TRAINING
from kerasmodels.runs import Run, load_run, write_json
from kerasmodels.studies import (
    HEARTBEAT_SECONDS,
    default_storage,
    fail_gone_local_trials,
    open_storage,
    open_study,
    shown,
    worker_attrs,
)
from kerasmodels.tasks import get_task

# the training options' declared search ranges (batch size only when asked for)
COMMON_SPACE: dict[str, Any] = {name: option.search for name, option in TRAINING.items()
                                if option.search is not None and name != "batch_size"}
TRAIN_OPTIONS = tuple(name for name, option in TRAINING.items() if option.search is not None)


def default_space(arch: str) -> dict[str, Any]:
    """The search space for ``arch``: its family's (its row's ``search_space``: width and
    depth, or its own hyperparameters) and the training options'."""

    return {**family_of(arch).search_space, **COMMON_SPACE}


@dataclass
class SearchResult:
    """``best_run`` (a Run; None when the best trial saved it on another machine, named by
    ``best_host``; its id is ``best_id``), ``best_params``, ``trials`` (one dict per trial of
    the study, every worker's), ``path`` (the summary) and ``study``."""

    best_run: Run | None
    best_params: dict[str, Any]
    trials: list[dict[str, Any]] = field(default_factory=list)
    path: Path | None = None
    study: str = ""
    best_id: str = ""  # the best trial's run id
    best_host: str | None = None


def to_train_options(arch: str, params: dict[str, Any]) -> dict[str, Any]:
    """Map sampled values to ``km.train`` keywords (``width`` and ``depth`` become the
    family's layer sizes: its row's ``width_of``)."""

    family = family_of(arch)
    options = {k: v for k, v in params.items() if k not in ("width", "depth")}
    if "width" in params or "depth" in params:
        if not family.width_of:
            having = sorted(f.name for f in FAMILIES.values() if f.width_of)
            raise HyperparameterError(
                f"width and depth apply to the {', '.join(having)} families; for {arch} search "
                f"its own hyperparameters ({', '.join(get_architecture(arch).hparams)})")
        defaults = get_architecture(arch).hparams[family.width_of]
        options[family.width_of] = family.widths(params.get("width") or defaults[0],
                                                 params.get("depth") or len(defaults))
    if options.get("regularizer") == "none":
        options["regularizer"] = None
        options.pop("reg_strength", None)
    if options.get("schedule") == "constant":
        options["schedule"] = None
    return options


def _check_entry(name: str, spec) -> None:
    """A list of choices, or ``(low, high)`` / ``(low, high, "log")`` with low < high."""
    if isinstance(spec, list):
        if not spec:
            raise HyperparameterError(f"search space entry {name!r} is an empty list: give at "
                                      "least one choice")
        return
    if isinstance(spec, tuple) and len(spec) in (2, 3) and \
            all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in spec[:2]) and \
            (len(spec) == 2 or spec[2] == "log"):
        low, high = spec[:2]
        if not low < high:
            raise HyperparameterError(f"search space entry {name!r}: low {low} must be below "
                                      f"high {high}")
        if len(spec) == 3 and low <= 0:
            raise HyperparameterError(f"search space entry {name!r}: a log range needs low > 0")
        return
    raise HyperparameterError(f"search space entry {name!r} must be a list of choices or "
                              f"(low, high[, 'log']), got {spec!r}")


def _suggest(trial, name: str, spec):
    if isinstance(spec, list):
        return trial.suggest_categorical(name, spec)
    low, high, *scale = spec
    log = scale == ["log"]
    if isinstance(low, int) and isinstance(high, int) and not log:
        return trial.suggest_int(name, low, high)
    return trial.suggest_float(name, float(low), float(high), log=log)


def search(arch: str = QUICK_ARCH, dataset: str = DEFAULT_DATASET, *, trials: int = 20,
           timeout: float | None = None,
           space: dict[str, Any] | None = None, out_dir: str | Path = RUNS_DIR,
           epochs: int | None = None, seed: int = 0, storage: str | None = None,
           study: str | None = None, heartbeat_seconds: float = HEARTBEAT_SECONDS,
           progress: bool = True) -> SearchResult:
    """Search ``space`` (default: ``default_space``) with TPE and the median pruner.

    Every trial trains and saves a run in ``out_dir``. The trials live in an Optuna study in
    ``storage`` (``kerasmodels.studies``): by default the runs folder's SQLite file, so a
    killed search started again resumes with the trials it finished; a database URL
    (``postgresql://...``) shared by processes on several machines makes them one search,
    ``trials`` in all. The objective is the validation accuracy (classification), the
    validation ROC AUC (anomaly detection) or minus the validation loss (regression) of each
    trial's saved run. The summary goes to ``<out_dir>/.searches/<study>.json``.

    Args:
        arch: a registered architecture.
        dataset: a dataset name (``digits``, ``csv:...``).
        trials: finished trials the study ends with, all workers together (a trial pruned
            early counts; one whose worker died is run again).
        timeout: seconds this process searches at most.
        space: ``{name: [choices] | (low, high[, "log"])}``.
        out_dir: the runs folder this process's trials save their runs in.
        epochs: per trial (default: the architecture's).
        seed: the sampler's and the training's seed.
        storage: a database URL (default: ``<out_dir>/.searches/searches.db``).
        study: the study's name (default: from the architecture, dataset, epochs, space and
            seed, so the same search started again is the same study).
        heartbeat_seconds: how often a running trial says it is alive; a trial silent for
            three of these is failed and run again by the next worker.
        progress: a bar of this study's finished trials.

    Returns:
        A SearchResult: the best trial's run (None if it was saved on another machine:
        ``best_host`` says which), its parameters, every trial of the study.

    Raises:
        HyperparameterError: a bad space, trial count or timeout; no trial completed.
        StorageError: a malformed or unreachable storage, or a study made for another search.

    Examples:
        Two short trials here; several machines share one search through a database URL
        (``storage="postgresql://km@db/km", study="mlp-digits"`` on each):

        >>> import kerasmodels as km
        >>> result = km.search("linear", "digits", trials=2, epochs=1, progress=False)
        >>> len(result.trials), result.best_run.arch
        (2, 'linear')
        >>> sorted(result.best_params)[:2]
        ['learning_rate', 'optimizer']
    """
    import optuna

    from kerasmodels.data import load_dataset

    spec = get_architecture(arch)
    check_positive("trials", trials, integer=True)
    check_positive("heartbeat_seconds", heartbeat_seconds)
    if timeout is not None:
        check_positive("timeout", timeout)
    space = _checked_space(arch, space)
    epochs = epochs or spec.training.get("epochs", TRAINING["epochs"].default)
    url = default_storage(out_dir) if storage is None else storage
    store = open_storage(url, heartbeat_seconds)  # before the data: a bad URL costs nothing
    data = load_dataset(dataset)
    identity = {"arch": arch, "dataset": data.name, "epochs": epochs, "seed": seed,
                "space": {k: list(v) if isinstance(v, tuple) else v for k, v in space.items()}}
    name = study or default_study_name(identity)
    found = open_study(store, name, {"kind": "search", **identity},
                       sampler=optuna.samplers.TPESampler(seed=seed),
                       pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2))
    if not found.trials:  # trial 0: the defaults, the bar to beat
        found.enqueue_trial({k: v for k, v in _default_params(arch).items()
                             if k in space and _within(v, space[k])})
    objective = Objective(arch, data, space, epochs=epochs, seed=seed, out_dir=out_dir)
    if "objective" not in found.user_attrs:
        found.set_user_attr("objective", f"val_{objective.score}" if objective.score
                            else "-val_loss")
    fail_gone_local_trials(found, store)  # this machine's killed search: its trial runs again now
    if finished(found) < trials:  # a study already done is read, not searched again
        optimize(found, objective, trials, timeout, progress)
    return summarize(found, url, out_dir)


def optimize(study, objective, trials: int, timeout: float | None, progress: bool) -> None:
    """Run ``objective``'s trials until the study (every worker's) has ``trials`` finished."""
    import optuna

    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    callbacks: list[Any] = [optuna.study.MaxTrialsCallback(trials, states=done)]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=trials, initial=finished(study), desc=f"search {study.study_name}",
                   unit="trial")
        callbacks.append(lambda found, trial: bar.update(finished(found) - bar.n))
    try:
        study.optimize(objective, timeout=timeout, callbacks=callbacks,
                       catch=(HyperparameterError,))
    finally:
        if bar is not None:
            bar.close()


def default_study_name(identity: dict[str, Any]) -> str:
    """``<arch>-<dataset>-<8 hex digits of what it searches>``."""
    import hashlib
    import json

    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode())
    return f"{identity['arch']}-{identity['dataset']}-{digest.hexdigest()[:8]}"


def finished(study) -> int:
    """The study's trials that count towards its total: complete or pruned."""
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=states))


def summarize(study, url: str, out_dir: str | Path) -> SearchResult:
    """The study's result, from its trials (every worker's), written to
    ``<out_dir>/.searches/<study>.json``."""
    import optuna

    records = [{"number": t.number, "state": t.state.name.lower(), "params": t.params,
                "value": t.value, "run": None, **t.user_attrs} for t in study.trials]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise HyperparameterError("no trial completed: widen the space or raise the timeout")
    best = study.best_trial
    path = Path(best.user_attrs["path"])
    best_run = load_run(path) if (path / MANIFEST).is_file() else None
    attrs = study.user_attrs
    summary = Path(out_dir) / SEARCHES / f"{study.study_name}.json"
    write_json(summary, {
        "study": study.study_name, "storage": shown(url), "arch": attrs["arch"],
        "dataset": attrs["dataset"], "epochs": attrs["epochs"], "space": attrs["space"],
        "objective": attrs.get("objective"),
        "best": {"number": best.number, "value": best.value, "params": best.params,
                 "run": best.user_attrs.get("run"), "host": best.user_attrs.get("host")},
        "defaults": records[0] if records else None, "trials": records})
    return SearchResult(best_run, best.params, records, summary, study=study.study_name,
                        best_id=best.user_attrs.get("run", ""),
                        best_host=best.user_attrs.get("host"))


def _checked_space(arch: str, space: dict[str, Any] | None) -> dict[str, Any]:
    """The space to search (default: ``default_space``), every entry checked before any
    trial trains."""
    hparams = get_architecture(arch).hparams
    space = default_space(arch) if space is None else dict(space)
    if not space:
        raise HyperparameterError("the search space is empty: give at least one entry, e.g. "
                                  "{'learning_rate': (1e-4, 1e-2, 'log')}")
    unknown = set(space) - set(TRAIN_OPTIONS) - set(hparams) - {"width", "depth"}
    if unknown:
        raise HyperparameterError(f"search space entries {sorted(unknown)} are neither train "
                                  f"options ({', '.join(TRAIN_OPTIONS)}) nor {arch} "
                                  f"hyperparameters ({', '.join(hparams)})")
    for name, entry in space.items():
        _check_entry(name, entry)
    return space


class Objective:
    """A search's objective: each trial trains and saves a run; its value is the saved run's
    validation accuracy (its ROC AUC for anomaly detection, minus its validation loss for a
    regression; the pruner sees the validation accuracy or loss of each epoch). What each
    trial made is kept in its user attributes (run id and path, host, scores)."""

    def __init__(self, arch: str, data, space: dict[str, Any], *, epochs: int, seed: int,
                 out_dir: str | Path):
        self.arch, self.data, self.space = arch, data, space
        self.epochs, self.seed, self.out_dir = epochs, seed, out_dir
        self.classification = data.task == "classification"
        self.monitor = "val_accuracy" if self.classification else "val_loss"  # each epoch
        task = get_task(data.task)
        self.score = task.score if task.higher_is_better else None  # of the saved run

    def __call__(self, trial):
        import optuna

        from kerasmodels.training import train

        params = {name: _suggest(trial, name, entry) for name, entry in self.space.items()}
        options = to_train_options(self.arch, params)
        report = self.reporter(trial)
        for key, value in worker_attrs().items():  # which worker runs it
            trial.set_user_attr(key, value)
        run = train(self.arch, self.data, epochs=self.epochs, seed=self.seed,
                    out_dir=self.out_dir, verbose=0, callbacks=[report], **options)
        # the objective is what the saved run scores (its last epoch's weights), not the best
        # epoch seen while training: otherwise best_run need not score the best value
        value = (run.metrics["val"][self.score] if self.score
                 else -run.metrics["val"]["loss"])
        # kept in the study, where every worker's trials are read back from
        for key, item in (("run", run.id), ("path", str(run.path.resolve())),
                          ("val", run.metrics["val"]), ("test", run.metrics["test"]),
                          ("epochs_run", run.record.training["epochs_run"])):
            trial.set_user_attr(key, item)
        if report.pruned:
            raise optuna.TrialPruned()
        return value

    def reporter(self, trial):
        """A callback reporting the best value so far each epoch; it stops a trial the median
        pruner prunes."""
        from kerasmodels.backend import keras

        monitor, classification = self.monitor, self.classification

        class Report(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.best, self.pruned = None, False

            def on_epoch_end(self, epoch, logs=None):
                value = float((logs or {}).get(monitor, float("nan")))
                value = value if classification else -value
                self.best = value if self.best is None else max(self.best, value)
                trial.report(self.best, epoch)
                if trial.should_prune():
                    self.pruned = True
                    self.model.stop_training = True

        return Report()


def _within(value: Any, values: Any) -> bool:
    """Whether the space's entry (a list of choices or a ``(low, high[, "log"])`` range) holds
    ``value``: a default outside it is sampled, not enqueued (Optuna would warn and use it)."""
    if isinstance(values, tuple):
        return isinstance(value, (int, float)) and values[0] <= value <= values[1]
    return value in values


def _default_params(arch: str) -> dict[str, Any]:
    """The architecture's defaults expressed in the default space's names."""

    spec = get_architecture(arch)
    params: dict[str, Any] = {name: TRAINING[name].default for name in TRAIN_OPTIONS}
    params.update({k: v for k, v in spec.training.items() if k in params})
    hparams = spec.hparams
    width_of = family_of(arch).width_of
    if width_of:
        params.update(width=hparams[width_of][0], depth=len(hparams[width_of]))
    params.update(hparams)
    return params


__all__ = ["SearchResult", "default_space", "search"]
