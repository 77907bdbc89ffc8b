"""Every task in one table: what a model of it is trained on, with what loss, and the one
figure its runs are ranked by.

Training, evaluation, the export parity check and the benchmark read this table and nothing
else; adding a task is one row here and one measure function.

- ``classification``: class probabilities, ranked by accuracy;
- ``regression``: one value, ranked by mean absolute error (lower is better);
- ``anomaly``: an autoencoder trained on normal examples only, which gives its input back;
  an example's anomaly score is its reconstruction error (the mean squared difference), and
  runs are ranked by the ROC AUC of that score against the labels (0 normal, 1 anomaly)
  on the validation or test split, as MLPerf Tiny's anomaly detection measures it.

>>> import numpy as np
>>> from kerasmodels.tasks import get_task
>>> x = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]], "float32")
>>> outputs = np.zeros_like(x)  # reconstructs only the first and last example
>>> get_task("anomaly").measure(outputs, x, np.array([0, 1, 0]))["auc"]
1.0
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from kerasmodels.errors import UnknownNameError

NORMAL, ANOMALY = 0, 1  # an anomaly dataset's labels
THRESHOLD_PERCENTILE = 90  # of the normal training examples' scores: above it, an anomaly


SCORE_CHUNK = 4096  # examples compared at a time (a streamed split is read a chunk at a time)


def reconstruction_error(outputs: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Each example's anomaly score: the mean squared difference between a reconstruction and
    its input (MLPerf Tiny's ``anomaly_detection/01_test.py``), a chunk at a time."""
    from kerasmodels.data.stream import on_disk, read_rows

    scores = np.empty(len(outputs), "float64")
    for start in range(0, len(outputs), SCORE_CHUNK):
        end = min(start + SCORE_CHUNK, len(outputs))
        given = read_rows(x, np.arange(start, end)) if on_disk(x) else x[start:end]
        error = (np.asarray(outputs[start:end], "float64") - np.asarray(given, "float64")) ** 2
        scores[start:end] = error.reshape(end - start, -1).mean(axis=1)
    return scores


def _classification(outputs, x, y) -> dict[str, float]:
    picked = np.clip(outputs[np.arange(len(y)), y], 1e-7, 1.0)
    return {"loss": float(-np.log(picked).mean()),
            "accuracy": float((outputs.argmax(-1) == y).mean())}


def _regression(outputs, x, y) -> dict[str, float]:
    error = np.asarray(outputs, "float64").ravel() - np.asarray(y, "float64").ravel()
    return {"loss": float((error ** 2).mean()), "mae": float(np.abs(error).mean())}


def _anomaly(outputs, x, y) -> dict[str, float]:
    """``anomaly_metrics`` of the reconstruction errors."""
    return anomaly_metrics(reconstruction_error(outputs, x), y)


def anomaly_metrics(scores: np.ndarray, y) -> dict[str, float]:
    """The mean reconstruction error (``loss``); on a split of normal examples only (the
    training split), the decision ``threshold``: the score ``THRESHOLD_PERCENTILE`` percent of
    them stay below (DCASE's baseline fits a gamma distribution for the same line); where the
    split holds both normal and anomalous examples, the ROC AUC of the anomaly score (``auc``)
    and its partial AUC up to a false-positive rate of 0.1 (``pauc``, DCASE's second figure,
    standardized)."""
    from sklearn.metrics import roc_auc_score

    result = {"loss": float(scores.mean())}
    y = np.asarray(y)
    if len(y) and (y == NORMAL).all():  # the training split: where a detector draws its line
        result["threshold"] = float(np.percentile(scores, THRESHOLD_PERCENTILE))
    if len(np.unique(y)) == 2:
        result["auc"] = float(roc_auc_score(y, scores))
        result["pauc"] = float(roc_auc_score(y, scores, max_fpr=0.1))
    return result


def _accuracy_of(outputs: np.ndarray, y) -> float:
    return float((outputs.argmax(-1) == y).mean())


def _mae_of(outputs: np.ndarray, y) -> float:
    return float(np.abs(np.asarray(outputs, "float64").ravel()
                        - np.asarray(y, "float64").ravel()).mean())


def _auc_of(scores: np.ndarray, y) -> float:
    """The ROC AUC of ``scores`` against labels ``y`` (1: anomaly), from the ranks
    (Mann-Whitney U; ties share their mean rank): what ``roc_auc_score`` gives, many times
    faster, for a bootstrap's thousand resamples. NaN with one class only."""
    from scipy.stats import rankdata

    y = np.asarray(y)
    positives = int((y == ANOMALY).sum())
    negatives = len(y) - positives
    if not positives or not negatives:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[y == ANOMALY].sum() - positives * (positives + 1) / 2)
                 / (positives * negatives))


@dataclass(frozen=True)
class Task:
    """One row of the table.

    Attributes:
        name: what a dataset's ``task`` says.
        loss: the Keras loss a model of it trains with.
        metrics: the Keras metrics compiled with it (shown per epoch).
        score: the figure runs are ranked by (a key of ``measure``'s result).
        higher_is_better: whether a larger ``score`` is a better run.
        reconstructs: the model is trained to give back its input (the targets are the inputs).
        measurer: ``(outputs, x, y) -> {metric: value}`` on a split, ``loss`` among them.
        score_of: ``(per_example, y) -> score`` alone (``per_example``: the outputs, or the
            ``scorer``'s scores), fast: what a bootstrap measures on each resample.
        scorer: for a task measured through one score per example (anomaly detection),
            ``(outputs, x) -> scores``; with ``from_scores``, ``(scores, y) -> {metric:
            value}``, a split too large for memory is measured a batch at a time.
    """

    name: str
    loss: str
    metrics: tuple[str, ...]
    score: str
    higher_is_better: bool
    measurer: Callable[[Any, Any, Any], dict[str, float]]
    score_of: Callable[[np.ndarray, Any], float]
    reconstructs: bool = False
    scorer: Callable[[Any, Any], np.ndarray] | None = None
    from_scores: Callable[[np.ndarray, Any], dict[str, float]] | None = None
    label_names: tuple[str, ...] = ()  # what its labels mean, when the dataset names none
    description: str = ""

    def targets(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """What a model is fit to on a split whose inputs are ``x`` and labels ``y``."""
        return x if self.reconstructs else y

    def measure(self, outputs, x, y) -> dict[str, float]:
        """Every metric of this task from a model's ``outputs`` on ``x`` (labels ``y``)."""
        return self.measurer(np.asarray(outputs), x, y)

    def per_example(self, outputs, x) -> np.ndarray:
        """What the score is measured from, one entry per example (the outputs themselves,
        or the anomaly score of each): resampled by a bootstrap without the inputs."""
        return self.scorer(outputs, x) if self.scorer else np.asarray(outputs)

    def from_examples(self, per_example: np.ndarray, y) -> float:
        """The score of ``per_example``'s entries with labels ``y`` (NaN where it is not
        defined: an AUC of one class)."""
        return self.score_of(per_example, y)

    def better(self, a: float, b: float) -> bool:
        """Whether score ``a`` is better than ``b``."""
        return a > b if self.higher_is_better else a < b


TASKS: list[Task] = [
    Task("classification", "sparse_categorical_crossentropy", ("accuracy",), "accuracy", True,
         _classification, _accuracy_of, description="class probabilities; ranked by accuracy"),
    Task("regression", "mse", ("mae",), "mae", False, _regression, _mae_of,
         description="one value; ranked by mean absolute error"),
    Task("anomaly", "mse", (), "auc", True, _anomaly, _auc_of, reconstructs=True,
         scorer=reconstruction_error, from_scores=anomaly_metrics,
         label_names=("normal", "anomaly"),
         description="an autoencoder of normal examples; the reconstruction error is the "
                     "anomaly score, ranked by its ROC AUC"),
]


def task_names() -> list[str]:
    return [t.name for t in TASKS]


def get_task(name: str) -> Task:
    """The row called ``name``; an UnknownNameError listing the tasks otherwise."""
    for task in TASKS:
        if task.name == name:
            return task
    raise UnknownNameError("task", name, task_names())


def label_name(task: str, labels: list[str] | None, y: int | float) -> str:
    """What label ``y`` of a dataset of ``task`` means: its name in ``labels``, the task's own
    name for it (an anomaly dataset's ``normal``/``anomaly``), or the value itself."""
    names = labels or next((t.label_names for t in TASKS if t.name == task), ())
    return str(names[int(y)]) if names and float(y).is_integer() and 0 <= y < len(names) \
        else str(y)


def score_of(task: str) -> str | None:
    """The metric runs of ``task`` are ranked by; None for a task outside the table (a
    pretraining run's ``pretraining:<objective>``)."""
    return next((t.score for t in TASKS if t.name == task), None)


__all__ = ["ANOMALY", "NORMAL", "TASKS", "Task", "anomaly_metrics", "get_task", "reconstruction_error",
           "label_name", "score_of", "task_names"]
