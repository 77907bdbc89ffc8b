"""Keyword spotting: DS-CNN, MLPerf Tiny's reference model (mlcommons/tiny,
``benchmark/training/keyword_spotting/keras_model.py``), layer for layer.

>>> import kerasmodels as km
>>> km.build_model("ds_cnn", input_shape=(49, 10, 1), num_classes=12).count_params()
24908
"""

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
    "kws", example="speech",
    search_space={"filters": [32, 48, 64], "blocks": [2, 3, 4]},
    task_layers=("logits",)))

BN_MOMENTUM = 0.9  # Keras' 0.99 leaves the moving statistics unusable after a short training


@register("ds_cnn", family="kws", epochs=30, batch_size=100, learning_rate=5e-3)
def ds_cnn(spec: ProblemSpec, *, filters: int = 64, blocks: int = 4,
           first_kernel=(10, 4), dropout: float = 0.2, final_dropout: float = 0.4,
           weight_decay: float = 1e-4):
    """DS-CNN: Conv2D(filters, 10x4, stride 2) + BN + ReLU, then ``blocks`` depthwise separable
    blocks (DepthwiseConv 3x3 + BN + ReLU, Conv 1x1 + BN + ReLU), average pooling, classifier.

    As MLPerf Tiny's reference: 24,908 parameters on 49x10 MFCCs with 12 classes, L2 weight
    decay of 1e-4 on every convolution kernel (kerasmodels' own L2). The batch norms' momentum
    is 0.9 (the reference keeps Keras' 0.99, which needs thousands of steps).
    """
    from kerasmodels.backend import keras
    from kerasmodels.regularizers import make_regularizer

    (filters,) = check_units("filters", filters)
    (blocks,) = check_units("blocks", blocks)
    kh, kw = check_units("first_kernel", first_kernel)
    dropout, final_dropout = check_rate("dropout", dropout), check_rate("final_dropout",
                                                                          final_dropout)
    if spec.vocab_size or len(spec.input_shape) != 3:
        raise HyperparameterError(
            f"ds_cnn needs a spectrogram of shape (frames, coefficients, 1); got input shape "
            f"{spec.input_shape}: train it on speech or an audio: folder")
    h, w = spec.input_shape[:2]
    if h < 2 or w < 2:
        raise HyperparameterError(f"ds_cnn: a {h}x{w} input is too small for its stride-2 "
                                  "first convolution")
    decay = make_regularizer("l2", weight_decay) if weight_decay else None

    def normalized(x, name):
        x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
        return keras.layers.Activation("relu", name=f"{name}_relu")(x)

    inputs = model_input(spec)
    x = keras.layers.Conv2D(filters, (kh, kw), strides=(2, 2), padding="same",
                            kernel_regularizer=decay, name="conv")(inputs)
    x = normalized(x, "conv")
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    for i in range(blocks):
        x = keras.layers.DepthwiseConv2D((3, 3), padding="same", depthwise_regularizer=decay,
                                         name=f"dw_{i}")(x)
        x = normalized(x, f"dw_{i}")
        x = keras.layers.Conv2D(filters, (1, 1), padding="same", kernel_regularizer=decay,
                                name=f"pw_{i}")(x)
        x = normalized(x, f"pw_{i}")
    if final_dropout:
        x = keras.layers.Dropout(final_dropout, name="final_dropout")(x)
    x = keras.layers.AveragePooling2D(pool_size=(h // 2, w // 2), name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    return keras.Model(inputs, output_head(x, spec), name="ds_cnn")
