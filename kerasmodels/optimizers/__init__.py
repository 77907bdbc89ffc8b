"""Optimizers written from their formulas, selected by name.

``sgd``, ``momentum``, ``nesterov``, ``rmsprop``, ``adam``, ``adamw`` are kerasmodels'
own (``kerasmodels.optimizers.gradient_descent``, ...); prefix a name with ``keras:``
(``keras:adam``) for Keras' built-in implementation, to compare.

>>> from kerasmodels.optimizers import make_optimizer
>>> make_optimizer("nesterov", 0.01).get_config()["nesterov"]
True
"""

from __future__ import annotations

import importlib
from typing import Any

from kerasmodels.errors import HyperparameterError, UnknownNameError, check_positive

# name -> (kerasmodels class, Keras class, default options)
OPTIMIZERS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "sgd": ("GradientDescent", "SGD", {}),
    "momentum": ("GradientDescent", "SGD", {"momentum": 0.9}),
    "nesterov": ("GradientDescent", "SGD", {"momentum": 0.9, "nesterov": True}),
    "rmsprop": ("RMSprop", "RMSprop", {}),
    "adam": ("Adam", "Adam", {}),
    "adamw": ("AdamW", "AdamW", {}),
}


def optimizer_names() -> list[str]:
    return [*OPTIMIZERS, *(f"keras:{n}" for n in OPTIMIZERS)]


def make_optimizer(name: str, learning_rate, **options):
    """An optimizer from its name; ``learning_rate`` may be a float or a schedule.

    Options (``beta_1``, ``momentum``, ...) are checked the same way for ``keras:`` names.
    """
    from kerasmodels.backend import keras
    from kerasmodels.optimizers.base import check_unit_interval

    builtin = name.startswith("keras:")
    key = name.removeprefix("keras:")
    if key not in OPTIMIZERS:
        raise UnknownNameError("optimizer", name, optimizer_names())
    if isinstance(learning_rate, (int, float)):
        check_positive("learning_rate", learning_rate)
    ours, theirs, defaults = OPTIMIZERS[key]
    options = {**defaults, **options}
    for option, closed in (("beta_1", False), ("beta_2", False), ("rho", False),
                           ("momentum", True)):
        if option in options:
            check_unit_interval(option, options[option], closed=closed)
    cls = getattr(keras.optimizers, theirs) if builtin else __getattr__(ours)
    try:
        return cls(learning_rate=learning_rate, **options)
    except HyperparameterError:
        raise
    except (TypeError, ValueError) as exc:  # an unknown option, or Keras' own checks
        raise HyperparameterError(f"optimizer {name!r}: {exc}") from None


_MODULES = {"GradientDescent": "gradient_descent", "RMSprop": "rmsprop", "Adam": "adam",
            "AdamW": "adam"}


def __getattr__(name: str):
    if name in _MODULES:
        module = importlib.import_module(f"kerasmodels.optimizers.{_MODULES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'kerasmodels.optimizers' has no attribute {name!r}")
