"""Linear model and multilayer perceptron."""

from __future__ import annotations

from kerasmodels.architectures.common import (
    ProblemSpec,
    check_rate,
    check_units,
    model_input,
    output_head,
)
from kerasmodels.architectures.registry import Family, register, register_family

register_family(Family("linear", example="regression"))
register_family(Family("mlp", example="digits",
                       search_space={"width": [32, 64, 128, 256], "depth": [1, 2, 3]},
                       width_of="hidden_units", growth=0.5))


@register("linear", family="linear", lab=True, epochs=100, batch_size=32, learning_rate=0.05)
def linear(spec: ProblemSpec):
    """Linear regression, or multinomial logistic regression for classes: y = softmax(Wx + b)."""
    from kerasmodels.backend import keras

    inputs = model_input(spec)
    x = keras.layers.Flatten(name="flatten")(inputs)
    return keras.Model(inputs, output_head(x, spec), name="linear")


def _mlp(spec: ProblemSpec, hidden_units, dropout: float, name: str):
    from kerasmodels.backend import keras

    units = check_units("hidden_units", hidden_units)
    dropout = check_rate("dropout", dropout)
    inputs = model_input(spec)
    x = keras.layers.Flatten(name="flatten")(inputs)
    for i, u in enumerate(units):
        x = keras.layers.Dense(u, activation="relu", name=f"dense_{i}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
    return keras.Model(inputs, output_head(x, spec), name=name)


@register("mlp", family="mlp", lab=True, epochs=60, batch_size=32, learning_rate=1e-3)
def mlp(spec: ProblemSpec, *, hidden_units=(128, 64), dropout: float = 0.1):
    """Multilayer perceptron: Flatten, then Dense+ReLU (+Dropout) per entry of hidden_units."""
    return _mlp(spec, hidden_units, dropout, "mlp")


@register("mlp_small", family="mlp", small_of="mlp", epochs=60, batch_size=32, learning_rate=1e-3)
def mlp_small(spec: ProblemSpec, *, hidden_units=(16,), dropout: float = 0.0):
    """A small MLP (one hidden layer of 16): a student for distillation."""
    return _mlp(spec, hidden_units, dropout, "mlp_small")
