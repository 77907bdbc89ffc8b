"""Learning-rate schedules by name, built on Keras' own schedule classes.

``constant``, ``step`` (halve every ``every`` epochs), ``exponential`` (smooth decay to
``final_fraction`` of the start), ``cosine`` (linear warm-up, then cosine to zero) and
``plateau`` (halve when the validation loss stalls: a callback, not a schedule).

>>> from kerasmodels.schedules import make_schedule
>>> lr, callbacks = make_schedule("step", 0.1, steps_per_epoch=10, epochs=9, every=3)
>>> round(float(lr(30)), 4), callbacks
(0.05, [])
"""

from __future__ import annotations

from kerasmodels.backend import keras
from kerasmodels.errors import HyperparameterError, UnknownNameError, check_positive
from kerasmodels.options import TRAINING

SCHEDULES = TRAINING["schedule"].options


def make_schedule(name: str | None, learning_rate: float, *, steps_per_epoch: int, epochs: int,
                  **options):
    """``(learning_rate_or_schedule, callbacks)`` for the optimizer and ``fit``."""
    name = name or "constant"
    if name not in SCHEDULES:
        raise UnknownNameError("schedule", name, SCHEDULES)
    total = max(1, steps_per_epoch * epochs)
    options = dict(options)
    schedules = keras.optimizers.schedules
    callbacks: list = []
    if name == "constant":
        result = learning_rate
    elif name == "step":
        every, drop = options.pop("every", max(1, epochs // 3)), options.pop("drop", 0.5)
        check_positive("every", every, integer=True)
        _check_fraction("drop", drop)
        result = schedules.ExponentialDecay(learning_rate, decay_steps=max(1, every * steps_per_epoch),
                                            decay_rate=drop, staircase=True)
    elif name == "exponential":
        final = options.pop("final_fraction", 0.1)
        _check_fraction("final_fraction", final)
        result = schedules.ExponentialDecay(learning_rate, decay_steps=total, decay_rate=final)
    elif name == "cosine":
        # one epoch of warmup by default, where there is more than one epoch to train
        given = options.pop("warmup_epochs", 1 if epochs > 1 else 0)
        warmup = int(check_positive("warmup_epochs", given, allow_zero=True) * steps_per_epoch)
        if warmup >= total:
            raise HyperparameterError(f"warmup_epochs must be shorter than the {epochs} epochs")
        result = schedules.CosineDecay(0.0 if warmup else learning_rate, decay_steps=total - warmup,
                                       warmup_target=learning_rate if warmup else None,
                                       warmup_steps=warmup)
    else:  # plateau
        factor, patience = options.pop("factor", 0.5), options.pop("patience", 3)
        _check_fraction("factor", factor)
        check_positive("patience", patience, integer=True)
        result = learning_rate
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            factor=factor, patience=patience, min_lr=learning_rate * 1e-3))
    if options:
        raise HyperparameterError(f"schedule {name!r} does not take {sorted(options)}")
    return result, callbacks


def _check_fraction(name: str, value) -> None:
    if not isinstance(value, (int, float)) or not 0 < value < 1:
        raise HyperparameterError(f"{name} must be in (0, 1), got {value!r}")
