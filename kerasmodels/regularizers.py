"""L1, L2 and L1L2 weight penalties, applied to every kernel of a model.

The strength lives in a non-trainable variable, so a callback can schedule it during
training without retracing the train step (see ``kerasmodels.callbacks.RegularizationSchedule``).

>>> from kerasmodels.regularizers import L1
>>> float(L1(0.5)([[1.0, -2.0]]))
1.5
"""

from __future__ import annotations

from kerasmodels.backend import keras, tf
from kerasmodels.errors import HyperparameterError, UnknownNameError

KERNEL_KEYS = ("kernel_regularizer", "embeddings_regularizer")


def _check(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
        raise HyperparameterError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


class _Penalty(keras.regularizers.Regularizer):
    """Shared: strengths held in variables, serialized as plain floats."""

    names: tuple[str, ...] = ()

    def __init__(self, **strengths):
        self._values = {k: _check(k, v) for k, v in strengths.items()}
        self._vars = {k: tf.Variable(v, trainable=False, dtype="float32")
                      for k, v in self._values.items()}

    def strength(self, name: str) -> float:
        return self._values[name]

    def set_strength(self, value: float, name: str | None = None) -> None:
        for key in [name] if name else self._vars:
            self._values[key] = _check(key, value)
            self._vars[key].assign(self._values[key])

    def get_config(self):
        return dict(self._values)


@keras.saving.register_keras_serializable(package="kerasmodels")
class L1(_Penalty):
    """l1 * sum |w|: pushes weights to exactly zero (sparse models)."""

    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1)

    def __call__(self, w):
        return tf.cast(self._vars["l1"], w.dtype) * tf.reduce_sum(tf.abs(w))


@keras.saving.register_keras_serializable(package="kerasmodels")
class L2(_Penalty):
    """l2 * sum w^2: shrinks every weight in proportion to its size (weight decay)."""

    def __init__(self, l2: float = 0.01):
        super().__init__(l2=l2)

    def __call__(self, w):
        return tf.cast(self._vars["l2"], w.dtype) * tf.reduce_sum(tf.square(w))


@keras.saving.register_keras_serializable(package="kerasmodels")
class L1L2(_Penalty):
    """l1 * sum |w| + l2 * sum w^2 (elastic net)."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        super().__init__(l1=l1, l2=l2)

    def __call__(self, w):
        return (tf.cast(self._vars["l1"], w.dtype) * tf.reduce_sum(tf.abs(w))
                + tf.cast(self._vars["l2"], w.dtype) * tf.reduce_sum(tf.square(w)))


REGULARIZERS = {"l1": L1, "l2": L2, "l1l2": L1L2}


def make_regularizer(name: str | None, strength: float = 1e-4):
    """``l1``, ``l2`` or ``l1l2`` (both terms at ``strength``); ``None``/``"none"`` for none."""
    if name in (None, "", "none"):
        return None
    if name not in REGULARIZERS:
        raise UnknownNameError("regularizer", name, [*REGULARIZERS, "none"])
    _check("reg_strength", strength)
    if name == "l1l2":
        return L1L2(l1=strength, l2=strength)
    return REGULARIZERS[name](strength)


def with_kernel_regularizer(model, regularizer):
    """A copy of ``model`` whose kernels (and embeddings) carry ``regularizer``, same weights."""
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


def model_regularizers(model) -> list[_Penalty]:
    """Every kerasmodels regularizer attached to ``model``'s layers (nested cells included)."""
    found = {}
    for layer in _all_layers(model):
        for key in KERNEL_KEYS:
            reg = getattr(layer, key, None)
            if isinstance(reg, _Penalty):
                found[id(reg)] = reg
    return list(found.values())


def _all_layers(model):
    for layer in model.layers:
        yield layer
        cell = getattr(layer, "cell", None)
        if cell is not None:
            yield cell
