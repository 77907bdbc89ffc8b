"""Custom layers, registered so ``.keras`` files reload with ``safe_mode=True``: the
transformer's positional encoding, and what Keras 3 layers and activations that tf_keras lacks
become when a Keras 3 model is rebuilt as tf_keras."""

from __future__ import annotations

import numpy as np

from kerasmodels.backend import keras, tf


def sinusoidal_table(length: int, d_model: int) -> np.ndarray:
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)).

    >>> sinusoidal_table(4, 6).shape
    (4, 6)
    """
    pos = np.arange(length)[:, None]
    i = np.arange(d_model)[None, :]
    angle = pos / np.power(10000.0, (2 * (i // 2)) / d_model)
    table = np.where(i % 2 == 0, np.sin(angle), np.cos(angle))
    return table.astype("float32")


@keras.saving.register_keras_serializable(package="kerasmodels")
class PositionalEncoding(keras.layers.Layer):
    """Scales token embeddings by sqrt(d_model) and adds the sinusoidal position table.

    The padding mask from ``Embedding(mask_zero=True)`` passes through unchanged.
    """

    def __init__(self, max_length: int, scale: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.max_length = int(max_length)
        self.scale = bool(scale)
        self.supports_masking = True

    def build(self, input_shape):
        d_model = int(input_shape[-1])
        self.table = tf.constant(sinusoidal_table(self.max_length, d_model))
        self.factor = float(np.sqrt(d_model)) if self.scale else 1.0
        super().build(input_shape)

    def call(self, x):
        length = tf.shape(x)[1]
        return x * self.factor + self.table[tf.newaxis, :length, :]

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length, "scale": self.scale}


# Keras 3 activations tf_keras lacks (or, for hard_sigmoid, defines otherwise: tf_keras' is
# 0.2x + 0.5), each as Keras 3 defines it (keras/src/backend/tensorflow/nn.py)
def _hard_sigmoid(x):
    return tf.nn.relu6(x + 3.0) / 6.0


KERAS3_ACTIVATIONS = {
    "hard_sigmoid": _hard_sigmoid,
    "hard_silu": lambda x: x * _hard_sigmoid(x),
    "hard_swish": lambda x: x * _hard_sigmoid(x),
    "log_softmax": lambda x: tf.nn.log_softmax(x, axis=-1),
    "log_sigmoid": tf.math.log_sigmoid,
    "hard_tanh": lambda x: tf.clip_by_value(x, -1.0, 1.0),
    "celu": lambda x: tf.maximum(x, 0.0) + tf.math.expm1(tf.minimum(x, 0.0)),
    "glu": lambda x: (lambda a, b: a * tf.sigmoid(b))(*tf.split(x, 2, axis=-1)),
    "squareplus": lambda x: (x + tf.sqrt(tf.square(x) + 4.0)) / 2.0,
    "soft_shrink": lambda x: tf.where(x > 0.5, x - 0.5, tf.where(x < -0.5, x + 0.5,
                                                                 tf.zeros_like(x))),
    "hard_shrink": lambda x: tf.where(tf.abs(x) > 0.5, x, tf.zeros_like(x)),
    "tanh_shrink": lambda x: x - tf.tanh(x),
    "sparse_plus": lambda x: tf.where(x <= -1, tf.zeros_like(x),
                                      tf.where(x < 1, 0.25 * tf.square(x + 1), x)),
    "sparse_sigmoid": lambda x: tf.where(x <= -1, tf.zeros_like(x),
                                         tf.where(x >= 1, tf.ones_like(x), 0.5 * (x + 1))),
}


@keras.saving.register_keras_serializable(package="kerasmodels")
class Keras3Activation(keras.layers.Layer):
    """A Keras 3 activation that tf_keras lacks, by name (``KERAS3_ACTIVATIONS``): what a
    Keras 3 model's ``hard_silu`` (MobileNetV3), Keras 3 ``hard_sigmoid`` or ``log_softmax``
    becomes when the model is rebuilt as tf_keras.

    >>> float(Keras3Activation("hard_silu")(tf.constant([1.0]))[0])  # 1 * relu6(4) / 6
    0.6666666865348816
    """

    def __init__(self, function: str, **kwargs):
        super().__init__(**kwargs)
        if function not in KERAS3_ACTIVATIONS:
            raise ValueError(f"unknown Keras 3 activation {function!r}: one of "
                             f"{', '.join(KERAS3_ACTIVATIONS)}")
        self.function = function
        self.supports_masking = True

    def call(self, x):
        return KERAS3_ACTIVATIONS[self.function](x)

    def get_config(self):
        return {**super().get_config(), "function": self.function}


@keras.saving.register_keras_serializable(package="kerasmodels")
class LayerScale(keras.layers.Layer):
    """``x * gamma``, one learned scale per channel: ConvNeXt's layer scale (Keras 3's
    ``keras.applications.convnext.LayerScale``), for its tf_keras rebuild."""

    def __init__(self, init_values: float, projection_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.init_values = float(init_values)
        self.projection_dim = int(projection_dim)

    def build(self, input_shape):
        self.gamma = self.add_weight(name="gamma", shape=(self.projection_dim,),
                                     initializer=keras.initializers.Constant(self.init_values))
        super().build(input_shape)

    def call(self, x):
        return x * self.gamma

    def get_config(self):
        return {**super().get_config(), "init_values": self.init_values,
                "projection_dim": self.projection_dim}
