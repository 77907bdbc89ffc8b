"""Interrupted training continues bit-identically.

A resumed run must end with exactly the weights of the run that was never stopped. That needs
three things restored, not only the weights:

- the optimizer's slots and step count, and every random generator's state (dropout): one
  ``tf.train.Checkpoint`` of the model and its optimizer, written after every epoch into a new
  folder and published by an atomic rename of ``state.json``;
- the order of the examples: epoch ``e`` visits the training set in the permutation drawn from
  ``(seed, e)`` alone (``epoch_batches``), so a resumed epoch sees what it would have seen;
- the stateful callbacks (early stopping, the plateau schedule): their counters and best
  weights are saved with the checkpoint.

>>> state = TrainingState("/tmp/work/state")  # doctest: +SKIP
>>> first_epoch = state.restore(model, callbacks)  # doctest: +SKIP
"""

from __future__ import annotations

import io
import shutil
import time
from pathlib import Path

import numpy as np

from kerasmodels._compat import flatten_layers, random_generator
from kerasmodels.backend import keras, tf
from kerasmodels.layout import BEST_WEIGHTS, RESUME_STATE
from kerasmodels.runs import read_json, write_json

# what a stateful Keras callback keeps between epochs
CALLBACK_FIELDS = ("wait", "best", "cooldown_counter", "stopped_epoch", "best_epoch")


def epoch_batches(x: np.ndarray, y: np.ndarray, batch_size: int, *, seed: int,
                  first_epoch: int, epochs: int) -> tf.data.Dataset:
    """Batches of epochs ``first_epoch .. epochs - 1``; epoch ``e`` in the permutation drawn from
    ``(seed, e)`` (the same whether or not earlier epochs ran in this process)."""
    from kerasmodels.data.stream import on_disk, rows_of

    n = len(x)

    def one_epoch(epoch):
        key = tf.stack([tf.constant(seed, tf.int64), epoch])
        order = tf.argsort(tf.random.stateless_uniform([n], seed=key))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    batches = tf.data.Dataset.range(first_epoch, epochs).flat_map(one_epoch)
    if on_disk(x) or on_disk(y):  # a streamed split: each batch's rows read from disk
        def gather(i):
            return rows_of(x, i), rows_of(y, i)
    else:
        xs, ys = tf.constant(x), tf.constant(y)

        def gather(i):
            return tf.gather(xs, i), tf.gather(ys, i)
    return batches.map(gather, num_parallel_calls=tf.data.AUTOTUNE,
                       deterministic=True).prefetch(tf.data.AUTOTUNE)


def fit_arguments(train, val, *, batch_size: int, epochs: int, seed: int = 0) -> dict:
    """``model.fit``'s data arguments for ``train`` and ``val`` (``(x, y)`` each): the arrays
    as they are, or for a streamed split its batches read from disk (Keras would otherwise
    copy the whole split into memory), shuffled each epoch as ``epoch_batches``
    does."""
    from kerasmodels.data.stream import on_disk, validation_batches

    if not (on_disk(train[0]) or on_disk(val[0])):
        return {"x": train[0], "y": train[1], "validation_data": val,
                "batch_size": batch_size}
    steps = -(-len(train[0]) // batch_size)
    return {"x": epoch_batches(train[0], train[1], batch_size, seed=seed, first_epoch=0,
                               epochs=epochs),
            "steps_per_epoch": steps, "validation_data": validation_batches(val, batch_size)}


class TrainingState(keras.callbacks.Callback):
    """Save the training state at the end of an epoch; ``restore`` it before ``fit``.

    ``every_seconds`` spaces the saves: an epoch's end saves only when that much time has
    passed since the last save (0: every epoch). A checkpoint costs tens of milliseconds,
    as much as a whole epoch of a small model; an interruption then repeats at most
    ``every_seconds`` of training, and the result is the same bits either way.

    Put it last among the callbacks: it saves what the others did in the epoch, and re-applies
    the stateful callbacks' saved counters after their ``on_train_begin`` reset them.
    """

    def __init__(self, folder: str | Path, stateful_callbacks: list | tuple = (), *,
                 every_seconds: float = 0.0):
        super().__init__()
        self.folder = Path(folder)
        self.stateful = [cb for cb in stateful_callbacks if _fields(cb)]
        self.every_seconds = every_seconds
        self._saved_at = time.monotonic()
        self._cached: tuple | None = None

    def _checkpoint(self, model) -> tf.train.Checkpoint:
        if self._cached is None or self._cached[0] is not model:  # built once: tracing costs
            self._cached = (model, tf.train.Checkpoint(model=model, optimizer=model.optimizer,
                                                       random=random_generators(model)))
        return self._cached[1]

    def restore(self, model) -> int:
        """Load the last saved state into ``model`` (compiled); the number of epochs done."""
        record_file = self.folder / RESUME_STATE
        if not record_file.is_file():
            return 0
        record = read_json(record_file)
        prefix = self.folder / record["checkpoint"]
        model.optimizer.build(model.trainable_variables)  # its slots exist before the read
        self._checkpoint(model).read(str(prefix)).assert_existing_objects_matched()
        self._pending = record.get("callbacks", [])
        weights = self.folder / record["checkpoint"].split("/")[0] / BEST_WEIGHTS
        if weights.is_file():
            with np.load(weights, allow_pickle=False) as stored:
                self._pending_best = [stored[f"arr_{i}"] for i in range(len(stored.files))]
        return int(record["epochs_done"])

    def on_train_begin(self, logs=None):
        # after the callbacks' own on_train_begin, which resets them: this one comes last
        for cb, saved in zip(self.stateful, getattr(self, "_pending", []), strict=False):
            for name, value in saved.items():
                setattr(cb, name, value)
            if getattr(self, "_pending_best", None) is not None and hasattr(cb, "best_weights"):
                cb.best_weights = self._pending_best

    def on_epoch_end(self, epoch, logs=None):
        if time.monotonic() - self._saved_at < self.every_seconds:
            return
        self._saved_at = time.monotonic()
        name = f"epoch-{epoch + 1}"
        target = self.folder / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        self._checkpoint(self.model).write(str(target / "ckpt"))
        for cb in self.stateful:
            if getattr(cb, "best_weights", None) is not None:
                buffer = io.BytesIO()
                np.savez(buffer, *cb.best_weights)
                (target / BEST_WEIGHTS).write_bytes(buffer.getvalue())
        write_json(self.folder / RESUME_STATE, {
            "epochs_done": epoch + 1, "checkpoint": f"{name}/ckpt",
            "callbacks": [_fields(cb) for cb in self.stateful]})
        for old in self.folder.glob("epoch-*"):  # only the published state is kept
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)


def random_generators(model) -> list:
    """The ``tf.random.Generator`` of every random layer (dropout), in layer order.

    A functional model's checkpoint holds only layers with weights, so these states are added
    explicitly. (tf_keras 2.21: ``layer._random_generator._generator``, made by
    ``enable_tf_random_generator``.)
    """
    found = []
    for layer in flatten_layers(model):
        generator = random_generator(layer)
        if generator is not None:
            found.append(generator)
    return found


def _fields(callback) -> dict:
    return {name: _plain(getattr(callback, name)) for name in CALLBACK_FIELDS
            if isinstance(callback, (keras.callbacks.EarlyStopping,
                                     keras.callbacks.ReduceLROnPlateau))
            and hasattr(callback, name)}


def _plain(value):
    if isinstance(value, (np.generic, np.ndarray)):
        return value.item() if np.ndim(value) == 0 else value.tolist()
    if hasattr(value, "numpy"):
        return _plain(value.numpy())
    return value


__all__ = ["TrainingState", "epoch_batches"]
