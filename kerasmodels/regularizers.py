"""Weight regularizers applied to every kernel of a model.

>>> from kerasmodels.regularizers import make_regularizer
>>> make_regularizer("l2", 1e-4).__class__.__name__
'L2'
"""

from __future__ import annotations

from kerasmodels.errors import HyperparameterError, UnknownNameError

REGULARIZERS = ("l1", "l2", "l1l2")
KERNEL_KEYS = ("kernel_regularizer", "embeddings_regularizer")


def make_regularizer(name: str | None, strength: float = 1e-4):
    """A Keras regularizer: ``l1`` (strength * sum|w|), ``l2`` (strength * sum w^2), ``l1l2``."""
    from kerasmodels.backend import keras

    if name in (None, "", "none"):
        return None
    if name not in REGULARIZERS:
        raise UnknownNameError("regularizer", name, [*REGULARIZERS, "none"])
    if not isinstance(strength, (int, float)) or strength != strength or strength < 0:
        raise HyperparameterError(f"reg_strength must be >= 0, got {strength!r}")
    if name == "l1":
        return keras.regularizers.L1(strength)
    if name == "l2":
        return keras.regularizers.L2(strength)
    return keras.regularizers.L1L2(l1=strength, l2=strength)


def with_kernel_regularizer(model, regularizer):
    """A copy of ``model`` whose kernels (and embeddings) carry ``regularizer``, same weights."""
    from kerasmodels.backend import keras

    if regularizer is None:
        return model
    config = model.get_config()
    serialized = keras.regularizers.serialize(regularizer)
    for layer in config["layers"]:
        for key in KERNEL_KEYS:
            if key in layer["config"]:
                layer["config"][key] = serialized
    clone = model.__class__.from_config(config)
    clone.set_weights(model.get_weights())
    return clone
