"""Keras models and SavedModels behind the predictor interface."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kerasmodels.backend import tf
from kerasmodels.errors import ModelFileError
from kerasmodels.runs import check_input


def tensorflow_threads() -> int:
    """TensorFlow's intra-op threads, process-wide (its setting, or every core when left at 0)."""
    return tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count() or 1


class KerasPredictor:
    """A Keras model: one direct call per batch (``model.predict`` costs ms per call)."""

    name = "keras"

    def __init__(self, model):
        self.model = model
        self._call = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    @property
    def input_spec(self) -> tuple[tuple[int, ...], str]:
        spec = self.model.inputs[0]
        return tuple(int(d) for d in spec.shape[1:]), spec.dtype.name

    def predict(self, x, batch_size: int = 256) -> np.ndarray:
        x = check_input(x, *self.input_spec)
        return np.concatenate([np.asarray(self._call(tf.constant(x[i:i + batch_size])))
                               for i in range(0, len(x), batch_size)])

    @property
    def num_threads(self) -> int:
        return tensorflow_threads()

    def runtime_call(self, example) -> Callable[[], np.ndarray]:
        """The compiled call on one ``example`` already a tensor, output read back."""
        tensor, call = tf.constant(check_input(example, *self.input_spec)[:1]), self._call
        return lambda: call(tensor).numpy()


class SavedModelPredictor:
    """A SavedModel folder's ``serving_default`` signature."""

    name = "tensorflow"

    def __init__(self, path: str | Path):
        try:
            loaded = tf.saved_model.load(str(path))
            self._signature = loaded.signatures["serving_default"]
        except Exception as exc:
            raise ModelFileError(f"{path} cannot be loaded as a SavedModel ({type(exc).__name__}):"
                                 " export it again") from None
        self._loaded = loaded
        spec = self._signature.structured_input_signature[1]["inputs"]
        self._spec = tuple(int(d) for d in spec.shape[1:]), spec.dtype.name

    @property
    def input_spec(self) -> tuple[tuple[int, ...], str]:
        return self._spec

    def predict(self, x) -> np.ndarray:
        x = check_input(x, *self.input_spec)
        return np.asarray(self._signature(inputs=tf.constant(x))["outputs"])

    num_threads = KerasPredictor.num_threads

    def runtime_call(self, example) -> Callable[[], np.ndarray]:
        """The signature on one ``example`` already a tensor, output read back."""
        tensor, signature = tf.constant(check_input(example, *self.input_spec)[:1]), self._signature
        return lambda: signature(inputs=tensor)["outputs"].numpy()
