"""Training callbacks: a progress bar, a history that survives interruption, a NaN guard."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kerasmodels._compat import learning_rate_schedule
from kerasmodels.backend import keras, tf
from kerasmodels.modeling import kernel_layers
from kerasmodels.runs import read_json, write_json


def current_learning_rate(optimizer) -> float:
    """The rate the optimizer's next step will use (a schedule evaluated at ``iterations``)."""
    lr = learning_rate_schedule(optimizer)  # tf_keras' .learning_rate is the last step's
    if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
        return float(lr(optimizer.iterations))
    return float(keras.backend.get_value(optimizer.learning_rate))


class ProgressBar(keras.callbacks.Callback):
    """One tqdm bar over the epochs, with the latest loss and metrics as its postfix."""

    def __init__(self, epochs: int, description: str = "training", initial: int = 0):
        super().__init__()
        self.epochs, self.description, self.initial, self.bar = epochs, description, initial, None

    def on_train_begin(self, logs=None):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=self.epochs, initial=self.initial, desc=self.description,
                        unit="epoch", leave=True, dynamic_ncols=True)

    def on_epoch_end(self, epoch, logs=None):
        self.bar.n = epoch + 1
        shown = {k: f"{v:.4g}" for k, v in (logs or {}).items()
                 if k != "learning_rate" and not k.startswith("weights/")}
        self.bar.set_postfix(shown, refresh=False)
        self.bar.refresh()

    def on_train_end(self, logs=None):
        if self.bar is not None:
            self.bar.close()


class EpochHistory(keras.callbacks.Callback):
    """Per-epoch logs plus the epoch's learning rate (as it started), rewritten atomically to
    ``path`` every epoch.

    On resume the epochs already on disk are kept, so the history covers the whole run.
    """

    def __init__(self, path: str | Path):
        super().__init__()
        self.path = Path(path)
        self.history: dict[str, list] = read_json(self.path) if self.path.exists() else {}

    def keep_epochs(self, count: int) -> None:
        """Forget epochs after the first ``count`` (those of a state that was never saved)."""
        for key in list(self.history):
            self.history[key] = self.history[key][:count]

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_learning_rate = current_learning_rate(self.model.optimizer)

    def on_epoch_end(self, epoch, logs=None):
        record = {**(logs or {}), "epoch": epoch + 1, "learning_rate": self.epoch_learning_rate}
        done = len(self.history.get("epoch", []))
        for key in list(self.history):  # drop anything after a restored checkpoint
            self.history[key] = self.history[key][: min(done, epoch)]
        for key, value in record.items():
            self.history.setdefault(key, []).append(float(value))
        write_json(self.path, self.history)


NON_FINITE_LOSS = "kerasmodels: the training loss is NaN or inf"


class DivergenceGuard(keras.callbacks.Callback):
    """Stop at the first non-finite loss (the step it happened) or weights (at an epoch's end).

    The loss is checked inside the training graph: ``watch`` wraps ``model.train_step`` so
    that a NaN/inf loss raises at once, and ``caught`` turns that error into
    ``diverged_at = (epoch, batch)``. A per-batch callback hook would do the same from Python,
    but then Keras waits for every step and calls every callback's batch hooks: a small model
    trained at about half its steps per second (``scripts/bench_train.py`` measures the cost).

    >>> guard = DivergenceGuard(steps_per_epoch=45)
    >>> guard.watch(model)  # doctest: +SKIP
    """

    def __init__(self, steps_per_epoch: int = 1):
        super().__init__()
        self.steps_per_epoch = steps_per_epoch
        self.diverged_at: tuple[int, int] | None = None

    def watch(self, model) -> None:
        """Make ``model.fit`` raise at the first step whose loss is not finite."""
        step = type(model).train_step.__get__(model)

        def train_step(data):
            logs = step(data)
            if "loss" in logs:
                logs = {**logs, "loss": tf.debugging.check_numerics(logs["loss"], NON_FINITE_LOSS)}
            return logs

        model.train_step = train_step

    def caught(self, error: Exception) -> bool:
        """Whether ``error`` is the guard's own; if so, record where training diverged."""
        if NON_FINITE_LOSS not in str(error):
            return False
        step = max(int(self.model.optimizer.iterations.numpy()), 1) - 1
        self.diverged_at = (step // self.steps_per_epoch + 1, step % self.steps_per_epoch + 1)
        return True

    def on_epoch_end(self, epoch, logs=None):
        if self.diverged_at is None and not all(
            np.isfinite(w).all() for w in self.model.get_weights()
        ):
            self.diverged_at = (epoch + 1, -1)
            self.model.stop_training = True


class EpochSummaries(keras.callbacks.Callback):
    """TensorBoard scalars once per epoch (``<folder>/train`` and ``<folder>/validation``),
    the epoch's learning rate among them.

    Keras' own ``TensorBoard`` callback defines batch hooks even with ``update_freq="epoch"``,
    which makes Keras call every callback after every step; this one has none.
    """

    def __init__(self, folder: str | Path):
        super().__init__()
        self.folder = Path(folder)
        self.writers: dict = {}

    def _writer(self, split: str):
        if split not in self.writers:
            self.writers[split] = tf.summary.create_file_writer(str(self.folder / split))
        return self.writers[split]

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_learning_rate = current_learning_rate(self.model.optimizer)

    def on_epoch_end(self, epoch, logs=None):
        logs = {"learning_rate": self.epoch_learning_rate, **(logs or {})}
        for key, value in logs.items():
            split, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            with self._writer(split).as_default():
                tf.summary.scalar(f"epoch_{name}", float(value), step=epoch)

    def on_train_end(self, logs=None):
        for writer in self.writers.values():
            writer.close()
        self.writers = {}


class WeightStatistics(keras.callbacks.Callback):
    """Per-layer L1 norm, L2 norm and fraction of |w| < ``threshold``, every epoch.

    Written into the epoch logs as ``weights/<layer>/l1``, ``.../l2`` and ``.../near_zero``,
    so the history, TensorBoard and the dashboard all get them.
    """

    def __init__(self, threshold: float = 1e-3):
        super().__init__()
        self.threshold = threshold

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for name, kernel in kernel_layers(self.model):
            w = np.abs(kernel.numpy())
            logs[f"weights/{name}/l1"] = float(w.sum())
            logs[f"weights/{name}/l2"] = float(np.sqrt((w * w).sum()))
            logs[f"weights/{name}/near_zero"] = float((w < self.threshold).mean())


class RegularizationSchedule(keras.callbacks.Callback):
    """Set every kerasmodels regularizer's strength to ``schedule(epoch)`` before each epoch.

    >>> warmup = RegularizationSchedule(lambda epoch: 1e-4 * min(1.0, epoch / 5))
    """

    def __init__(self, schedule):
        super().__init__()
        self.schedule = schedule

    def on_epoch_begin(self, epoch, logs=None):
        from kerasmodels.regularizers import model_regularizers

        self.value = float(self.schedule(epoch))
        for reg in model_regularizers(self.model):
            reg.set_strength(self.value)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["reg_strength"] = self.value
