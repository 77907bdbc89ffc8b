"""What every builder shares: the problem spec, the input and the output head."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kerasmodels.errors import HyperparameterError


@dataclass(frozen=True)
class ProblemSpec:
    """The shape of a problem: what goes in and what comes out."""

    input_shape: tuple[int, ...]
    num_classes: int | None = None
    task: str = "classification"
    vocab_size: int | None = None

    @property
    def outputs(self) -> int:
        return self.num_classes or 1 if self.task == "classification" else 1


def model_input(spec: ProblemSpec):
    from kerasmodels.backend import keras

    dtype = "int32" if spec.vocab_size else "float32"
    return keras.Input(shape=spec.input_shape, dtype=dtype, name="inputs")


def as_sequence(x, spec: ProblemSpec, arch: str):
    """Turn an image (h, w, c) into a sequence of h rows, so sequence models can read it."""
    from kerasmodels.backend import keras

    if len(spec.input_shape) == 3:
        h, w, c = spec.input_shape
        return keras.layers.Reshape((h, w * c), name="rows_as_steps")(x)
    if len(spec.input_shape) == 1:
        return keras.layers.Reshape((spec.input_shape[0], 1), name="values_as_steps")(x)
    if len(spec.input_shape) != 2:
        raise HyperparameterError(f"{arch} needs sequences (steps, features), tokens or images; "
                                  f"got input shape {spec.input_shape}")
    return x


def output_head(x, spec: ProblemSpec):
    """Dense logits then softmax for classification; one linear unit for regression; for a
    task that reconstructs its input (anomaly), one linear unit per input value, in the
    input's shape."""
    from kerasmodels.backend import keras
    from kerasmodels.tasks import get_task

    if spec.task == "classification":
        logits = keras.layers.Dense(spec.outputs, name="logits")(x)
        return keras.layers.Softmax(name="probabilities")(logits)
    if get_task(spec.task).reconstructs:
        if spec.vocab_size:
            raise HyperparameterError("an anomaly model reconstructs its input: token ids "
                                      "cannot be reconstructed; use features (floats)")
        size = int(np.prod(spec.input_shape))
        out = keras.layers.Dense(size, name="reconstruction")(x)
        return (keras.layers.Reshape(spec.input_shape, name="as_input")(out)
                if len(spec.input_shape) > 1 else out)
    return keras.layers.Dense(1, name="prediction")(x)


def check_units(name: str, values) -> tuple[int, ...]:
    values = (values,) if isinstance(values, int) else tuple(values)
    if not values or any(not isinstance(v, int) or isinstance(v, bool) or v <= 0 for v in values):
        raise HyperparameterError(f"{name} must be positive integers, got {values!r}")
    return values


def check_rate(name: str, value: float) -> float:
    if not 0.0 <= float(value) < 1.0:
        raise HyperparameterError(f"{name} must be in [0, 1), got {value!r}")
    return float(value)
