"""What every stage does to a model: clone, compile, evaluate, seed, name a run, find kernels.

The lowest layer above the backend: training, imports, compression, pretraining and the lab
all use these, and this module imports none of them.

Example:
    >>> from kerasmodels.modeling import run_name
    >>> run_name("my-cnn")
    'my-cnn'
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from kerasmodels.backend import keras, tf
from kerasmodels.errors import HyperparameterError
from kerasmodels.tasks import get_task

if TYPE_CHECKING:
    from kerasmodels.data import Dataset


def seed_everything(seed: int) -> None:
    """Python, numpy and TensorFlow seeds, and deterministic TensorFlow ops."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def compile_for(model, task: str, optimizer) -> None:
    """Compile ``model`` with ``task``'s loss and metrics (``kerasmodels.tasks.TASKS``)."""
    row = get_task(task)
    model.compile(optimizer=optimizer, loss=row.loss, metrics=list(row.metrics))


def evaluate(model, dataset: Dataset, batch_size: int = 256) -> dict[str, dict[str, float]]:
    """Loss and metrics of a compiled model on the train, val and test splits (an anomaly
    run's from its reconstructions: the mean error and the ROC AUC of the anomaly score)."""
    from kerasmodels.data.stream import batches, on_disk

    task = get_task(dataset.task)
    out = {}
    for split in ("train", "val", "test"):
        x, y = getattr(dataset, split)
        streamed = on_disk(x)  # read a batch at a time, never mapped whole
        if streamed and task.scorer and task.from_scores:  # a score per example, by batch
            scores = [task.scorer(model.predict_on_batch(xb), xb.numpy())
                      for xb, _ in batches(x, y, batch_size)]
            out[split] = task.from_scores(np.concatenate(scores), y)
            continue
        if task.reconstructs:
            out[split] = task.measure(model.predict(x, batch_size=batch_size, verbose=0), x, y)
            continue
        values = (model.evaluate(batches(x, y, batch_size), verbose=0, return_dict=True)
                  if streamed else
                  model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True))
        out[split] = {k: float(v) for k, v in values.items()}
    return out


def clone(model):
    """A new model with new layer objects and the same weights.

    tfmot's wrappers reuse the layer objects they wrap, so compressing the parent's own model
    would silently train the parent. Every recipe starts from one of these.
    """
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def kernel_layers(model):
    """``(name, kernel)`` for every layer that has a kernel or embedding matrix."""
    for layer in model.layers:
        for attr in ("kernel", "embeddings"):
            weight = getattr(layer, attr, None)
            if weight is not None:
                yield layer.name, weight
                break
        else:
            cell = getattr(layer, "cell", None)
            if cell is not None and getattr(cell, "kernel", None) is not None:
                yield layer.name, cell.kernel


def run_name(name: str) -> str:
    """``name`` if it can start a run id (1-64 letters, digits, ``_ . + -``), else an error."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}", name):
        raise HyperparameterError(f"name must be 1-64 letters, digits, '_', '.', '+' or '-' "
                                  f"(it starts the run's folder name), got {name!r}")
    return name


__all__ = ["clone", "compile_for", "evaluate", "kernel_layers", "run_name", "seed_everything"]
