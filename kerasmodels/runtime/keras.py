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
    def input_spec(self) -> tuple[tuple[int | None, ...], str]:
        """One example's shape (None where the model takes any size) and dtype."""
        spec = self.model.inputs[0]
        return tuple(None if d is None else int(d) for d in spec.shape[1:]), spec.dtype.name

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


class SavedModelPredictor(KerasPredictor):
    """A SavedModel folder's signature (``serving_default`` unless named), whatever its input
    and output are called: read from the signature, not assumed. A TF Serving folder
    (``<dir>/<version>/``) serves its newest version. The signature is checked as an imported
    one is (no file access, no Python calls) before it runs."""

    name = "tensorflow"

    def __init__(self, path: str | Path, signature: str | None = None):
        from kerasmodels.imports.saved_model import SIGNATURE, GraphModel

        path = newest_version(Path(path))
        try:
            loaded = tf.saved_model.load(str(path))
        except Exception as exc:
            raise ModelFileError(f"{path} cannot be loaded as a SavedModel ({type(exc).__name__}):"
                                 " export it again") from None
        function = loaded.signatures.get(signature or SIGNATURE)
        specs = function.structured_input_signature[1] if function is not None else {}
        shape = next(iter(specs.values())).shape if len(specs) == 1 else None
        if shape is not None and (shape.rank is None or None in shape[1:]):
            raise ModelFileError(f"{path} takes inputs of shape {shape}: give the example shape "
                                 "with km.import_model(path, dataset) to run it")
        model = GraphModel(loaded, input_shape=tuple(shape[1:]) if shape is not None else (),
                           signature=signature or SIGNATURE, source=path)
        super().__init__(model)


def newest_version(path: Path) -> Path:
    """``path``, or its newest ``<version>/`` subfolder when it is a TF Serving folder."""
    if path.is_dir() and not (path / "saved_model.pb").is_file():
        versions = sorted((p for p in path.iterdir() if p.name.isdigit() and
                           (p / "saved_model.pb").is_file()), key=lambda p: int(p.name))
        if versions:
            return versions[-1]
    return path
