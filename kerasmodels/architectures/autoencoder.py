"""MLPerf Tiny's anomaly-detection model (mlcommons/tiny,
``benchmark/training/anomaly_detection/keras_model.py``), layer for layer: a dense autoencoder
of stacked log-mel frames, trained on normal machine sounds only; its reconstruction error
is the anomaly score (``kerasmodels.tasks``).

>>> import kerasmodels as km
>>> km.build_model("fc_autoencoder", input_shape=(640,), task="anomaly").count_params()
269992
"""

from __future__ import annotations

from kerasmodels.architectures.common import ProblemSpec, check_units, model_input, output_head
from kerasmodels.architectures.kws import BN_MOMENTUM
from kerasmodels.architectures.registry import Family, register, register_family
from kerasmodels.errors import HyperparameterError
from kerasmodels.tasks import get_task

register_family(Family(
    "autoencoder", example="machines",
    search_space={"width": [32, 64, 128], "depth": [2, 3, 4], "bottleneck": [4, 8, 16]},
    width_of="units"))  # a search's width and depth: the encoder's layers (mirrored)


@register("fc_autoencoder", family="autoencoder", epochs=100, batch_size=512,
          learning_rate=1e-3)
def fc_autoencoder(spec: ProblemSpec, *, units: tuple[int, ...] = (128, 128, 128, 128),
                   bottleneck: int = 8):
    """Dense autoencoder: ``units`` (Dense, batch norm, ReLU each), a ``bottleneck`` layer
    the same way, ``units`` reversed, then a linear layer of the input's size (MLPerf Tiny's
    reference at the defaults: 128x4-8-128x4 on 640 inputs, 269,992 parameters).

    As the reference: no regularization, Keras' default initializers, Adam at 1e-3, 100 epochs
    of batches of 512 (the mean squared error); batch norms at momentum
    0.9 (the reference keeps Keras' 0.99, which leaves the moving statistics of a short
    training unusable).
    """
    from kerasmodels.backend import keras

    if not get_task(spec.task).reconstructs:
        raise HyperparameterError(
            f"fc_autoencoder reconstructs its input: train it on an anomaly dataset "
            f"(machines, anomaly:FOLDER), not a {spec.task} one")
    units = check_units("units", units)
    (bottleneck,) = check_units("bottleneck", bottleneck)
    inputs = model_input(spec)
    x = keras.layers.Flatten(name="flatten")(inputs) if len(spec.input_shape) > 1 else inputs
    sizes = [*units, bottleneck, *reversed(units)]
    for i, size in enumerate(sizes):
        name = "bottleneck" if i == len(units) else f"dense_{i}"
        x = keras.layers.Dense(size, name=name)(x)
        x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
        x = keras.layers.Activation("relu", name=f"{name}_relu")(x)
    return keras.Model(inputs, output_head(x, spec), name="fc_autoencoder")
