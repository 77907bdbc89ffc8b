"""Custom layers, registered so ``.keras`` files reload with ``safe_mode=True``."""

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
