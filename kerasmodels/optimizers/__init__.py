"""Optimizers by name.

``adam``, ``sgd``, ``momentum``, ``rmsprop``, ``adamw`` and the same names prefixed with
``keras:`` (Keras' own implementations, kept for comparison).

>>> from kerasmodels.optimizers import make_optimizer
>>> make_optimizer("adam", 1e-3).__class__.__name__
'Adam'
"""

from __future__ import annotations

from typing import Any

from kerasmodels.errors import HyperparameterError, UnknownNameError, check_positive

KERAS_OPTIMIZERS: dict[str, tuple[str, dict[str, Any]]] = {
    "sgd": ("SGD", {}),
    "momentum": ("SGD", {"momentum": 0.9}),
    "rmsprop": ("RMSprop", {}),
    "adam": ("Adam", {}),
    "adamw": ("AdamW", {}),
}


def optimizer_names() -> list[str]:
    return [*KERAS_OPTIMIZERS, *(f"keras:{n}" for n in KERAS_OPTIMIZERS)]


def make_optimizer(name: str, learning_rate, **options):
    """An optimizer instance from its name; ``learning_rate`` may be a float or a schedule."""
    from kerasmodels.backend import keras

    key = name.removeprefix("keras:")
    if key not in KERAS_OPTIMIZERS:
        raise UnknownNameError("optimizer", name, optimizer_names())
    if isinstance(learning_rate, (int, float)):
        check_positive("learning_rate", learning_rate)
    for beta in ("beta_1", "beta_2", "rho"):
        if beta in options and not 0.0 <= options[beta] < 1.0:
            raise HyperparameterError(f"{beta} must be in [0, 1), got {options[beta]!r}")
    if "momentum" in options and not 0.0 <= options["momentum"] <= 1.0:
        raise HyperparameterError(f"momentum must be in [0, 1], got {options['momentum']!r}")
    cls_name, defaults = KERAS_OPTIMIZERS[key]
    cls = getattr(keras.optimizers, cls_name)
    try:
        return cls(learning_rate=learning_rate, **{**defaults, **options})
    except TypeError as exc:
        raise HyperparameterError(f"optimizer {name!r}: {exc}") from None
