"""Convolutional network: conv-pool-conv-pool-dense, as in the architecture chapter."""

from __future__ import annotations

from kerasmodels.architectures.common import (
    ProblemSpec,
    check_rate,
    check_units,
    model_input,
    output_head,
)
from kerasmodels.architectures.registry import Family, register, register_family
from kerasmodels.errors import HyperparameterError

register_family(Family(
    "cnn", example="digits",
    search_space={"width": [8, 16, 32], "depth": [1, 2], "dense_units": [32, 64, 128]},
    width_of="filters", growth=2.0, task_layers=("dense",)))


def _cnn(spec: ProblemSpec, filters, kernel_size: int, dense_units: int, dropout: float, name):
    from kerasmodels.backend import keras

    filters = check_units("filters", filters)
    (kernel_size,) = check_units("kernel_size", kernel_size)
    (dense_units,) = check_units("dense_units", dense_units)
    dropout = check_rate("dropout", dropout)
    if spec.vocab_size or len(spec.input_shape) != 3:
        raise HyperparameterError(
            f"{name} needs images of shape (height, width, channels); got input shape "
            f"{spec.input_shape}{' of tokens' if spec.vocab_size else ''}: use mlp, rnn or "
            "transformer for this data"
        )
    h, w = spec.input_shape[:2]
    if min(h, w) < 2 ** len(filters):
        raise HyperparameterError(f"{name}: images of {h}x{w} are too small for "
                                  f"{len(filters)} 2x2 poolings; use fewer filters entries")
    inputs = model_input(spec)
    x = inputs
    for i, f in enumerate(filters):
        x = keras.layers.Conv2D(f, kernel_size, padding="same", activation="relu",
                                name=f"conv_{i}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool_{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(dense_units, activation="relu", name="dense")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(inputs, output_head(x, spec), name=name)


@register("cnn", family="cnn", lab=True, epochs=25, batch_size=32, learning_rate=1e-3)
def cnn(spec: ProblemSpec, *, filters=(32, 64), kernel_size: int = 3, dense_units: int = 128,
        dropout: float = 0.0):
    """CNN: [Conv2D(f, k, same) + ReLU + MaxPool(2)] per filter, Dense(dense_units), classifier.

    With input (24, 24, 3) and 10 classes it is the chapter's PyTorch CNN: 315,722 parameters.
    """
    return _cnn(spec, filters, kernel_size, dense_units, dropout, "cnn")


@register("cnn_small", family="cnn", small_of="cnn", lab=True, epochs=25, batch_size=32,
          learning_rate=2e-3)
def cnn_small(spec: ProblemSpec, *, filters=(8, 16), kernel_size: int = 3, dense_units: int = 32,
              dropout: float = 0.0):
    """A small CNN (8 and 16 filters, 32 dense units): a student for distillation."""
    return _cnn(spec, filters, kernel_size, dense_units, dropout, "cnn_small")
